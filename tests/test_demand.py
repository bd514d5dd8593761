"""Demand cells and sources (geo.demand), on small real files written by the tests."""

from __future__ import annotations

import itertools
import json

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer

from geo import demand as D
from geo.errors import ValidationError
from geo.gazetteer import default_gazetteer
from geo.regions import region_polygon
from support import ROOT

LIUZHOU = "450200"
YUFENG = "450203"  # 鱼峰区, about 850 km²
CHENGZHONG = "450202"  # 城中区
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
NODATA = -99999.0


@pytest.fixture(scope="module")
def gaz():
    return default_gazetteer()


@pytest.fixture(scope="module")
def yufeng():
    return region_polygon(YUFENG)


@pytest.fixture(scope="module")
def yufeng_h3():
    return D.h3_cells(YUFENG, 8)


@pytest.fixture(scope="module")
def yufeng_grid():
    return D.grid_cells(YUFENG, 1000)


@pytest.fixture(scope="module")
def liuzhou_h3():
    return D.h3_cells(LIUZHOU, 7)


def area_km2(geom) -> float:
    return float(gpd.GeoSeries([geom], crs=4326).to_crs(D.EQUAL_AREA_CRS).area.iloc[0] / 1e6)


def from_origin(west, north, xsize, ysize) -> Affine:
    """North-up transform (rasterio's ``from_origin`` warns under affine 2.5+)."""
    return Affine(xsize, 0.0, west, 0.0, -ysize, north)


def write_raster(path, values, transform, crs, nodata=None):
    h, w = values.shape
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=h,
        width=w,
        count=1,
        dtype=values.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as dst:
        dst.write(values, 1)
    return path


def pixel_centres(transform, shape):
    cols, rows = np.meshgrid(np.arange(shape[1]) + 0.5, np.arange(shape[0]) + 0.5)
    t = transform
    return t.a * cols + t.b * rows + t.c, t.d * cols + t.e * rows + t.f


# ------------------------------------------------------------------------------------------
# Cells


def test_h3_cells_match_h3_and_area(yufeng, yufeng_h3):
    cells = yufeng_h3
    assert cells.crs.equals("EPSG:4326")
    reference = set(h3.h3shape_to_cells(h3.geo_to_h3shape(yufeng), 8))
    assert set(cells["cell_id"]) == reference
    expected = area_km2(yufeng) / h3.average_hexagon_area(8, "km^2")
    assert len(cells) == pytest.approx(expected, rel=0.05)
    # Centres are the H3 centres and lie in the region; codes filled.
    lat, lon = h3.cell_to_latlng(cells["cell_id"].iloc[0])
    assert (cells["lon"].iloc[0], cells["lat"].iloc[0]) == pytest.approx((lon, lat))
    assert shapely.contains_xy(yufeng, cells["lon"], cells["lat"]).all()
    assert (cells["county_code"] == YUFENG).all()
    assert cells["township_code"].str.startswith(YUFENG).all()
    assert cells.attrs["cells"] == "H3 resolution 8"


def test_h3_cells_guards():
    with pytest.raises(ValidationError, match="0-15"):
        D.h3_cells(YUFENG, 16)
    with pytest.raises(ValidationError, match="coarser"):
        D.h3_cells("450000", 12)


def test_grid_cells_tile_the_region(yufeng, yufeng_grid):
    cells = yufeng_grid
    region_area = area_km2(yufeng)
    # (rel 1e-5: the module densifies outlines before projecting, this helper does not)
    assert cells["area_km2"].sum() == pytest.approx(region_area, rel=1e-5)
    assert cells["cell_id"].is_unique
    assert cells["area_km2"].max() == pytest.approx(1.0, rel=1e-9)
    # Roughly area / cell area, plus the partial cells along the border.
    assert region_area <= len(cells) <= region_area * 1.3
    union = shapely.union_all(cells.geometry.to_numpy())
    assert area_km2(union) == pytest.approx(region_area, rel=1e-4)
    assert shapely.contains_xy(yufeng, cells["lon"], cells["lat"]).all()
    with pytest.raises(ValidationError, match="larger cells"):
        D.grid_cells("450000", 100)


