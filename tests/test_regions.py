"""One region resolver (geo.regions): codes and names to units, outlines and bounds."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from geo import regions as R
from geo.demand import EQUAL_AREA_CRS
from geo.errors import ValidationError
from geo.gazetteer import default_gazetteer

LIUZHOU = "450200"
RONGSHUI = "450225"  # 融水苗族自治县
RONGSHUI_TOWN = "450225100000"  # 融水镇, the county seat, has a position
LIUZHOU_COUNTIES = {
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


@pytest.fixture(scope="module")
def gaz():
    return default_gazetteer()


def area_km2(geom) -> float:
    return float(gpd.GeoSeries([geom], crs=4326).to_crs(EQUAL_AREA_CRS).area.iloc[0] / 1e6)


def reason(excinfo) -> str:
    return excinfo.value.details["reason"]


# ------------------------------------------------------------------------------------------
# resolve_region: codes


@pytest.mark.parametrize(
    ("value", "code", "level"),
    [
        ("450225", RONGSHUI, "county"),
        (450225, RONGSHUI, "county"),
        ("450225000000", RONGSHUI, "county"),  # 12-digit form of a county
        ("450200", LIUZHOU, "prefecture"),
        ("450000", "450000", "province"),
        (RONGSHUI_TOWN, RONGSHUI_TOWN, "township"),
        ("450225100", RONGSHUI_TOWN, "township"),  # NBS 9-digit township code
        ("４５０２２５", RONGSHUI, "county"),  # full-width digits
        ("'450225", RONGSHUI, "county"),  # Excel text prefix
        (" 450225.0 ", RONGSHUI, "county"),  # spreadsheet float, spaces
    ],
)
def test_resolve_region_by_code(value, code, level):
    region = R.resolve_region(value)
    assert (region.code, region.level) == (code, level)


def test_region_carries_its_full_name():
    region = R.resolve_region(RONGSHUI_TOWN)
    assert region.name == "融水镇"
    assert region.full_name == "广西壮族自治区柳州市融水苗族自治县融水镇"
    assert region.to_dict() == {
        "code": RONGSHUI_TOWN,
        "name": "融水镇",
        "full_name": "广西壮族自治区柳州市融水苗族自治县融水镇",
        "level": "township",
    }


def test_unknown_code():
    with pytest.raises(ValidationError, match="no admin unit has the code 459999") as e:
        R.resolve_region("459999")
    assert reason(e) == "unknown_code"
    assert e.value.field == "region"


def test_empty_value():
    for value in (None, "", "  ", "'"):
        with pytest.raises(ValidationError) as e:
            R.resolve_region(value, field="area")
        assert reason(e) == "empty"
        assert e.value.field == "area"


def test_level_refused():
    counties_up = ("province", "prefecture", "county")
    with pytest.raises(ValidationError, match="融水镇 is a township") as e:
        R.resolve_region(RONGSHUI_TOWN, levels=counties_up)
    assert reason(e) == "level"
    assert e.value.details["level"] == "township"
    # A township named where only counties and up are allowed is no such unit.
    with pytest.raises(ValidationError) as e:
        R.resolve_region("融水镇", levels=counties_up)
    assert reason(e) == "unknown_name"


# ------------------------------------------------------------------------------------------
# resolve_region: names


def test_resolve_region_by_full_name():
    assert R.resolve_region("融水苗族自治县").code == RONGSHUI
    assert R.resolve_region("柳州市").code == LIUZHOU


def test_short_name_means_the_county_not_its_seat(gaz):
    # 融水 names both the county and its seat 融水镇; the county contains the town.
    assert {d.code for d in gaz.lookup("融水")} == {RONGSHUI, RONGSHUI_TOWN}
    region = R.resolve_region("融水")
    assert (region.code, region.level) == (RONGSHUI, "county")


def test_former_name(gaz):
    # 横县 became 横州市 (450181) in 2021; the gazetteer keeps the former name.
    assert "横县" in gaz.frame.loc[gaz.frame["code"] == "450181", "former_names"].iloc[0]
    assert R.resolve_region("横县").code == "450181"


def test_ambiguous_name_lists_candidates_with_codes():
    with pytest.raises(ValidationError, match="give the code") as e:
        R.resolve_region("朝阳区")
    assert reason(e) == "ambiguous"
    candidates = e.value.details["candidates"]
    assert {c["code"] for c in candidates} == {"110105", "220104"}
    assert {"code": "110105", "name": "北京市朝阳区"} in candidates
    assert "北京市朝阳区 110105" in str(e.value)
    assert "220104" in str(e.value)
    assert e.value.to_dict()["error"]["candidates"] == candidates


def test_unknown_name():
    with pytest.raises(ValidationError, match="unknown admin unit '火星市'") as e:
        R.resolve_region("火星市")
    assert reason(e) == "unknown_name"


# ------------------------------------------------------------------------------------------
# Outlines and bounds


def test_region_polygon_is_the_union_of_its_counties(gaz):
    poly = R.region_polygon(LIUZHOU)
    counties = R.region_counties(LIUZHOU)
    assert set(counties["code"]) == LIUZHOU_COUNTIES
    county_sum = sum(area_km2(g) for g in counties.geometry)
    assert area_km2(poly) == pytest.approx(county_sum, rel=1e-6)
    assert 17_000 < area_km2(poly) < 20_000  # 柳州市 is about 18,600 km²
    pref = gpd.read_parquet(gaz.data_dir / "prefectures.parquet")
    outline = pref.loc[pref["code"] == LIUZHOU].geometry.iloc[0]
    assert area_km2(poly.symmetric_difference(outline)) < 1e-3
    # A province is the union of its prefectures' counties too.
    assert R.region_polygon("450000").contains(poly.representative_point())
    assert R.resolve_region(LIUZHOU).polygon().equals(poly)


def test_region_polygon_errors():
    with pytest.raises(ValidationError, match="unknown admin code 459999"):
        R.region_polygon("459999")
    with pytest.raises(ValidationError, match="township"):
        R.region_polygon("450202001")
    with pytest.raises(ValidationError, match="township"):
        R.region_polygon(RONGSHUI_TOWN)
    with pytest.raises(ValidationError, match="6-digit"):
        R.region_polygon("柳州")


def test_outline_code():
    assert R.outline_code("450200000000") == LIUZHOU
    assert R.outline_code("'４５０２００") == LIUZHOU
    with pytest.raises(ValidationError, match="use the county 450225") as e:
        R.outline_code("450225100", field="region")
    assert e.value.field == "region"


def test_bounds_of_counties_and_prefectures_come_from_outlines():
    for code in (RONGSHUI, LIUZHOU):
        b = R.region_bounds(code)
        expected = R.region_counties(code).total_bounds
        assert b == pytest.approx(list(expected), abs=1e-5)
        assert R.resolve_region(code).bounds() == b
    pref = R.region_bounds(LIUZHOU)
    county = R.region_bounds(RONGSHUI)
    assert pref[0] <= county[0] and pref[1] <= county[1]
    assert pref[2] >= county[2] and pref[3] >= county[3]


def test_bounds_of_a_township_come_from_its_position(gaz):
    town = gaz.get(RONGSHUI_TOWN)
    pad = R.TOWNSHIP_PAD_DEG
    b = R.region_bounds(RONGSHUI_TOWN)
    assert b == pytest.approx(
        [town.lon - pad, town.lat - pad, town.lon + pad, town.lat + pad], abs=1e-5
    )
    assert R.region_bounds("450225100") == b  # the 9-digit code too
    assert R.region_bounds("459999") is None


# ------------------------------------------------------------------------------------------
# as_region_geometry


def test_as_region_geometry_from_code_and_region():
    poly = R.region_polygon(RONGSHUI)
    assert R.as_region_geometry(RONGSHUI).equals(poly)
    assert R.as_region_geometry(450225).equals(poly)
    assert R.as_region_geometry(R.resolve_region("融水")).equals(poly)


def test_as_region_geometry_from_a_geoseries_in_another_crs():
    poly = shapely.box(109.0, 25.0, 109.2, 25.2)
    series = gpd.GeoSeries([poly], crs=4326).to_crs(EQUAL_AREA_CRS)
    geom = R.as_region_geometry(series)
    assert geom.geom_type == "Polygon"
    assert geom.bounds == pytest.approx(poly.bounds, abs=1e-6)
    frame = gpd.GeoDataFrame(geometry=series)
    assert R.as_region_geometry(frame).bounds == pytest.approx(poly.bounds, abs=1e-6)


def test_as_region_geometry_keeps_the_polygons_of_a_collection():
    a, b = shapely.box(0, 0, 1, 1), shapely.box(2, 0, 3, 1)
    mixed = shapely.GeometryCollection(
        [a, shapely.Point(5, 5), b, shapely.LineString([(0, 0), (9, 9)])]
    )
    geom = R.as_region_geometry(mixed)
    assert geom.geom_type == "MultiPolygon"
    assert geom.area == pytest.approx(2.0)


def test_as_region_geometry_refuses_non_polygons():
    with pytest.raises(ValidationError, match="non-empty polygon, not Point"):
        R.as_region_geometry(shapely.Point(109, 25))
    with pytest.raises(ValidationError, match="non-empty polygon"):
        R.as_region_geometry(shapely.GeometryCollection([shapely.Point(1, 1)]))
    with pytest.raises(ValidationError, match="6-digit admin code or a WGS-84 polygon"):
        R.as_region_geometry([109, 25])


def test_as_region_geometry_repairs_invalid_polygons():
    bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    assert not bowtie.is_valid
    geom = R.as_region_geometry(bowtie)
    assert geom.is_valid and geom.area == pytest.approx(0.5)


# ------------------------------------------------------------------------------------------
# Issue 11 item 12: the whole country (100000) is a region


@pytest.mark.parametrize("value", ["100000", "100000000000", "全国", "中国", "中华人民共和国"])
def test_the_whole_country_is_a_region(value):
    region = R.resolve_region(value)
    assert region.code == R.NATIONAL_CODE and region.level == "country"
    assert region.full_name == "中华人民共和国" and region.has_outline


def test_the_whole_country_can_be_refused_by_level():
    with pytest.raises(ValidationError, match="whole country") as e:
        R.resolve_region("100000", levels=("province", "county"))
    assert reason(e) == "level"


def test_national_outline_is_the_union_of_every_county(gaz):
    counties = R.region_counties("100000")
    assert len(counties) == len(gaz.counties)
    outline = R.region_polygon("100000")
    assert R.region_polygon("100000") is outline  # cached
    # Beijing, Liuzhou, Urumqi, Harbin, Lhasa inside; Seoul and Hanoi outside
    inside = shapely.contains_xy(
        outline, [116.40, 109.41, 87.62, 126.63, 91.13], [39.90, 24.33, 43.83, 45.75, 29.65]
    )
    assert inside.all()
    assert not shapely.contains_xy(outline, [126.98, 105.85], [37.57, 21.03]).any()
    x0, _, x1, y1 = R.region_bounds("100000")
    assert 73 < x0 < 74 and 135 < x1 < 136 and 53 < y1 < 54
