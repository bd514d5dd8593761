"""The registry workspace's base (``/manage/``): login shared with the planner, the
dashboard by area, user administration by an administrator; on SQLite and PostgreSQL.

Every test logs in through the real login form (``/planner/login``) of a real app on a real
database migrated by Alembic.
"""

from __future__ import annotations

import re

import pytest

import support
from geo.models import Station, Status

pytestmark = pytest.mark.both_backends

PASSWORD = "correct horse battery"
RONGSHUI, LIUJIANG, LIUZHOU = "450225", "450206", "450200"
#: name -> (role, areas)
USERS = {
    "root": ("admin", ()),
    "rs_editor": ("editor", (RONGSHUI,)),
    "lz_reviewer": ("reviewer", (LIUZHOU,)),
    "viewer": ("staff", (LIUJIANG,)),
    "planner1": ("planner", ()),
}


def _station(id_: str, county: str, name: str, status: Status = Status.OPEN) -> Station:
    return Station(
        id=id_,
        name=f"站{id_}",
        kind="rest_stop",
        lon=109.3,
        lat=24.5,
        status=status,
        province_code="450000",
        prefecture_code=county[:4] + "00",
        county_code=county,
        county=name,
    )


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    stations = [
        _station("A", RONGSHUI, "融水苗族自治县"),
        _station("B", RONGSHUI, "融水苗族自治县", Status.CLOSED),
        _station("C", LIUJIANG, "柳江区"),
        _station("D", "450102", "兴宁区", Status.PLANNED),
    ]
    tmp = tmp_path_factory.mktemp("manage")
    with support.workspace(request, tmp, USERS, PASSWORD, stations) as env:
        yield env


def login(env, name: str):
    return support.login(env["app"], name, PASSWORD)


def test_anonymous_is_sent_to_the_planner_login(env):
    client = env["app"].test_client()
    rv = client.get("/manage/")
    assert rv.status_code == 302 and "/planner/login?next=/manage/" in rv.location
    assert client.get("/manage/?format=json").status_code == 401
    assert client.get("/manage/users", headers={"Accept": "application/json"}).status_code == 401


def test_login_sends_editors_to_manage_and_planners_to_the_planner(env):
    assert login(env, "rs_editor").next == "/manage/"
    assert login(env, "planner1").next == "/planner/"
    # an editor may not plan; a migrated planner may not use /manage/
    assert login(env, "rs_editor").get("/planner/?format=json").status_code == 403
    assert login(env, "planner1").get("/manage/?format=json").status_code == 403
    assert login(env, "root").get("/planner/?format=json").status_code == 200


def test_dashboard_counts_stations_of_my_areas(env):
    doc = login(env, "rs_editor").get("/manage/?format=json").get_json()
    assert doc["role"] == "editor" and doc["areas"][0]["code"] == RONGSHUI
    assert doc["areas"][0]["name"].endswith("融水苗族自治县")
    assert [(c["county_code"], c["open"], c["closed"]) for c in doc["counties"]] == [
        (RONGSHUI, 1, 1)
    ]
    doc = login(env, "lz_reviewer").get("/manage/?format=json").get_json()
    assert {c["county_code"] for c in doc["counties"]} == {RONGSHUI, LIUJIANG}
    assert login(env, "root").get("/manage/?format=json").get_json()["total"] == 4
    html = login(env, "viewer").get("/manage/").get_data(as_text=True)
    assert "柳江区" in html and "融水" not in html and "只读人员" in html


def test_dashboard_in_english(env):
    client = login(env, "rs_editor")
    html = client.get("/manage/?lang=en").get_data(as_text=True)
    assert "Registry workspace" in html and "Stations per county" in html
    assert "名录管理" not in re.sub(r'translate="no">[^<]*<', "", html).split("<main")[1]


