"""Hostile text on the approval pages (issue 15 item 5): a proposed station's name and notes,
the author's reason, the reviewer's comment and a conflicting version's reason are shown
escaped on the queue, the change page, the conflict list and the dashboard (HTML), and as
data in the JSON twins; control characters in a reason or comment are removed before
storing (PostgreSQL text refuses NUL). On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from markupsafe import escape

import support
from geo.models import Station
from geo.store import StationRepository, UserRepository
from geo.store.changes import ChangeStore
from security.payloads import CONTROL_TEXTS, PAYLOADS

pytestmark = pytest.mark.both_backends

PASSWORD = "correct horse battery"
RAW = ("<img", "<svg", "<script>alert", "<iframe")


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sec_changes")
    with support.module_database(request, tmp) as url:
        repo = StationRepository.from_url(url)
        repo.init_schema()
        users = UserRepository(repo.engine)
        users.create("ed", PASSWORD, "editor", ["450225"])
        users.create("rev", PASSWORD, "reviewer", ["450200"])
        app = support.make_app(
            url, planner_dir=str(tmp / "jobs"), tile_url="", login_rate_per_minute=1000
        )
        yield {"repo": repo, "store": ChangeStore(repo), "app": app}
        support.close_app(app)
        repo.engine.dispose()


def login(env, name: str):
    return support.login(env["app"], name, PASSWORD)


def _station(sid: str, **kw) -> Station:
    base = dict(
        id=sid,
        name="驿站",
        kind="rest_stop",
        lon=109.25,
        lat=25.06,
        province_code="450000",
        prefecture_code="450200",
        county_code="450225",
    )
    base.update(kw)
    return Station(**base)


def _clean(html: str) -> None:
    for raw in RAW:
        assert raw not in html, raw


@pytest.mark.parametrize("n", range(len(PAYLOADS)))
def test_hostile_texts_are_escaped_on_every_approval_page(env, n):
    text = PAYLOADS[n]
    repo, store = env["repo"], env["store"]
    sid = f"X{n}"
    repo.save([_station(sid)])
    hostile = _station(sid, name=text, notes=text, lon=109.26)
    change = store.propose("edit", hostile, base_version=1, author="ed", reason=text)
    rev, ed = login(env, "rev"), login(env, "ed")
    for client, path in (
        (rev, "/manage/changes"),
        (rev, f"/manage/changes/{change.id}"),
        (rev, "/manage/"),
        (ed, "/manage/changes"),
    ):
        html = client.get(path).get_data(as_text=True)
        _clean(html)
    detail = rev.get(f"/manage/changes/{change.id}").get_data(as_text=True)
    assert str(escape(text)) in detail  # shown, as text
    data = rev.get(f"/manage/changes/{change.id}?format=json").get_json()
    assert data["change"]["reason"] == text and data["change"]["name"] == text
    # a direct change with a hostile reason: the conflict list shows it escaped
    repo.save([_station(sid, phone="1")], actor="root", source="web", reason=text)
    rv = rev.post(f"/manage/changes/{change.id}/approve", data={"csrf_token": rev.csrf})
    assert rv.status_code == 409
    _clean(rv.get_data(as_text=True))
    rv = rev.post(
        f"/manage/changes/{change.id}/reject", data={"comment": text, "csrf_token": rev.csrf}
    )
    assert rv.status_code == 303
    for client, path in (
        (rev, f"/manage/changes/{change.id}"),
        (ed, f"/manage/changes/{change.id}"),
        (ed, "/manage/changes"),  # the editor's list shows the comment
    ):
        html = client.get(path).get_data(as_text=True)
        _clean(html)
        assert str(escape(text)) in html
    assert store.get(change.id).comment == text


@pytest.mark.parametrize("text", CONTROL_TEXTS)
def test_control_characters_removed_from_reason_and_comment(env, text):
    repo, store = env["repo"], env["store"]
    sid = f"Y{CONTROL_TEXTS.index(text)}"
    repo.save([_station(sid)])
    proposed = _station(sid, phone="2")
    change = store.propose("edit", proposed, base_version=1, author="ed", reason=text)
    assert change.reason and all(ord(ch) >= 32 and ord(ch) != 127 for ch in change.reason)
    rev = login(env, "rev")
    rv = rev.post(
        f"/manage/changes/{change.id}/reject?format=json",
        data={"comment": text, "csrf_token": rev.csrf},
    )
    assert rv.status_code == 200, rv.get_data(as_text=True)
    comment = store.get(change.id).comment
    assert comment and "\x00" not in comment and "\x1b" not in comment
