"""Hostile station names, addresses and reasons in the registry workspace's station pages
(``/manage/stations``, its edit page, history and conflict view; issue 15 items 2 and 6):
shown as text, never as markup, and never inside the page's JSON config as executable
script. Each payload of :data:`security.payloads.PAYLOADS` is stored through the workspace
itself (:func:`geo.workspace.submit`) and read back in every page. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from markupsafe import escape

import support
from geo.store import StationRepository, UserRepository
from geo.workspace import submit
from security.payloads import LAYOUT_TEXTS, PAYLOADS

pytestmark = pytest.mark.both_backends

PASSWORD = "correct horse battery"
RAW = ("<img", "<svg", "<script>alert", "<iframe")


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sec_manage_stations")
    with support.module_database(request, tmp) as url:
        repo = StationRepository.from_url(url)
        repo.init_schema()
        users = UserRepository(repo.engine)
        users.create("ed", PASSWORD, "editor", ["450225"])
        app = support.make_app(
            url, planner_dir=str(tmp / "jobs"), tile_url="", login_rate_per_minute=1000
        )
        yield {"repo": repo, "users": users, "app": app}
        support.close_app(app)
        repo.engine.dispose()


def login(env):
    return support.login(env["app"], "ed", PASSWORD)


def _no_markup(html: str) -> None:
    for raw in RAW:
        assert raw not in html
    # the JSON config block cannot be closed early by data
    if 'id="ms-config">' in html:
        config = html.split('id="ms-config">', 1)[1].split("</script>", 1)[0]
        assert "<" not in config


@pytest.mark.parametrize("text", PAYLOADS + LAYOUT_TEXTS[:3])
def test_hostile_station_text_is_escaped_in_list_edit_and_history(env, text):
    user = env["users"].get("ed")
    i = (PAYLOADS + LAYOUT_TEXTS).index(text)
    lon = 109.256 + i * 0.001  # one station per payload, apart from each other
    done = submit(
        env["repo"],
        user,
        "create",
        None,
        {
            "name": f"驿站{i} {text}",
            "kind": "rest_stop",
            "lon": str(lon),
            "lat": "25.066",
            "address": text,
            "notes": text,
        },
        base_version=0,
        reason=text,
    )
    assert done.written, done.errors
    sid = done.station.id
    client = login(env)
    edit = submit(env["repo"], user, "edit", sid, {"hours": text}, base_version=1, reason=text)
    assert edit.written
    pages = {
        "list": client.get("/manage/stations?q=" + str(i)).get_data(as_text=True),
        "edit": client.get(f"/manage/stations/{sid}").get_data(as_text=True),
        "history": client.get(f"/manage/stations/{sid}/history").get_data(as_text=True),
    }
    # a conflict view shows the other user's change (the hostile hours) back
    rv = client.post(
        f"/manage/stations/{sid}",
        data={"csrf_token": client.csrf, "base_version": "1", "phone": "0772-1"},
    )
    assert rv.status_code == 409
    pages["conflict"] = rv.get_data(as_text=True)
    for name, html in pages.items():
        _no_markup(html)
        if name != "list" and text.strip() and "\u2028" not in text:
            assert str(escape(text)) in html, name
