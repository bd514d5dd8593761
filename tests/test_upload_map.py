"""The upload preview's map (issue 15 item 3, wave 3): every previewed row with a position is
a marker of its class, a changed row that moves keeps where it was, the legend's counts are
the table's, and a large upload draws at most :data:`webapp.manage.upload_map.MAX_MARKERS`
markers and says how many it left off. A real CSV through ``/manage/upload`` on a real app, on
SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import re
from html import unescape

import pytest
import sqlalchemy as sa
from test_upload import KIND, LJ, OPEN, PASSWORD, RS, SEED, USERS, write_csv

import support
from geo.gazetteer import default_gazetteer
from geo.records import import_registry
from webapp.manage import upload_map

pytestmark = pytest.mark.both_backends

#: One row of each class; RS-1 moves about 700 m east (changed, with its old position).
ROWS = [
    [*SEED[0][:5], "109.2500", "25.0628", *SEED[0][7:]],  # changed: moved
    SEED[1],  # unchanged
    ["RS-NEW", "融水新建驿站", KIND, *RS, "109.2300", "25.0500", "", OPEN],  # new
    ["RS-BAD", "坏行驿站", KIND, *RS, "abc", "25.0500", "", OPEN],  # rejected: no position
    ["LJ-NEW", "柳江新建驿站", KIND, *LJ, "109.3134", "24.2534", "", OPEN],  # outside
]


@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("upload-map")
    settings = {"instance_path": str(tmp / "instance"), "approval": False}
    with support.workspace(request, tmp, USERS, PASSWORD, **settings) as env:
        repo = env["repo"]
        with repo.transaction() as conn:
            conn.execute(sa.text("DELETE FROM stations"))
        import_registry(
            repo, write_csv(tmp / "seed.csv", SEED), gazetteer=default_gazetteer(), actor="seed"
        )
        yield env


def _preview_page(env, rows, name="upload.csv") -> str:
    client = support.login(env["app"], "rs_editor", PASSWORD)
    data = write_csv(env["tmp"] / name, rows).read_bytes()
    rv = client.post(
        "/manage/upload",
        data={"registry": (io.BytesIO(data), name), "reason": "核对", "csrf_token": client.csrf},
        content_type="multipart/form-data",
    )
    assert rv.status_code == 303, rv.get_data(as_text=True)
    page = client.get(rv.headers["Location"])
    assert page.status_code == 200
    return page.get_data(as_text=True)


def _config(html: str) -> dict:
    found = re.search(
        r'<script type="application/json" id="mg-upload-config">(.*?)</script>', html, re.S
    )
    assert found, "no map configuration on the page"
    return json.loads(found.group(1))


def _table_counts(html: str) -> dict[str, int]:
    box = html.split('id="mg-upload-counts"', 1)[1].split("</ul>", 1)[0]
    return {
        k: int(n) for k, n in re.findall(r'data-class="(\w+)">.*?<strong>(\d+)</strong>', box, re.S)
    }


def test_every_row_with_a_position_is_a_marker_of_its_class(env):
    html = _preview_page(env, ROWS)
    cfg = _config(html)
    table = _table_counts(html)
    assert table == {"new": 1, "changed": 1, "unchanged": 1, "rejected": 1, "outside": 1}
    by_class = {p["k"]: p for p in cfg["points"]}
    assert sorted(by_class) == ["changed", "new", "outside", "unchanged"]
    for kind, n in table.items():
        c = cfg["counts"][kind]
        assert c["rows"] == n and c["drawn"] + c["missing"] == n
    assert cfg["counts"]["rejected"] == {"rows": 1, "drawn": 0, "missing": 1, "left_off": 0}
    moved = by_class["changed"]
    assert (moved["id"], moved["lon"], moved["lat"]) == ("RS-1", 109.25, 25.0628)
    assert moved["before"] == [109.2432, 25.0628]
    assert by_class["unchanged"]["before"] is None
    assert (by_class["outside"]["lon"], by_class["outside"]["lat"]) == (109.3134, 24.2534)
    # the marker's key names its table row
    for p in cfg["points"]:
        assert f'id="mg-row-{p["k"]}-{p["i"]}"' in html
    legend = html.split('id="mg-upload-legend"', 1)[1].split("</ul>", 1)[0]
    drawn = dict(re.findall(r'data-class="(\w+)" data-drawn="(\d+)"', legend))
    assert drawn == {"new": "1", "changed": "1", "unchanged": "1", "rejected": "0", "outside": "1"}
    assert "1 行无坐标" in unescape(legend)
    assert "js/manage/upload.js" in html and "vendor/leaflet/leaflet.js" in html
    assert 'id="mg-upload-not-drawn"' not in html


def test_the_json_twin_carries_the_rows_positions(env):
    client = support.login(env["app"], "rs_editor", PASSWORD)
    data = write_csv(env["tmp"] / "twin.csv", ROWS).read_bytes()
    rv = client.post(
        "/manage/upload?format=json",
        data={
            "registry": (io.BytesIO(data), "twin.csv"),
            "reason": "核对",
            "csrf_token": client.csrf,
        },
        content_type="multipart/form-data",
    )
    items = {r["id"]: r for r in rv.get_json()["items"]}
    assert (items["RS-1"]["lon"], items["RS-1"]["lat"]) == (109.25, 25.0628)
    assert items["RS-1"]["changes"]["lon"] == [109.2432, 109.25]
    assert items["RS-BAD"]["lon"] is None


def test_a_large_upload_draws_at_most_the_cap_and_says_how_many_are_left_off(env, monkeypatch):
    monkeypatch.setattr(upload_map, "MAX_MARKERS", 3)
    rows = [
        [f"RS-MANY-{i}", f"融水批量驿站{i}", KIND, *RS, f"109.{2000 + 7 * i}", "25.0400", "", OPEN]
        for i in range(8)
    ]
    html = _preview_page(env, [*ROWS, *rows], "many.csv")
    cfg = _config(html)
    assert len(cfg["points"]) == 3 and cfg["limit"] == 3
    # the moving and new rows first, the unchanged last
    assert [p["k"] for p in cfg["points"]] == ["changed", "new", "new"]
    assert cfg["notDrawn"] == 12 - 3  # 1 changed, 9 new, 1 outside, 1 unchanged located
    note = html.split('id="mg-upload-not-drawn"', 1)[1].split("</p>", 1)[0]
    assert 'data-n="9"' in note and "另有 9 行未在地图上画出（最多画 3 个）" in unescape(note)


def test_an_upload_without_positions_has_no_map(env):
    html = _preview_page(env, [ROWS[3]], "bad.csv")
    assert 'id="mg-upload-map"' not in html and "leaflet.js" not in html
