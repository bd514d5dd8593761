"""Attacks on the registry workspace (``/manage/``): writes without the CSRF token, writes by
a role without the permission, and hostile user names and area text in its pages.

:data:`webapp.manage.WRITE_ROUTES` lists every write route with the permission it needs; each
is tried here (1) without a CSRF token by a user who has the permission, (2) with the token by
every role that lacks it, and must answer 400 / 403 and write nothing (the users, their areas
and the stations are compared before and after). Wave 2 adds its routes to that list and, when
a route needs more form fields, to :data:`FORMS`; this module then tries them too.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from markupsafe import escape

import support
from geo import access
from security.payloads import CONTROL_TEXTS, PAYLOADS
from webapp.manage import WRITE_ROUTES

pytestmark = pytest.mark.both_backends

PASSWORD = "correct horse battery"
#: One user per role (areas where the role needs one).
USERS = {
    "root": ("admin", ()),
    "rev": ("reviewer", ("450200",)),
    "ed": ("editor", ("450225",)),
    "staff1": ("staff", ("450206",)),
    "plan1": ("planner", ()),
}
#: Form fields a write route is posted with (a plausible, valid request): by endpoint.
FORMS = {
    "manage.users": {"name": "newcomer", "password": PASSWORD, "role": "admin"},
    "manage.user": {"role": "admin", "areas": ""},
    # approval (issue 15 item 5)
    "manage.approve": {"comment": "同意"},
    "manage.reject": {"comment": "不同意"},
    # review queue (issue 15 item 4)
    "manage.review_decide": {"action": "dismiss", "reason": "x"},
    # stations on a map (issue 15 items 2 and 6)
    "manage.station_new": {"name": "新站", "kind": "rest_stop", "lon": "109.256", "lat": "25.066"},
    "manage.station": {"base_version": "1", "hours": "09:00-17:00"},
    "manage.station_close": {"base_version": "1"},
    "manage.station_reopen": {"base_version": "1"},
    "manage.station_delete": {"base_version": "1"},
    "manage.station_revert": {"base_version": "1", "version": "1"},
    # upload (issue 15 item 3)
    "manage.upload": {"reason": "年度更新"},
    "manage.upload_commit": {"strict": "1"},
}


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    with support.workspace(request, tmp_path_factory.mktemp("sec_manage"), USERS, PASSWORD) as env:
        yield env


def login(env, name: str):
    return support.login(env["app"], name, PASSWORD)


def snapshot(env) -> list:
    """Everything a write route could change."""
    with env["repo"].engine.connect() as conn:
        return [
            conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY 1, 2")).all()
            for table in ("users", "user_areas", "stations", "station_changes")
        ]


def _url(path: str) -> str:
    return path.format(user="staff1")


@pytest.mark.parametrize(("endpoint", "path", "permission"), WRITE_ROUTES)
def test_write_routes_refuse_without_csrf(env, endpoint, path, permission):
    holder = next(n for n, (role, _) in USERS.items() if access.allowed(role, permission))
    client, other = login(env, holder), login(env, holder)
    before = snapshot(env)  # after the logins (they set last_login_at)
    form = FORMS.get(endpoint, {})
    for extra in ({}, {"csrf_token": "x" * 43}, {"csrf_token": ""}):
        for fmt in ("?format=json", ""):
            rv = client.post(_url(path) + fmt, data={**form, **extra})
            assert rv.status_code == 400, (endpoint, extra, rv.status_code)
    # another session's token is not this session's
    rv = client.post(_url(path) + "?format=json", data={**form, "csrf_token": other.csrf})
    assert rv.status_code == 400
    assert snapshot(env) == before


@pytest.mark.parametrize(("endpoint", "path", "permission"), WRITE_ROUTES)
def test_write_routes_refuse_without_permission(env, endpoint, path, permission):
    lacking = [n for n, (role, _) in USERS.items() if not access.allowed(role, permission)]
    assert lacking, "every permission is denied to some role"
    clients = {name: login(env, name) for name in lacking}
    before = snapshot(env)
    for name, client in clients.items():
        for fmt, accept in (("?format=json", {}), ("", {"Accept": "application/json"}), ("", {})):
            rv = client.post(
                _url(path) + fmt,
                headers=accept,
                data={**FORMS.get(endpoint, {}), "csrf_token": client.csrf},
            )
            assert rv.status_code == 403, (endpoint, name, rv.status_code)
        anonymous = env["app"].test_client()
        rv = anonymous.post(_url(path) + "?format=json", data=FORMS.get(endpoint, {}))
        assert rv.status_code == 401
    assert snapshot(env) == before


def test_every_manage_write_route_is_in_the_table(env):
    """A new POST route under /manage/ without a row in WRITE_ROUTES fails here."""
    posted = {
        rule.endpoint
        for rule in env["app"].url_map.iter_rules()
        if rule.rule.startswith("/manage/") and "POST" in (rule.methods or ())
    }
    assert posted == {endpoint for endpoint, _, _ in WRITE_ROUTES}


@pytest.mark.parametrize("text", PAYLOADS + CONTROL_TEXTS)
def test_hostile_names_and_areas_are_escaped_and_refused(env, text):
    client = login(env, "root")
    before = snapshot(env)
    for data in (
        {"name": text, "password": PASSWORD, "role": "planner"},
        {"name": "okname", "password": PASSWORD, "role": "editor", "areas": text},
        {"name": "okname", "password": PASSWORD, "role": text},
    ):
        rv = client.post("/manage/users", data={**data, "csrf_token": client.csrf})
        html = rv.get_data(as_text=True)
        assert rv.status_code == 400
        for raw in ("<img", "<svg", "<script>alert", "<iframe"):
            assert raw not in html  # the text shown back is escaped
        if data["name"] == text and text.strip():  # shown back in the form, as text
            assert 'value="' + str(escape(text)) + '"' in html or "\x00" in text
    rv = client.post(
        "/manage/users/staff1?format=json",
        data={"role": "staff", "areas": text, "csrf_token": client.csrf},
    )
    assert rv.status_code == 400 and rv.get_json()["error"]["field"] == "area"
    assert snapshot(env) == before
