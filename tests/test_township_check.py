"""Township contradictions (issue 15 item 4): stated township codes and names against the
bundled gazetteer (exact), positions against township outlines a deployment supplies
(``YIZHAN_TOWNSHIP_BOUNDARIES``), in :func:`geo.review.township_conflicts`, the review queue
(SQLite and PostgreSQL) and the import's warnings.

Codes are the gazetteer's: 融水苗族自治县 450225 (融水镇 450225100, 和睦镇 450225101, 三防镇
450225102, 四荣乡 450225202, 同练瑶族乡 450225207), 三江侗族自治县 450226 (丹洲镇 450226101).
The outlines are two adjacent boxes written to the test's folder; station points inside 融水
are drawn with a seeded generator and the county outlines.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from test_manage import PASSWORD

import support
from geo import review_queue
from geo.crs import CoordSystem
from geo.errors import ValidationError
from geo.gazetteer import default_gazetteer, load_township_outlines, use_township_outlines
from geo.models import Precision, Station
from geo.review import township_conflicts
from geo.settings import Settings

pytestmark = pytest.mark.both_backends

RONGSHUI, SANJIANG, LIUZHOU = "450225", "450226", "450200"
HEMU, RONGSHUI_TOWN, SANFANG, SIRONG, TONGLIAN = (
    "450225101",
    "450225100",
    "450225102",
    "450225202",
    "450225207",
)
DANZHOU = "450226101"
#: Two adjacent boxes: west (said to be 和睦镇), east (said to be 融水镇); shared edge at 109.2.
WEST = (109.1, 24.85, 109.2, 24.95)
EAST = (109.2, 24.85, 109.3, 24.95)


def _points_in(box, county: str, n: int, seed: int = 42) -> list[tuple[float, float]]:
    """``n`` seeded points inside ``box`` that the county outlines put in ``county``."""
    rng = random.Random(seed)
    g = default_gazetteer()
    xs = np.array([rng.uniform(box[0] + 0.005, box[2] - 0.005) for _ in range(200)])
    ys = np.array([rng.uniform(box[1] + 0.005, box[3] - 0.005) for _ in range(200)])
    inside = g.county_codes_at(xs, ys) == county
    pts = list(zip(xs[inside].tolist(), ys[inside].tolist(), strict=True))
    assert len(pts) >= n
    return pts[:n]


def _station(id_: str, lon: float, lat: float, **kw) -> Station:
    base = dict(
        id=id_,
        name=f"驿站{id_}",
        kind="rest_stop",
        lon=lon,
        lat=lat,
        orig_lon=lon,
        orig_lat=lat,
        orig_crs=CoordSystem.WGS84,
        precision=Precision.EXACT,
        province_code="450000",
        province="广西壮族自治区",
        prefecture_code=LIUZHOU,
        prefecture="柳州市",
        county_code=RONGSHUI,
        county="融水苗族自治县",
    )
    base.update(kw)
    return Station(**base)


def _box(box) -> dict:
    x0, y0, x1, y1 = box
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _outline_file(tmp: Path, features: list[tuple[dict, tuple]], name="towns.geojson") -> Path:
    """A GeoJSON of ``(properties, box)`` features."""
    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": props, "geometry": _box(box)}
            for props, box in features
        ],
    }
    path = tmp / name
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def outlines_file(tmp_path):
    return _outline_file(
        tmp_path,
        [({"乡镇代码": HEMU, "名称": "和睦镇"}, WEST), ({"乡镇代码": RONGSHUI_TOWN}, EAST)],
    )


@pytest.fixture(autouse=True)
def _no_outlines_after():
    yield
    use_township_outlines(None)  # process state: never leak into another test


# -- names and codes (exact, no geometry) ------------------------------------------------------
def test_names_and_codes_that_contradict_the_gazetteer_are_listed_with_both_sides():
    g = default_gazetteer()
    (x, y), *_ = _points_in(WEST, RONGSHUI, 1)
    found = township_conflicts(
        [
            _station("CODE", x, y, township_code=DANZHOU),  # 三江's township under 融水
            _station("NAME", x, y, township_code=HEMU, township="三防镇"),
            _station("NONE", x, y, township="丹洲镇"),  # a name of 三江, not of 融水
            _station("NOCOUNTY", x, y, county_code=None, county=None, township="丹洲"),
        ],
        g,
    )
    assert set(found) == {"CODE", "NAME", "NONE", "NOCOUNTY"}
    (code,) = found["CODE"].reasons
    assert "450226101（丹洲镇）" in code and "三江侗族自治县（450226）" in code
    assert "所述县区 融水苗族自治县（450225）" in code
    (name,) = found["NAME"].reasons
    assert "三防镇" in name and "450225101（和睦镇）" in name and "三防镇（450225102000）" in name
    assert "融水苗族自治县（450225）" in found["NONE"].reasons[0]
    # no county stated (neither code nor name): the county the coordinates are in
    assert "坐标所在县区 融水苗族自治县（450225）" in found["NOCOUNTY"].reasons[0]


def test_short_names_other_suffixes_and_unknown_or_guessed_codes_are_not_contradictions():
    g = default_gazetteer()
    (x, y), *_ = _points_in(WEST, RONGSHUI, 1)
    ok = [
        _station("FULL", x, y, township_code=HEMU + "000", township="和睦镇"),
        _station("SHORT", x, y, township_code=HEMU, township="和睦"),
        _station("SUFFIX", x, y, township_code=SIRONG, township="四荣镇"),  # 乡 → 镇
        _station("ETHNIC", x, y, township="同练乡"),  # 同练瑶族乡
        _station("UNKNOWN", x, y, township_code="450225999"),  # says nothing
        # the import filled the code (and the name) with the nearest township: not a
        # statement (a guessed code under ANOTHER stated name is reported:
        # test_workspace.test_a_stored_guess_that_contradicts_the_name_is_a_review_reason)
        _station(
            "GUESS",
            x,
            y,
            township_code=HEMU,
            township="和睦镇",
            extra={"township_source": "nearest"},
        ),
        _station("NOTOWN", x, y),
    ]
    assert township_conflicts(ok, g) == {}


# -- outlines --------------------------------------------------------------------------------------
def test_a_point_in_another_townships_outline_is_a_contradiction(outlines_file):
    g = default_gazetteer()
    outlines = load_township_outlines(outlines_file, g)
    assert outlines.column == "乡镇代码" and outlines.unknown_codes == ()
    (wx, wy), *_ = _points_in(WEST, RONGSHUI, 1)
    (ex, ey), *_ = _points_in(EAST, RONGSHUI, 1)
    stations = [
        _station("IN", wx, wy, township_code=HEMU, township="和睦镇"),
        _station("OUT", ex, ey, township_code=HEMU, township="和睦镇"),
        _station("BYNAME", ex, ey, township="和睦"),
        _station("EDGE", 109.2, 24.9, township_code=RONGSHUI_TOWN),  # on the shared edge
        _station("BEYOND", 109.05, 25.2, township_code=HEMU),  # outside every outline
    ]
    found = township_conflicts(stations, g, outlines)
    assert set(found) == {"OUT", "BYNAME"}
    (reason,) = found["OUT"].reasons
    assert "和睦镇（450225101000）" in reason and "融水镇（450225100000）" in reason
    assert "乡镇边界" in reason and found["OUT"].by_outline
    # without outlines nothing about positions is said
    assert township_conflicts(stations, g) == {}


def test_outline_files_the_check_cannot_use_are_refused_with_a_clear_error(tmp_path):
    g = default_gazetteer()
    nocode = _outline_file(tmp_path, [({"名称": "和睦镇"}, WEST)], "nocode.geojson")
    with pytest.raises(ValidationError, match="乡镇代码列"):
        load_township_outlines(nocode, g)
    blank = _outline_file(tmp_path, [({"code": HEMU}, WEST), ({"code": ""}, EAST)], "b.geojson")
    with pytest.raises(ValidationError, match="1 个边界没有有效的乡镇代码"):
        load_township_outlines(blank, g)
    with pytest.raises(ValidationError, match="无法读取"):
        load_township_outlines(tmp_path / "missing.gpkg", g)
    # codes the gazetteer does not know are kept and counted, not dropped
    odd = _outline_file(
        tmp_path,
        [({"township_code": HEMU}, WEST), ({"township_code": "450225998"}, EAST)],
        "o.geojson",
    )
    outlines = load_township_outlines(odd, g)
    assert outlines.unknown_codes == ("450225998000",) and len(outlines.frame) == 2
    # a deployment configured with a bad file refuses to start
    env = {"YIZHAN_TOWNSHIP_BOUNDARIES": str(nocode)}
    with pytest.raises(ValidationError, match="YIZHAN_TOWNSHIP_BOUNDARIES"):
        Settings.from_env(env).register_taxonomy()


def test_outlines_in_another_crs_are_converted(tmp_path):
    pyproj = pytest.importorskip("pyproj")
    to_merc = pyproj.Transformer.from_crs(4326, 3857, always_xy=True)

    def merc(box):
        x0, y0 = to_merc.transform(box[0], box[1])
        x1, y1 = to_merc.transform(box[2], box[3])
        return (x0, y0, x1, y1)

    path = _outline_file(
        tmp_path, [({"code": HEMU}, merc(WEST)), ({"code": RONGSHUI_TOWN}, merc(EAST))]
    )
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}
    path.write_text(json.dumps(doc), encoding="utf-8")
    outlines = load_township_outlines(path, default_gazetteer())
    (ex, ey), *_ = _points_in(EAST, RONGSHUI, 1)
    assert outlines.codes_at(ex, ey) == [frozenset({"450225100000"})]


# -- the import warns (never rejects) through the same check ---------------------------------------
def test_import_warns_on_township_contradictions_and_keeps_the_rows(tmp_path, outlines_file):
    from geo.records import import_registry
    from geo.store import StationRepository

    g = default_gazetteer()
    (wx, wy), (wx2, wy2) = _points_in(WEST, RONGSHUI, 2)
    (ex, ey), *_ = _points_in(EAST, RONGSHUI, 1)
    path = tmp_path / "towns.csv"
    path.write_text(
        "编号,名称,类型,省,市,县区,乡镇,乡镇代码,经度,纬度\n"
        f"A,甲驿站,驿站,广西壮族自治区,柳州市,融水,三防镇,{HEMU},{wx},{wy}\n"
        f"B,乙驿站,驿站,广西壮族自治区,柳州市,融水,和睦镇,{HEMU},{ex},{ey}\n"
        f"OK,丙驿站,驿站,广西壮族自治区,柳州市,融水,和睦,{HEMU},{wx2},{wy2}\n",
        encoding="utf-8",
    )
    repo = StationRepository.from_url(f"sqlite:///{tmp_path / 'i.db'}")
    repo.init_schema()
    use_township_outlines(outlines_file)
    report = import_registry(repo, path, gazetteer=g)
    warned = {(w.id, w.field): w.reason for w in report.warnings if w.field == "township"}
    assert set(warned) == {("A", "township"), ("B", "township")}
    assert "450225101（和睦镇）" in warned[("A", "township")]
    assert "融水镇（450225100000）" in warned[("B", "township")]
    # on a page, the warning is in the page's language (the queue's reason, by its code)
    from webapp.planner_text import reason_text

    issue = next(w for w in report.warnings if (w.id, w.field) == ("A", "township"))
    english = reason_text(issue, "en")
    assert english.startswith("the stated township contradicts") and "所述" not in english
    assert "所述" in reason_text(issue, "zh")
    assert not report.rejected and {s.id for s in repo.all()} == {"A", "B", "OK"}
    repo.engine.dispose()


def test_import_takes_a_stated_township_names_code_not_the_nearest_position(tmp_path):
    """A row naming its township without a code gets that township's code; only a row that
    names no township gets the nearest township position's (labelled as a guess). Before,
    a row at 融水镇's position naming 和睦镇 was given 融水镇's code: name and code disagreed."""
    from geo.records import import_registry
    from geo.store import StationRepository

    g = default_gazetteer()
    seat = next(d for d in g.townships_of("450225") if d.name == "融水镇")
    hemu = next(d for d in g.townships_of("450225") if d.name == "和睦镇")
    path = tmp_path / "named.csv"
    path.write_text(
        "编号,名称,类型,县区,乡镇,经度,纬度\n"
        f"N,和睦驿站,驿站,融水,和睦镇,{seat.lon},{seat.lat}\n"
        f"G,无乡镇驿站,驿站,融水,,{seat.lon + 0.001},{seat.lat}\n"
        f"U,不明乡镇驿站,驿站,融水,火星乡,{seat.lon + 0.002},{seat.lat}\n",
        encoding="utf-8",
    )
    repo = StationRepository.from_url(f"sqlite:///{tmp_path / 'n.db'}")
    repo.init_schema()
    import_registry(repo, path, gazetteer=g)
    named, guessed, unknown = repo.get("N"), repo.get("G"), repo.get("U")
    assert g.township(named.township_code) == hemu and named.township == "和睦镇"
    assert named.extra["township_source"] == "name"
    assert g.township(guessed.township_code) == seat and guessed.township == "融水镇"
    assert guessed.extra["township_source"] == "nearest"
    # A name the county has no township of gets no guessed code (it would contradict it).
    assert unknown.township == "火星乡" and not unknown.township_code
    repo.engine.dispose()


# -- the queue, on both backends -----------------------------------------------------------------
@pytest.fixture(scope="module", params=support.BACKEND_PARAMS)
def env(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("town")
    (wx, wy), *_ = _points_in(WEST, RONGSHUI, 1)
    (ex, ey), *_ = _points_in(EAST, RONGSHUI, 1)
    stations = [
        _station("T-CODE", wx, wy, township_code=DANZHOU),
        _station("T-NAME", wx, wy, township_code=HEMU, township="三防镇"),
        _station("T-OUT", ex, ey, township_code=HEMU, township="和睦镇"),
        _station("T-OK", wx, wy, township_code=HEMU, township="和睦镇"),
        _station("T-XSS", wx, wy, township='<img src=x onerror="alert(1)">镇'),
    ]
    users = {"rs_editor": ("editor", (RONGSHUI,))}
    with support.workspace(request, tmp, users, PASSWORD, stations, approval=False) as ws:
        yield ws


def _queue(env) -> dict[str, review_queue.QueueItem]:
    items = review_queue.queue(env["repo"], [RONGSHUI], default_gazetteer(), kinds=["conflict"])
    return {i.key: i for i in items}


def test_queue_lists_township_contradictions_and_says_positions_were_not_checked(env):
    use_township_outlines(None)
    items = _queue(env)
    assert set(items) == {"conflict:T-CODE", "conflict:T-NAME", "conflict:T-XSS"}
    assert "丹洲镇" in items["conflict:T-CODE"].reasons[0]
    client = support.login(env["app"], "rs_editor", PASSWORD)
    doc = client.get("/manage/review?format=json").get_json()
    assert doc["township_outlines"] is None
    assert {i["key"] for i in doc["items"]} >= {"conflict:T-CODE", "conflict:T-NAME"}
    page = client.get("/manage/review").get_data(as_text=True)
    assert "站点坐标没有按乡镇边界核对" in page
    # the stated name is the user's text: escaped in the reason
    assert "<img src=x" not in page and "&lt;img src=x" in page


def test_queue_with_outlines_lists_a_point_in_another_township(env, outlines_file):
    use_township_outlines(outlines_file)
    items = _queue(env)
    assert set(items) == {
        "conflict:T-CODE",
        "conflict:T-NAME",
        "conflict:T-OUT",
        "conflict:T-XSS",
    }
    (reason,) = items["conflict:T-OUT"].reasons
    assert "和睦镇（450225101000）" in reason and "融水镇（450225100000）" in reason
    client = support.login(env["app"], "rs_editor", PASSWORD)
    doc = client.get("/manage/review?format=json").get_json()
    assert doc["township_outlines"] == "towns.geojson"
    assert "已按部署提供的乡镇边界核对" in client.get("/manage/review").get_data(as_text=True)
    item = client.get("/manage/review/conflict:T-OUT?format=json").get_json()
    assert "融水镇（450225100000）" in json.dumps(item, ensure_ascii=False)