def test_assign_admin(gaz, liuzhou_h3):
    stripped = liuzhou_h3.drop(columns=["county_code", "township_code"])
    cells = D.assign_admin(stripped)
    expected = gaz.county_codes_at(cells["lon"], cells["lat"])
    assert (cells["county_code"].to_numpy() == expected).all()
    assert set(cells["county_code"]) == LIUZHOU_COUNTIES
    # The township is the nearest positioned township of the county (spot check).
    row = cells.iloc[len(cells) // 2]
    ref = gaz.reverse_township(row["lon"], row["lat"], row["county_code"])
    assert row["township_code"] == ref.code


# ------------------------------------------------------------------------------------------
# (a) rasters


@pytest.fixture(scope="module")
def wgs84_raster(tmp_path_factory, yufeng):
    """0.004° pixels over the western half of 鱼峰区 and beyond; two nodata pixels."""
    transform = from_origin(109.40, 24.35, 0.004, 0.004)
    values = (np.arange(60 * 70, dtype="float32").reshape(60, 70) % 97) + 1
    values[5, 5] = values[30, 40] = NODATA
    path = write_raster(
        tmp_path_factory.mktemp("r") / "pop4326.tif", values, transform, "EPSG:4326", NODATA
    )
    xs, ys = pixel_centres(transform, values.shape)
    inside = shapely.contains_xy(yufeng, xs, ys) & (values != NODATA)
    return path, transform, values, float(values[inside].sum())


@pytest.mark.parametrize("method", ["rasterize", "points"])
def test_raster_wgs84_grid_cells_exact(wgs84_raster, yufeng_grid, method):
    path, transform, values, expected = wgs84_raster
    d = D.from_raster(path, yufeng_grid, method=method)
    assert d.unit == "population"
    assert d.total() == pytest.approx(expected, rel=1e-12)
    # Each grid cell holds exactly the pixels whose centre lies in it.
    xs, ys = pixel_centres(transform, values.shape)
    ok = values != NODATA
    pts = shapely.points(xs[ok], ys[ok])
    tree = shapely.STRtree(yufeng_grid.geometry.to_numpy())
    src, cell = tree.query(pts, predicate="within")
    want = np.bincount(cell, weights=values[ok][src], minlength=len(yufeng_grid))
    np.testing.assert_allclose(d.cells["demand"].to_numpy(), want)
    assert d.stats["window_total"] >= d.total()
    assert d.stats["window_total"] <= values[values != NODATA].sum()
    assert d.stats["nodata_pixels_in_region"] >= 1
    assert any("nodata" in w for w in d.warnings)
    assert any("covers only" in w for w in d.warnings)  # the raster misses the east half
    assert "in the window read" in d.source


@pytest.mark.parametrize("method", ["rasterize", "points"])
def test_raster_wgs84_h3_cells(wgs84_raster, yufeng_h3, method):
    path, _, _, expected = wgs84_raster
    d = D.from_raster(path, yufeng_h3, method=method)
    assert d.total() == pytest.approx(expected, rel=1e-12)
    assert (d.cells["demand"] >= 0).all()
    # Border pixels outside every hexagon went to a neighbour and are reported.
    assert d.stats["border_pixels"] > 0
    assert any("border ribbon" in w for w in d.warnings)
    assert list(d.cells.columns[:7]) == list(D.CELL_COLUMNS)


def test_raster_utm(tmp_path, yufeng, yufeng_h3, yufeng_grid):
    to_utm = Transformer.from_crs(4326, 32649, always_xy=True)
    x0, y0 = to_utm.transform(109.40, 24.35)
    transform = from_origin(round(x0), round(y0), 500, 500)
    values = (np.arange(50 * 60, dtype="float64").reshape(50, 60) % 89) + 0.5
    path = write_raster(tmp_path / "pop32649.tif", values, transform, "EPSG:32649")
    xs, ys = pixel_centres(transform, values.shape)
    lon, lat = Transformer.from_crs(32649, 4326, always_xy=True).transform(xs, ys)
    expected = float(values[shapely.contains_xy(yufeng, lon, lat)].sum())
    assert expected > 10_000
    sums = {}
    for cells, method in itertools.product((yufeng_h3, yufeng_grid), ("rasterize", "points")):
        d = D.from_raster(path, cells, method=method)
        assert d.total() == pytest.approx(expected, rel=1e-12)
        sums.setdefault(len(cells), []).append(d.cells["demand"].to_numpy())
        assert d.stats["raster_crs"] == "EPSG:32649"
        assert "transformed into the raster CRS" in d.source
    for a, b in sums.values():  # both methods put every pixel in the same cell
        np.testing.assert_allclose(a, b)


def test_raster_without_crs_is_refused(tmp_path, yufeng_grid):
    values = np.ones((10, 10), dtype="float32")
    path = write_raster(tmp_path / "nocrs.tif", values, from_origin(109.4, 24.3, 0.01, 0.01), None)
    with pytest.raises(ValidationError, match="no coordinate system"):
        D.from_raster(path, yufeng_grid)


def test_raster_elsewhere_is_refused(tmp_path, yufeng_grid):
    values = np.ones((10, 10), dtype="float32")
    path = write_raster(
        tmp_path / "beijing.tif", values, from_origin(116.3, 40.0, 0.01, 0.01), "EPSG:4326"
    )
    with pytest.raises(ValidationError, match="does not overlap") as exc:
        D.from_raster(path, yufeng_grid)
    assert "116.3000" in exc.value.message and "109.3991" in exc.value.message


# ------------------------------------------------------------------------------------------
# (b) admin tables


def test_admin_table_counties(tmp_path, liuzhou_h3):
    pops = {code: 100_000.0 + 1_000 * i for i, code in enumerate(sorted(LIUZHOU_COUNTIES))}
    lines = ["区划代码,名称,常住人口（人）"]
    lines += [f'{code},县{i},"{int(v):,}"' for i, (code, v) in enumerate(pops.items())]
    lines += [
        f"{LIUZHOU},柳州市,{int(sum(pops.values()))}",  # a subtotal row
        "450299,旧区,5000",
        "450298,旧县,6000",
        "450102,兴宁区,400000",  # Nanning: outside the region
        ",,",  # blank row
        "合计,,99",
    ]
    path = tmp_path / "pop.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    d = D.from_admin_table(path, liuzhou_h3)
    assert d.unit == "population"
    assert d.total() == pytest.approx(sum(pops.values()))
    per_county = d.cells.groupby("county_code")["demand"].sum()
    for code, value in pops.items():
        assert per_county[code] == pytest.approx(value)
    # Spread in proportion to area: equal-area cells of one county hold equal demand.
    one = d.cells[d.cells["county_code"] == "450222"]
    density = one["demand"] / one["area_km2"]
    assert density.max() == pytest.approx(density.min())
    text = "\n".join(d.warnings)
    assert "3 table rows had unknown codes: 450299, 450298, 合计" in text
    assert "1 table units have no cell in the region (400,000 people not placed): 450102" in text
    assert "1 rows are subtotals" in text and LIUZHOU in text
    assert d.stats["unknown_rows"] == 3


def test_admin_table_unit_larger_than_the_region(liuzhou_h3):
    """A province row over a prefecture's cells places only the prefecture's area share."""
    table = pd.DataFrame({"code": ["450000"], "population": ["50000000"]})
    d = D.from_admin_table(table, liuzhou_h3)
    share = area_km2(region_polygon(LIUZHOU)) / area_km2(region_polygon("450000"))
    assert d.total() == pytest.approx(50e6 * share, rel=1e-4)
    assert any("partly outside the region" in w for w in d.warnings)
    # Units inside the region keep their whole population.
    inner = pd.DataFrame({"code": ["450200"], "population": ["4000000"]})
    assert D.from_admin_table(inner, liuzhou_h3).total() == pytest.approx(4e6)


def test_admin_table_townships_xlsx(tmp_path, gaz):
    cells = D.h3_cells(CHENGZHONG, 9)
    towns = [d for d in gaz.units if d.level == "township" and d.county_code == CHENGZHONG]
    pops = {d.code[:9]: 10_000.0 * (i + 1) for i, d in enumerate(towns)}  # 9-digit codes
    frame = pd.DataFrame({"Code": list(pops), "Population": list(pops.values())})
    path = tmp_path / "towns.xlsx"
    frame.to_excel(path, index=False)
    d = D.from_admin_table(path, cells)
    assert d.total() == pytest.approx(sum(pops.values()))
    own = set(cells["township_code"])
    without = [d.code for d in towns if d.code not in own]
    assert without  # some townships of 城中区 have no position
    assert any(w.startswith(f"{len(without)} townships have no cell") for w in d.warnings)
    per_town = d.cells.groupby("township_code")["demand"].sum()
    for town in towns:
        if town.code in own:  # its own population, plus a share of the fallbacks
            assert per_town[town.code] >= pops[town.code[:9]] - 1e-6


def test_admin_table_bad_population_names_the_row(tmp_path, liuzhou_h3):
    path = tmp_path / "bad.csv"
    path.write_text("code,population\n450202,1000\n450203,2000\n450204,many\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"row 4 \(code 450204\).*'many'"):
        D.from_admin_table(path, liuzhou_h3)
    path.write_text("代码,人口\n450202,-5\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"row 2 \(code 450202\)"):
        D.from_admin_table(path, liuzhou_h3)


def test_admin_table_nothing_matches(tmp_path, liuzhou_h3):
    path = tmp_path / "none.csv"
    path.write_text("code,population\n999999,1\n888888,2\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="none of the 2 rows has a known admin code"):
        D.from_admin_table(path, liuzhou_h3)
    path.write_text("code,population\n450102,1\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="has a cell in the region"):
        D.from_admin_table(path, liuzhou_h3)
    path.write_text("编号,数量\n450202,1\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="no code column"):
        D.from_admin_table(path, liuzhou_h3)


def test_admin_table_units_and_duplicates(tmp_path, liuzhou_h3):
    path = tmp_path / "wan.csv"
    path.write_text("区划代码,常住人口(万人)\n450202,12.5\n450202,12.5\n", encoding="gb18030")
    d = D.from_admin_table(path, liuzhou_h3)
    assert d.total() == pytest.approx(125_000)
    assert any("duplicate" in w for w in d.warnings)
    path.write_text("区划代码,常住人口\n450202,1\n450202,2\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="rows 2 and 3"):
        D.from_admin_table(path, liuzhou_h3)


# ------------------------------------------------------------------------------------------
# (c) points


def test_points_csv(tmp_path, gaz):
    path = tmp_path / "factories.csv"
    path.write_text(
        "名称,经度,纬度,人数\n"
        "柳工,109.4100,24.3260,1200\n"
        "柳城厂,109.2400,24.6500,300\n"
        "南宁厂,108.3200,22.8200,999\n"
        "空厂,109.4300,24.3000,0\n",
        encoding="utf-8",
    )
    d = D.from_points(path, LIUZHOU)
    assert d.unit == "population"
    assert d.total() == 1500
    assert list(d.cells["name"]) == ["柳工", "柳城厂", "空厂"]
    assert list(d.cells["cell_id"]) == ["p2", "p3", "p5"]
    assert (d.cells.geometry.geom_type == "Point").all()
    expected = gaz.county_codes_at(d.cells["lon"], d.cells["lat"])
    assert list(d.cells["county_code"]) == list(expected)
    assert d.cells["county_code"].iloc[1] == "450222"
    for county, town in zip(d.cells["county_code"], d.cells["township_code"], strict=True):
        assert town.startswith(county)
    assert d.warnings == ["1 points outside the region were dropped (rows 4)"]
    # Declared GCJ-02: shifted back to WGS-84 by a few hundred metres.
    g = D.from_points(path, LIUZHOU, crs="gcj02")
    assert 0.001 < abs(g.cells["lon"].iloc[0] - 109.41) < 0.01


def test_points_geojson_and_errors(tmp_path):
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [109.41, 24.326]},
            "properties": {"name": "园区A", "weight": 2.5},
        },
        {
            "type": "Feature",
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[109.5, 24.3], [109.52, 24.3], [109.52, 24.32], [109.5, 24.3]]],
            },
            "properties": {"name": "园区B", "weight": 1},
        },
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [116.4, 39.9]},
            "properties": {"name": "北京", "weight": 7},
        },
    ]
    path = tmp_path / "parks.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    d = D.from_points(path, LIUZHOU)
    assert d.unit == "weight"
    assert d.total() == 3.5
    assert "1 points outside the region were dropped (features 3)" in d.warnings
    assert any("polygon features" in w for w in d.warnings)
    # Without a region, only points outside every county are dropped: Beijing stays.
    assert D.from_points(path).total() == 10.5
    features[0]["properties"]["weight"] = "lots"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    with pytest.raises(ValidationError, match="feature 1: weight 'lots'"):
        D.from_points(path, LIUZHOU)
    bad = tmp_path / "bad.csv"
    bad.write_text("lon,lat\n109.4,24.3\nabc,24.3\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="row 3: bad coordinates"):
        D.from_points(bad)
    nocols = tmp_path / "nocols.csv"
    nocols.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="longitude and latitude"):
        D.from_points(nocols)


