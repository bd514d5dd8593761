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
    assert html.count('"name": "\\u7ad9') + html.count('"name": "站') >= 297
    assert len(re.findall(r"L\.circleMarker\(\s*\[", html)) < 10
    assert "<b>粗体</b>" not in html and "{{ 7*7 }}" not in html
