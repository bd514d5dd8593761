"""The coverage map (CoverageResult.to_folium) stays one layer per kind of thing, not one
element per station: a provincial run spent most of its export time compiling a template for
every station marker (issue 14 item 5)."""

from __future__ import annotations

import random
import re

import shapely

from geo import demand as dm
from geo.coverage import compute_coverage
from geo.models import Station
from geo.travel import CrowflyModel


def _result(n_stations: int):
    rng = random.Random(42)
    area = shapely.box(108.0, 22.5, 109.0, 23.3)
    cells = dm.h3_cells(area, 6)
    cells["demand"] = 1.0
    demand = dm.Demand(cells, unit="weight", source="uniform H3 res 6")
    names = ["<b>粗体</b>", "a `tick` ${x}", "{{ 7*7 }}"]
    stations = [
        Station(
            id=f"S{i}",
            name=names[i] if i < len(names) else f"站{i}",
            kind="rest_stop",
            lon=rng.uniform(108.0, 109.0),
            lat=rng.uniform(22.5, 23.3),
        )
        for i in range(n_stations)
    ]
    return compute_coverage(stations, demand, CrowflyModel("car"), [30, 60])


def test_station_markers_are_one_layer_not_one_element_each():
    html = _result(300).to_folium().get_root().render()
    # every station is in the map, as a feature of one GeoJSON layer
    assert html.count('"name":"站') >= 297
    assert len(re.findall(r"L\.circleMarker\(\s*\[", html)) < 10
    assert "<b>" not in html and "{{ 7*7 }}" not in html
    assert "<b>粗体</b>" not in html and "{{ 7*7 }}" not in html


def test_county_labels_are_one_loop_over_data_not_a_marker_each():
    """outlines_layer: every county label in one data array drawn by one script loop (a
    folium marker per label compiled a template each: ~14 s for a province)."""
    import folium

    from geo.gazetteer import default_gazetteer
    from geo.maps import outlines_layer

    bounds = (108.0, 22.5, 109.0, 23.3)
    m = folium.Map()
    outlines_layer(bounds).add_to(m)
    html = m.get_root().render()
    gaz = default_gazetteer()
    near = gaz.counties.iloc[gaz.counties.sindex.query(shapely.box(107, 22, 110, 24))]
    assert len(near) > 20
    assert html.count("L.marker(") == 1 and html.count("county-label") == 1
    shown = [str(n) for n in near["name"] if f'"{n}"]' in html]
    assert len(shown) >= 20


def test_frame_geojson_bytes_matches_geopandas_rounded_and_script_safe():
    import json

    import geopandas as gpd

    from geo.maps import frame_geojson_bytes

    rng = random.Random(42)
    polys = [
        shapely.box(x, y, x + rng.random() * 0.1, y + rng.random() * 0.1)
        for x, y in ((rng.uniform(100, 110), rng.uniform(20, 30)) for _ in range(50))
    ]
    gdf = gpd.GeoDataFrame(
        {
            "name": ["</script><b>x</b> & {{ 1 }}"] + [f"c{i}" for i in range(49)],
            "minutes": [rng.random() * 60 for _ in range(49)] + [float("nan")],
        },
        geometry=polys,
        crs="EPSG:4326",
    )
    data = frame_geojson_bytes(gdf, ["name", "minutes"])
    assert b"<" not in data and b">" not in data and b"&" not in data
    ours = json.loads(data)["features"]
    theirs = json.loads(gdf.to_json(drop_id=True, na="null"))["features"]
    for a, b in zip(ours, theirs, strict=True):
        assert a["properties"]["name"] == b["properties"]["name"]
        assert (a["properties"]["minutes"] is None) == (b["properties"]["minutes"] is None)
        ca = shapely.get_coordinates(shapely.geometry.shape(a["geometry"]))
        cb = shapely.get_coordinates(shapely.geometry.shape(b["geometry"]))
        assert abs(ca - cb).max() <= 5e-7
        assert all(len(f"{v:.10g}".split(".")[-1]) <= 6 for v in ca.ravel())


def test_service_areas_equal_a_geopandas_dissolve():
    result = _result(40)
    ours = result.service_areas().set_index("station_id")
    served = result.cells.loc[result.covered() & (result.cells["station_id"] != "")]
    theirs = served.dissolve(by="station_id", aggfunc={"demand": "sum"})
    assert list(ours.index) == list(theirs.index)
    assert ours["demand"].tolist() == theirs["demand"].tolist()
    assert ours["cells"].tolist() == served.groupby("station_id").size().tolist()
    diff = shapely.symmetric_difference(ours.geometry.values, theirs.geometry.values)
    assert (shapely.area(diff) < 1e-9).all()
