"""Roles and areas (geo.access), the user store's roles and areas (migration 0007_roles) and
the ``yizhan user`` verbs, on SQLite and PostgreSQL.

Codes are the bundled gazetteer's (GB/T 2260): 融水苗族自治县 450225 and 柳江区 450206 are
counties of 柳州市 450200; 融水镇 450225100000 and 和睦镇 450225101000 are towns of 融水.
"""

from __future__ import annotations

import os
import random

import pytest
import sqlalchemy as sa

from geo import access
from geo.access import Role
from geo.errors import NotFound, ValidationError
from geo.models import Station, Status
from geo.store import StationRepository, UserRepository
from geo.store.repository import MIGRATIONS
from support import cli

pytestmark = pytest.mark.both_backends

PASSWORD = "correct horse battery"
RONGSHUI, LIUJIANG, LIUZHOU, GUANGXI = "450225", "450206", "450200", "450000"
RONGSHUI_TOWN, HEMU_TOWN = "450225100000", "450225101000"


def station(id_: str, county: str, township: str | None = None, **kw) -> Station:
    return Station(
        id=id_,
        name=f"站{id_}",
        kind="rest_stop",
        lon=109.25,
        lat=25.07,
        province_code=county[:2] + "0000",
        prefecture_code=county[:4] + "00",
        county_code=county,
        township_code=township,
        **kw,
    )


class _U:
    def __init__(self, role: str, areas: tuple[str, ...]) -> None:
        self.role, self.areas = role, areas


# ------------------------------------------------------------------ geo.access (no database)


def test_county_editor_covers_its_county_and_not_the_next():
    rongshui, liujiang = station("A", RONGSHUI), station("B", LIUJIANG)
    editor = _U("editor", (RONGSHUI,))
    assert access.covers(RONGSHUI, rongshui) and access.user_covers(editor, rongshui)
    assert not access.covers(RONGSHUI, liujiang) and not access.user_covers(editor, liujiang)


def test_prefecture_and_province_cover_all_their_counties():
    rongshui, liujiang = station("A", RONGSHUI), station("B", LIUJIANG)
    reviewer = _U("reviewer", (LIUZHOU,))
    assert access.user_covers(reviewer, rongshui) and access.user_covers(reviewer, liujiang)
    assert access.covers(GUANGXI, liujiang)
    nanning = station("N", "450102")
    assert not access.user_covers(reviewer, nanning) and access.covers(GUANGXI, nanning)


def test_township_areas_in_9_and_12_digits():
    town12 = station("T1", RONGSHUI, RONGSHUI_TOWN)
    town9 = station("T2", RONGSHUI, RONGSHUI_TOWN[:9])  # the NBS short form a row may give
    other = station("T3", RONGSHUI, HEMU_TOWN)
    bare = station("T4", RONGSHUI)  # no township: a township user does not cover it
    for area in (RONGSHUI_TOWN, RONGSHUI_TOWN[:9]):
        assert access.covers(area, town12) and access.covers(area, town9)
        assert not access.covers(area, other) and not access.covers(area, bare)
    assert access.covers(RONGSHUI, other)  # the county covers its towns


def test_no_areas_cover_everything_and_filters():
    rng = random.Random(42)
    counties = [RONGSHUI, LIUJIANG, "450102", "450203"]
    stations = [station(f"R{i}", rng.choice(counties)) for i in range(200)]
    assert access.filter_to_areas(stations, []) == stations
    mine = access.filter_to_areas(stations, [RONGSHUI, "450102"])
    assert mine == [s for s in stations if s.county_code in (RONGSHUI, "450102")]
    assert access.user_covers(_U("planner", ()), stations[0])
    assert not access.covers("", stations[0])