def test_users_page_is_for_administrators_only(env):
    for name in ("rs_editor", "lz_reviewer", "viewer"):
        client = login(env, name)
        assert client.get("/manage/users?format=json").status_code == 403
        assert client.get("/manage/users").status_code == 403
        rv = client.post(
            "/manage/users?format=json",
            data={
                "name": "intruder",
                "password": PASSWORD,
                "role": "admin",
                "csrf_token": client.csrf,
            },
        )
        assert rv.status_code == 403 and rv.get_json()["error"]["code"] == "forbidden"
        rv = client.post(
            f"/manage/users/{name}?format=json",
            data={"role": "admin", "areas": "", "csrf_token": client.csrf},
        )
        assert rv.status_code == 403
    names = {u.name: u for u in env["users"].all()}
    assert "intruder" not in names and names["rs_editor"].role == "editor"
    assert names["viewer"].role == "staff"


def test_admin_creates_changes_and_disables_a_user(env):
    client = login(env, "root")
    listed = client.get("/manage/users?format=json").get_json()
    assert {u["name"]: u["role"] for u in listed["users"]}["lz_reviewer"] == "reviewer"
    assert "password_hash" not in str(listed)
    rv = client.post(
        "/manage/users?format=json",
        data={
            "name": "rs2",
            "password": PASSWORD,
            "role": "editor",
            "areas": f"{RONGSHUI}，450225101",
            "csrf_token": client.csrf,
        },
    )
    assert rv.status_code == 201, rv.get_json()
    assert rv.get_json()["user"]["areas"] == [RONGSHUI, "450225101000"]
    other = login(env, "rs2")
    assert other.get("/manage/?format=json").status_code == 200
    rv = client.post(
        "/manage/users/rs2?format=json",
        data={"role": "reviewer", "areas": LIUZHOU, "csrf_token": client.csrf},
    )
    assert rv.get_json()["user"]["role"] == "reviewer" and env["users"].get("rs2").areas == (
        LIUZHOU,
    )
    # the change holds from the next request of the logged-in user
    assert other.get("/manage/?format=json").get_json()["role"] == "reviewer"
    rv = client.post("/manage/users/rs2", data={"action": "disable", "csrf_token": client.csrf})
    assert rv.status_code == 303 and env["users"].get("rs2").disabled
    assert other.get("/manage/?format=json").status_code == 401  # its session ended
    env["users"].remove("rs2")


def test_admin_form_errors_write_nothing(env):
    client = login(env, "root")
    before = [u.to_dict() for u in env["users"].all()]
    for data, field in (
        ({"name": "n1", "password": PASSWORD, "role": "editor", "areas": "999999"}, "area"),
        ({"name": "n2", "password": PASSWORD, "role": "editor", "areas": ""}, "area"),
        ({"name": "n3", "password": PASSWORD, "role": "god"}, "role"),
        ({"name": "bad name", "password": PASSWORD}, "name"),
        ({"name": "n4", "password": "short"}, "password"),
    ):
        rv = client.post("/manage/users?format=json", data={**data, "csrf_token": client.csrf})
        assert rv.status_code == 400 and rv.get_json()["error"]["field"] == field, data
    rv = client.post(
        "/manage/users",
        data={
            "name": "n5",
            "password": PASSWORD,
            "role": "editor",
            "areas": "999999",
            "csrf_token": client.csrf,
        },
    )
    html = rv.get_data(as_text=True)
    assert rv.status_code == 400 and "999999" in html and 'value="n5"' in html
    for data in ({"action": "disable"}, {"role": "editor", "areas": RONGSHUI}):
        rv = client.post("/manage/users/root?format=json", data={**data, "csrf_token": client.csrf})
        assert rv.status_code == 400  # not oneself
    assert (
        client.post(
            "/manage/users/ghost?format=json", data={"role": "admin", "csrf_token": client.csrf}
        ).status_code
        == 404
    )
    assert [u.to_dict() for u in env["users"].all()] == before


def test_users_page_html(env):
    html = login(env, "root").get("/manage/users").get_data(as_text=True)
    assert "用户管理" in html and "融水苗族自治县" in html and "审核员" in html
    assert 'name="csrf_token"' in html and 'href="/manage/users"' in html