def test_points_refuse_two_coordinate_columns_and_match_spaced_headers(tmp_path):
    # Read by the one table reader (geo.tables): two longitude columns are refused, not
    # silently resolved to the first; full-width and spaced headers still match.
    twice = tmp_path / "twice.csv"
    twice.write_text("经度,lon,纬度\n109.41,100.0,24.33\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"more than one coordinate column.*经度, lon"):
        D.from_points(twice)
    spaced = tmp_path / "spaced.csv"
    spaced.write_text("名称, 经 度 ,ＬＡＴ,职工人数\n柳工,109.41,24.326,12\n", encoding="utf-8")
    d = D.from_points(spaced, LIUZHOU)
    assert d.unit == "population" and d.total() == 12


# ------------------------------------------------------------------------------------------
# (d) seats


def test_admin_seats(gaz):
    frame = gaz.frame
    towns = frame[(frame["level"] == "township") & (frame["prefecture_code"] == LIUZHOU)]
    positioned = int(towns["lon"].notna().sum())
    assert 0 < positioned < len(towns)
    d = D.from_admin_seats(LIUZHOU)
    assert d.unit == "units"
    assert d.total() == positioned == len(d.cells)
    assert set(d.cells["county_code"]) <= LIUZHOU_COUNTIES
    assert (d.cells["cell_id"] == d.cells["township_code"]).all()
    assert d.warnings[0].startswith(f"{len(towns) - positioned} of {len(towns)} townships")
    # Nothing is dropped: the townships without a position are kept as unknown.
    assert len(d.unplaced) == len(towns) - positioned
    assert (d.unplaced["position_source"] == "unknown").all()
    assert set(d.cells["cell_id"]) | set(d.unplaced["cell_id"]) == set(towns["code"])
    assert d.unplaced_total() == len(towns) - positioned
    units = d.units()
    assert len(units) == len(towns) and units["placed"].sum() == positioned
    counties = D.from_admin_seats(LIUZHOU, level="county")
    assert counties.total() == 10
    with pytest.raises(ValidationError, match="unknown admin code"):
        D.from_admin_seats("459999")


def test_to_geojson():
    d = D.from_admin_seats(CHENGZHONG)
    fc = json.loads(json.dumps(d.to_geojson()))
    assert fc["type"] == "FeatureCollection"
    assert len(fc["features"]) == len(d.cells)
    props = fc["features"][0]["properties"]
    assert {"cell_id", "lon", "lat", "demand", "county_code", "township_code"} <= set(props)
    assert fc["demand"]["unit"] == "units" and fc["demand"]["total"] == d.total()
    # 城中区's townships without a position are named, not dropped.
    assert [u["code"] for u in fc["demand"]["unplaced"]] == list(d.unplaced["cell_id"])
    assert len(fc["features"]) + len(fc["demand"]["unplaced"]) == len(d.units())


# ------------------------------------------------------------------------------------------
# Units without a position: registry stations, a planner's township table


DINGBIAN = "610825"
BAISE = "451000"
DEMO_REGISTRY = ROOT / "data" / "demo" / "stations.csv"
SHANGZHOU = "611002"


def _demo_rows():
    import csv

    with open(DEMO_REGISTRY, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_admin_seats_placed_at_their_registry_stations():
    """商州区城关街道 (611002001000) has no bundled position; the demo registry has rest stops
    carrying its code: the township sits at their median (read here from the CSV, not
    through geo)."""
    from geo.records import read_registry

    stations = read_registry(DEMO_REGISTRY)[0]
    own = [r for r in _demo_rows() if r["乡镇代码"] == "611002001000"]
    assert len(own) >= 2 and {r["坐标系"].lower() for r in own} <= {"wgs84", ""}
    without = D.from_admin_seats(SHANGZHOU)
    assert "611002001000" in set(without.unplaced["cell_id"])
    d = D.from_admin_seats(SHANGZHOU, stations=stations)
    row = d.cells.set_index("cell_id").loc["611002001000"]
    assert row["position_source"] == "registry_stations"
    assert row["lon"] == pytest.approx(float(np.median([float(r["经度"]) for r in own])))
    assert row["lat"] == pytest.approx(float(np.median([float(r["纬度"]) for r in own])))
    assert len(d.cells) + len(d.unplaced) == len(without.cells) + len(without.unplaced)
    assert len(d.unplaced) == len(without.unplaced) - 1
    # A station far outside the township's county does not place it.
    from geo.models import Station

    stray = Station("X1", "stray", "rest_stop", lon=109.4, lat=24.3, township_code="610825104000")
    d2 = D.from_admin_seats(DINGBIAN, stations=[*stations, stray])
    assert "610825104000" in set(d2.unplaced["cell_id"])
    assert any("median lies outside the county" in w for w in d2.warnings)


def _random_point_in(polygon, rng):
    x0, y0, x1, y1 = polygon.bounds
    while True:
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if polygon.contains(shapely.Point(x, y)):
            return round(x, 6), round(y, 6)


def test_township_table_places_and_weights_units_and_reports_bad_rows(tmp_path):
    import random

    from geo.demand.points import read_township_table

    rng = random.Random(42)
    gaz = default_gazetteer()
    towns = [d for d in gaz.units if d.level == "township" and d.prefecture_code == BAISE]
    unplaced = [d for d in towns if d.lon is None]
    assert len(unplaced) > 10
    rows = ["乡镇代码,乡镇名称,经度,纬度,常住人口"]
    expected_pos, expected_pop = {}, {}
    for i, d in enumerate(unplaced[:8]):
        x, y = _random_point_in(region_polygon(d.county_code), rng)
        pop = rng.randint(1000, 90000)
        code = d.code if i % 2 else ""  # half by code, half by name
        name = "" if i % 2 else d.name
        if not i % 2 and len([t for t in towns if t.name == d.name]) > 1:
            code, name = d.code, ""
        rows.append(f"{code},{name},{x},{y},{pop}")
        expected_pos[d.code], expected_pop[d.code] = (x, y), pop
    placed = next(d for d in towns if d.lon is not None)
    rows.append(f"{placed.code},,,,{1234}")  # population only
    expected_pop[placed.code] = 1234
    bad = {
        11: ",四塘镇,106.6,23.9,10",  # two townships of 百色市 are called 四塘镇
        12: ",不存在镇,106.6,23.9,10",
        13: "450202001000,,109.4,24.3,10",  # a township of 柳州市
        14: f"{unplaced[9].code},,abc,23.9,10",
        15: f"{unplaced[10].code},,116.4,39.9,10",  # Beijing: outside the region
        16: f"{unplaced[11].code},,106.6,23.9,-5",
    }
    rows += list(bad.values())
    path = tmp_path / "townships.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    table = read_township_table(path, BAISE)
    assert table.rows == len(rows) - 1
    assert len(table.problems) == len(bad)
    for line, message in zip(bad, table.problems, strict=True):
        assert f"line {line}:" in message
    assert "names 2 townships" in table.problems[0]
    d = D.from_admin_seats(BAISE, township_table=table)
    assert d.unit == "population"
    cells = d.cells.set_index("cell_id")
    for code, (x, y) in expected_pos.items():
        assert cells.loc[code, "position_source"] == "township_table"
        assert (cells.loc[code, "lon"], cells.loc[code, "lat"]) == pytest.approx((x, y))
    assert len(d.unplaced) == len(unplaced) - len(expected_pos)
    weights = pd.concat([cells["demand"], d.unplaced.set_index("cell_id")["demand"]])
    assert weights.to_dict() == {c: float(expected_pop.get(c, 0)) for c in weights.index}
    assert any("rows of townships.csv were not used" in w and "line 11" in w for w in d.warnings)
    with pytest.raises(ValidationError, match="no usable township row"):
        bad_only = tmp_path / "bad.csv"
        bad_only.write_text("乡镇名称,经度,纬度\n不存在镇,106.6,23.9\n", encoding="utf-8")
        read_township_table(bad_only, BAISE)
    with pytest.raises(ValidationError, match="code or name column"):
        nameless = tmp_path / "nameless.csv"
        nameless.write_text("经度,纬度\n106.6,23.9\n", encoding="utf-8")
        read_township_table(nameless, BAISE)


def test_admin_seats_of_the_whole_country():
    """Region 100000: every township of the gazetteer, placed or listed as unknown."""
    gaz = default_gazetteer()
    towns = [d for d in gaz.units if d.level == "township"]
    d = D.from_admin_seats("100000")
    assert len(d.cells) + len(d.unplaced) == len(towns)
    assert len(d.cells) == sum(t.lon is not None for t in towns)
