"""Station writes from the registry workspace (issue 15 item 2, :func:`geo.workspace.submit`):
the import's validator and duplicate check, areas before and after a change, typed GCJ-02 /
BD-09 coordinates stored as WGS-84 with the original kept, the version check, soft delete
and revert. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses

import pytest

from geo import crs
from geo.errors import Forbidden
from geo.models import Station
from geo.records import validate_rows
from geo.records.read import RawRow
from geo.store.users import User
from geo.workspace import all_systems, submit

pytestmark = pytest.mark.both_backends

RONGSHUI, SANJIANG = "450225", "450226"
#: A point in 融水 (450225) and one in 三江 (450226), WGS-84 (checked with the gazetteer).
IN_RONGSHUI = (109.256, 25.066)
IN_SANJIANG = (109.60, 25.78)


def _user(name: str, role: str, *areas: str) -> User:
    return User(
        name=name,
        disabled=False,
        created_at=None,  # type: ignore[arg-type]
        password_changed_at=None,
        last_login_at=None,
        role=role,
        areas=tuple(areas),
    )


EDITOR = _user("rs_ed", "editor", RONGSHUI)
ADMIN = _user("root", "admin")


def _fields(**kw) -> dict:
    base = {
        "name": "融水职工驿站",
        "kind": "rest_stop",
        "lon": str(IN_RONGSHUI[0]),
        "lat": str(IN_RONGSHUI[1]),
        "crs": "wgs84",
        "phone": "0772-5123456",
    }
    base.update(kw)
    return base


def _create(repo, user=EDITOR, **kw):
    return submit(repo, user, "create", None, _fields(**kw), base_version=0, reason="新建")


def test_create_fills_the_county_from_the_point_and_records_who(repo):
    done = _create(repo)
    assert done.ok and done.written, done.errors
    s = done.station
    assert s.county_code == RONGSHUI and s.prefecture_code == "450200"
    (v,) = repo.history(s.id)
    assert (v.actor, v.source, v.reason, v.action) == ("rs_ed", "web", "新建", "create")


@pytest.mark.parametrize(
    ("field", "value"),
    [("kind", "飞机场"), ("phone", "电话：abc"), ("name", ""), ("lon", "东经")],
)
def test_a_bad_field_gets_the_import_validators_message(repo, field, value):
    """The same validator: the message next to the field is the one import reports."""
    done = _create(repo, **{field: value})
    _, report = validate_rows([RawRow(1, {**_fields(**{field: value}), "id": "X"})])
    expected = {i.field: i.reason for i in report.rejected + report.warnings}
    assert field in expected
    shown = done.errors.get(field) or done.warnings.get(field)
    assert shown is not None and shown.endswith(expected[field])
    if field == "phone":  # a warning in import: the station is saved, the warning shown
        assert done.written
    else:
        assert not done.written and repo.count() == 0


def test_the_import_duplicate_check_applies(repo):
    assert _create(repo).written
    near = f"{IN_RONGSHUI[0] + 0.0001:.5f}"  # about 10 m away, same name
    again = _create(repo, lon=near, id="OTHER")
    assert not again.written and "duplicate" in again.errors["name"]
    assert repo.count() == 1


def test_out_of_area_create_and_move_are_refused_with_nothing_written(repo):
    with pytest.raises(Forbidden):
        _create(repo, lon=str(IN_SANJIANG[0]), lat=str(IN_SANJIANG[1]))
    assert repo.count() == 0
    s = _create(repo).station
    with pytest.raises(Forbidden):  # moving it into 三江
        submit(
            repo,
            EDITOR,
            "edit",
            s.id,
            {"lon": str(IN_SANJIANG[0]), "lat": str(IN_SANJIANG[1]), "crs": "wgs84"},
            base_version=s.version,
            reason="",
        )
    assert repo.get(s.id) == s and len(repo.history(s.id)) == 1
    # a station of 三江 cannot be touched by the 融水 editor at all
    other = _create(repo, ADMIN, name="三江驿站", lon=str(IN_SANJIANG[0]), lat=str(IN_SANJIANG[1]))
    assert other.station.county_code == SANJIANG
    for action in ("edit", "close", "delete"):
        with pytest.raises(Forbidden):
            submit(repo, EDITOR, action, other.station.id, {}, base_version=1, reason="")
    # and a read-only user writes nothing anywhere
    with pytest.raises(Forbidden):
        submit(repo, _user("v", "staff", RONGSHUI), "close", s.id, {}, base_version=1, reason="")
    assert repo.get(other.station.id).version == 1


def test_a_typed_gcj02_coordinate_is_stored_in_wgs84_with_the_original_kept(repo):
    gx, gy = crs.wgs84_to_gcj02(*IN_RONGSHUI)
    done = _create(repo, lon=f"{gx:.7f}", lat=f"{gy:.7f}", crs="gcj02")
    s = done.station
    wx, wy = crs.gcj02_to_wgs84(float(f"{gx:.7f}"), float(f"{gy:.7f}"))
    assert s.lon == pytest.approx(wx, abs=1e-7) and s.lat == pytest.approx(wy, abs=1e-7)
    assert (s.orig_lon, s.orig_lat, s.orig_crs) == (float(f"{gx:.7f}"), float(f"{gy:.7f}"), "gcj02")
    # moving it by a BD-09 coordinate keeps that one as the original
    bx, by = crs.wgs84_to_bd09(IN_RONGSHUI[0] + 0.01, IN_RONGSHUI[1])
    moved = submit(
        repo,
        EDITOR,
        "edit",
        s.id,
        {"lon": str(bx), "lat": str(by), "crs": "bd09"},
        base_version=s.version,
        reason="百度坐标",
    ).station
    assert moved.lon == pytest.approx(IN_RONGSHUI[0] + 0.01, abs=1e-6)
    assert (moved.orig_crs, moved.orig_lon) == ("bd09", bx)
    (_, last) = repo.history(s.id)
    assert set(last.changes) >= {"lon", "orig_crs"}


def test_gcj02_against_an_independent_published_pair(repo):
    """coordtransform (wandergis, MIT) README: wgs84togcj02(116.404, 39.915) =
    (116.41024449916938, 39.91640428150164); gcj02tobd09(116.404, 39.915) =
    (116.41036949371029, 39.92133699351022)."""
    done = _create(
        repo,
        ADMIN,
        name="北京测试站",
        lon="116.41024449916938",
        lat="39.91640428150164",
        crs="gcj02",
    )
    assert done.station.lon == pytest.approx(116.404, abs=2e-6)
    assert done.station.lat == pytest.approx(39.915, abs=2e-6)
    three = all_systems(116.404, 39.915, "gcj02")
    assert three["bd09"] == pytest.approx([116.41036949371029, 39.92133699351022], abs=1e-6)
    assert three["gcj02"] == [116.404, 39.915]


def test_an_unchanged_position_keeps_the_original_coordinate(repo):
    gx, gy = crs.wgs84_to_gcj02(*IN_RONGSHUI)
    s = _create(repo, lon=str(gx), lat=str(gy), crs="gcj02").station
    fields = {"lon": str(s.lon), "lat": str(s.lat), "crs": "wgs84", "hours": "09:00-17:00"}
    done = submit(repo, EDITOR, "edit", s.id, fields, base_version=s.version, reason="")
    assert done.written and done.station.orig_crs == "gcj02" and done.station.lon == s.lon
    assert set(repo.history(s.id)[-1].changes) == {"hours"}


def test_a_stale_base_version_is_a_conflict_with_what_changed(repo):
    s = _create(repo).station
    first = submit(repo, ADMIN, "edit", s.id, {"hours": "08:00-18:00"}, base_version=1, reason="a")
    assert first.written and first.version == 2
    stale = submit(repo, EDITOR, "edit", s.id, {"phone": "0772-1111111"}, base_version=1, reason="")
    assert not stale.written and stale.conflict is not None
    (change,) = stale.conflict.details["changes"]
    assert change["actor"] == "root" and change["fields"] == ["hours"]
    assert repo.get(s.id).phone == "0772-5123456"
    assert stale.to_dict()["conflict"]["code"] == "conflict"


def test_close_reopen_soft_delete_and_revert(repo):
    s = _create(repo).station
    closed = submit(repo, EDITOR, "close", s.id, {}, base_version=1, reason="停业")
    assert closed.station.status == "closed"
    reopened = submit(repo, EDITOR, "reopen", s.id, {}, base_version=2, reason="复业")
    assert reopened.station.status == "open"
    gone = submit(repo, EDITOR, "delete", s.id, {}, base_version=3, reason="重复录入")
    assert gone.written and repo.get(s.id) is None
    actions = [v.action for v in repo.history(s.id)]
    assert actions == ["create", "close", "reopen", "delete"]
    back = repo.revert(s.id, 3, actor="rs_ed", reason="误删", expected_version=4)
    assert back is not None and repo.get(s.id) == dataclasses.replace(
        reopened.station, updated_at=repo.get(s.id).updated_at
    )


def test_all_systems_uses_geo_crs():
    three = all_systems(*IN_RONGSHUI)
    assert three["gcj02"] == pytest.approx(list(crs.wgs84_to_gcj02(*IN_RONGSHUI)), abs=1e-7)
    assert three["bd09"] == pytest.approx(list(crs.wgs84_to_bd09(*IN_RONGSHUI)), abs=1e-7)
    assert isinstance(Station, type)


def _town(name: str):
    from geo.gazetteer import default_gazetteer

    g = default_gazetteer()
    return next(d for d in g.townships_of(RONGSHUI) if d.name == name)


def test_a_township_name_edited_gets_its_own_code_not_the_old_guess(repo):
    """The import guessed the township from the position (nearest, labelled so); an editor
    corrects the name without moving the station: the code follows the new name. Before,
    the guessed code stayed, and the record published a name and a code of two townships
    while the township check (which skips guesses) said nothing."""
    from geo.gazetteer import default_gazetteer
    from geo.review import township_conflict

    seat = _town("融水镇")
    done = _create(repo, lon=str(seat.lon + 0.002), lat=str(seat.lat))
    s = done.station
    assert s.township == "融水镇" and s.extra.get("township_source") == "nearest"
    other = _town("四荣乡")
    fields = {"township": "四荣乡", "lon": str(s.lon), "lat": str(s.lat)}
    done = submit(repo, EDITOR, "edit", s.id, fields, base_version=s.version, reason="乡镇更正")
    assert done.ok and done.written, done.errors
    s = repo.get(s.id)
    assert s.township == "四荣乡" and s.township_code[:9] == other.code[:9]
    assert s.extra.get("township_source") == "name"
    assert not township_conflict(s, default_gazetteer()).reasons


def test_a_moved_station_gets_the_new_points_township_not_the_old_guess_as_stated(repo):
    """The form sends back the township the import guessed for the old point; after a move
    that guess is not promoted to a stated name: the new point gets its own nearest."""
    seat, hemu = _town("融水镇"), _town("和睦镇")
    s = _create(repo, lon=str(seat.lon + 0.002), lat=str(seat.lat)).station
    assert s.township == "融水镇" and s.extra.get("township_source") == "nearest"
    fields = {"township": "融水镇", "lon": str(hemu.lon + 0.002), "lat": str(hemu.lat)}
    done = submit(repo, EDITOR, "edit", s.id, fields, base_version=s.version, reason="移位")
    assert done.ok and done.written, done.errors
    s = repo.get(s.id)
    assert s.township == "和睦镇" and s.township_code[:9] == hemu.code[:9]
    assert s.extra.get("township_source") == "nearest"


def test_a_stored_guess_that_contradicts_the_name_is_a_review_reason():
    """Records imported before a stated name took precedence carry a guessed code of
    another township: the township check reports it (the public API publishes both)."""
    from geo.gazetteer import default_gazetteer
    from geo.review import township_conflict

    seat, hemu = _town("融水镇"), _town("和睦镇")
    s = Station(
        id="G1",
        name="旧导入驿站",
        kind="rest_stop",
        lon=seat.lon,
        lat=seat.lat,
        county_code=RONGSHUI,
        township="和睦镇",
        township_code=seat.code,
        extra={"township_source": "nearest"},
    )
    found = township_conflict(s, default_gazetteer())
    assert [r.code for r in found.details] == ["township_guess_name"]
    assert "和睦镇" in found.reasons[0] and seat.name in found.reasons[0]
    assert hemu.code  # the name names a real township of the county


def test_a_township_editor_renaming_to_an_unknown_township_gets_a_field_error(repo):
    """A township's editor renames the station's township to a name the county has none of:
    the township code cannot follow the name, so the station would leave the editor's area.
    A field error next to 乡镇 says why (before: a bare 403); nothing is written."""
    seat = _town("融水镇")
    s = _create(repo, ADMIN, lon=str(seat.lon + 0.002), lat=str(seat.lat)).station
    town_editor = _user("town_ed", "editor", s.township_code)
    fields = {"township": "火星乡", "lon": str(s.lon), "lat": str(s.lat)}
    done = submit(repo, town_editor, "edit", s.id, fields, base_version=s.version, reason="改名")
    assert not done.written and "township" in done.errors
    assert done.issues["township"].code == "township_not_found"
    assert repo.get(s.id).township == "融水镇"