def test_area_codes_are_checked_against_the_gazetteer():
    assert access.area_code(" 450225 ") == RONGSHUI
    assert access.area_code(RONGSHUI_TOWN[:9]) == RONGSHUI_TOWN  # stored in 12 digits
    assert access.area_level(RONGSHUI) == "county"
    assert access.area_level(LIUZHOU) == "prefecture"
    assert access.area_level(GUANGXI) == "province"
    assert access.area_level(RONGSHUI_TOWN) == "township"
    assert access.area_name(RONGSHUI) == "广西壮族自治区柳州市融水苗族自治县"
    for bad in ("999999", "融水", "", "100000", "45022510000099"):
        with pytest.raises(ValidationError) as err:
            access.area_code(bad)
        assert err.value.field == "area"
    with pytest.raises(ValidationError, match="999999"):
        access.area_code("999999")


def test_permission_table():
    assert access.allowed("admin", "manage_users")
    assert not any(access.allowed(r, "manage_users") for r in ("reviewer", "editor", "staff"))
    assert access.allowed("reviewer", "review") and access.allowed("reviewer", "edit")
    assert not access.allowed("editor", "review") and access.allowed("editor", "edit")
    assert access.allowed("planner", "plan") and not access.allowed("planner", "view_manage")
    assert access.PERMISSIONS[Role.STAFF] == {"view_manage"}
    assert not access.allowed("root", "edit")
    with pytest.raises(ValueError):
        access.allowed("admin", "fly")
    assert access.parse_role("审核员") is Role.REVIEWER
    with pytest.raises(ValidationError, match="unknown role"):
        access.parse_role("superuser")


# ------------------------------------------------------------------ the store (both backends)


def test_users_have_roles_and_areas(repo):
    users = UserRepository(repo.engine)
    ed = users.create("ed", PASSWORD, "editor", [RONGSHUI, RONGSHUI])
    assert (ed.role, ed.areas) == ("editor", (RONGSHUI,)) and ed.can("edit")
    assert users.create("pl", PASSWORD).role == "planner"  # the default role
    for role, areas in (("editor", []), ("reviewer", []), ("staff", []), ("editor", ["999999"])):
        with pytest.raises(ValidationError, match="area"):
            users.create("x" + role, PASSWORD, role, areas)
    assert [u.name for u in users.all()] == ["ed", "pl"]  # nothing written by the refusals
    changed = users.set_role("ed", "reviewer", add_areas=[LIUZHOU], remove_areas=[RONGSHUI])
    assert (changed.role, changed.areas) == ("reviewer", (LIUZHOU,))
    with pytest.raises(ValidationError):  # the last area of a reviewer cannot go
        users.set_role("ed", remove_areas=[LIUZHOU])
    with pytest.raises(ValidationError):
        users.set_role("ed", "nobody")
    assert users.get("ed").areas == (LIUZHOU,)
    assert users.set_role("ed", "admin", areas=[]).areas == ()
    with pytest.raises(NotFound):
        users.set_role("ghost", "admin")
    users.set_role("ed", "staff", areas=[RONGSHUI_TOWN[:9], GUANGXI])
    assert users.get("ed").areas == (GUANGXI, RONGSHUI_TOWN)
    users.remove("ed")
    with repo.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM user_areas")).scalar() == 0


def test_county_status_counts_by_area(repo):
    repo.save(
        [
            station("A", RONGSHUI, RONGSHUI_TOWN),
            station("B", RONGSHUI, HEMU_TOWN[:9], status=Status.CLOSED),
            station("C", LIUJIANG),
            station("D", "450102", status=Status.PLANNED),
        ]
    )
    by = {r["county_code"]: r for r in access.county_status_counts(repo.engine, [RONGSHUI])}
    assert list(by) == [RONGSHUI] and (by[RONGSHUI]["open"], by[RONGSHUI]["closed"]) == (1, 1)
    rows = access.county_status_counts(repo.engine, [LIUZHOU])
    assert [r["county_code"] for r in rows] == [LIUJIANG, RONGSHUI]
    town = access.county_status_counts(repo.engine, [HEMU_TOWN])  # the 9-digit row too
    assert [(r["county_code"], r["closed"], r["total"]) for r in town] == [(RONGSHUI, 1, 1)]
    everything = access.county_status_counts(repo.engine, [])
    assert sum(r["total"] for r in everything) == 4
    assert {r["county_code"]: r["planned"] for r in everything}["450102"] == 1


