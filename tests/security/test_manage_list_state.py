"""Hostile text in the pending changes shown on a station's edit form (issue 15 items 2 and
5; ``/manage/stations/<id>``): each payload of :data:`security.payloads.PAYLOADS` proposed by
another editor as a field value and a reason is shown as text in the read-only notice and in
the list's review state, never as markup. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from markupsafe import escape

import support
from geo.models import Precision, Station
from geo.store.changes import ChangeStore
from security.payloads import PAYLOADS

pytestmark = pytest.mark.both_backends

PASSWORD = "correct horse battery"
RAW = ("<img", "<svg", "<script>alert", "<iframe")
USERS = {"ed": ("editor", ("450225",)), "ed2": ("editor", ("450225",))}


def _station(id_: str, **kw) -> Station:
    base = dict(
        id=id_,
        name=f"安全站{id_}",
        kind="rest_stop",
        lon=109.256,
        lat=25.066,
        precision=Precision.EXACT,
        province_code="450000",
        prefecture_code="450200",
        county_code="450225",
        county="融水苗族自治县",
    )
    return Station(**(base | kw))


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sec_manage_list_state")
    with support.workspace(request, tmp, USERS, PASSWORD, approval=True) as env:
        yield env


@pytest.mark.parametrize("text", PAYLOADS)
def test_hostile_pending_change_is_escaped_on_the_form_and_list(env, text):
    i = PAYLOADS.index(text)
    sid = f"S{i}"
    env["repo"].save([_station(sid, lon=109.256 + i * 0.001)], actor="setup", source="cli")
    ChangeStore(env["repo"]).propose(
        "edit",
        _station(sid, lon=109.256 + i * 0.001, notes=text),
        base_version=1,
        author="ed2",
        reason=text,
    )
    client = support.login(env["app"], "ed", PASSWORD)
    html = client.get(f"/manage/stations/{sid}").get_data(as_text=True)
    assert 'class="ms-pending"' in html
    for raw in RAW:
        assert raw not in html
    if text.strip():
        assert str(escape(text.strip())) in html or str(escape(text)) in html
    listed = client.get(f"/manage/stations?review=pending&q={sid}").get_data(as_text=True)
    assert "ms-review--pending" in listed
    for raw in RAW:
        assert raw not in listed