def test_migration_0007_keeps_old_users_as_planners(db_url):
    """A 0006 database with a user in it: after the upgrade the user is a planner without
    areas, still logs in, and its password and sessions are unchanged."""
    from alembic import command
    from alembic.config import Config

    from geo.store.users import hash_password

    repo = StationRepository.from_url(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with repo.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006_postgis")
    with repo.engine.begin() as conn:  # a user as 0006 stored it (no role column yet)
        conn.execute(
            sa.text(
                "INSERT INTO users (name, password_hash, disabled, created_at, session_version)"
                " VALUES ('old', :h, :f, :t, 3)"
            ),
            {"h": hash_password(PASSWORD), "f": False, "t": "2026-12-01 08:00:00"},
        )
    assert "role" not in {c["name"] for c in sa.inspect(repo.engine).get_columns("users")}
    assert repo.init_schema() >= "0007_roles"
    users = UserRepository(repo.engine)
    old = users.get("old")
    assert (old.role, old.areas, old.session_version) == ("planner", (), 3)
    assert old.can("plan") and not old.can("view_manage")
    assert users.verify("old", PASSWORD) is not None
    assert users.session_valid("old", 3) is not None
    with repo.engine.begin() as conn:  # downgrade works too (and upgrade again)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006_postgis")
    assert not sa.inspect(repo.engine).has_table("user_areas")
    repo.init_schema()
    assert users.get("old").role == "planner"
    repo.engine.dispose()


# ------------------------------------------------------------------ the CLI (a real process)


def test_cli_user_add_list_set(db_url):
    env = {**os.environ, "YIZHAN_DATABASE_URL": db_url}
    cli("init-db", env=env)

    import subprocess
    import sys

    from support import ROOT

    def add_with(name, *args):
        return subprocess.run(
            [sys.executable, "-m", "webapp.cli", "user", "add", name, *args, "--password-stdin"],
            cwd=ROOT,
            env=env,
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            timeout=120,
        )

    ok = add_with("ed", "--role", "editor", "--area", RONGSHUI, "--area", HEMU_TOWN[:9])
    assert ok.returncode == 0, ok.stderr
    assert add_with("pl").returncode == 0
    bad = add_with("x", "--role", "editor", "--area", "999999")
    assert bad.returncode != 0 and "999999" in bad.stderr and "无效" in bad.stderr
    none = add_with("y", "--role", "reviewer")
    assert none.returncode != 0 and "area" in none.stderr
    listed = cli("user", "list", env=env).stdout.splitlines()
    assert listed[0].startswith("ed\teditor\t") and "融水苗族自治县" in listed[0]
    assert "和睦镇" in listed[0] and HEMU_TOWN in listed[0]
    assert listed[1].startswith("pl\tplanner\t(all areas)")
    assert len(listed) == 2  # the refused users were not created
    out = cli(
        "user",
        "set",
        "ed",
        "--role",
        "reviewer",
        "--area",
        LIUZHOU,
        "--remove-area",
        RONGSHUI,
        env=env,
    ).stdout
    assert "reviewer" in out and "柳州市" in out
    refused = cli("user", "set", "ed", "--clear-areas", env=env, check=False)
    assert refused.returncode != 0 and "area" in refused.stderr
    assert (
        cli("user", "set", "ed", "--role", "staff", "--area", "12", env=env, check=False).returncode
        != 0
    )
    assert UserRepository(StationRepository.from_url(db_url).engine).get("ed").areas == (
        LIUZHOU,
        HEMU_TOWN,
    )
