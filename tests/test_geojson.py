"""The one GeoJSON serialiser: display features, export features, bytes, plain builders."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from geo.geojson import (
    feature,
    feature_collection,
    point_geometry,
    stations_geojson,
    stations_geojson_bytes,
)
from geo.models import Station
from geo.records.export import station_record

AT = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 China time


def _stations():
    return [
        Station(
            "A", "甲站", "rest_stop", 109.4, 24.3, services=("water",), hours="Mo-Su 08:00-18:00"
        ),
        Station("B", "乙站", "legal_aid"),  # not placed yet
    ]


def test_display_features_with_distances_and_null_geometry():
    doc = stations_geojson(_stations(), at=AT, distances=[12.34, 99.0])
    a, b = doc["features"]
    assert doc["type"] == "FeatureCollection" and a["id"] == "A"
    assert a["geometry"] == {"type": "Point", "coordinates": [109.4, 24.3]}
    assert a["properties"]["open_now"] is True and a["properties"]["closes_at"] == "18:00"
    assert a["properties"]["distance_m"] == 12.3 and a["properties"]["kind_label"]
    assert b["geometry"] is None and b["properties"]["distance_m"] == 99.0


def test_export_properties_are_passed_in():
    doc = stations_geojson(_stations()[:1], properties=station_record)
    assert doc["features"][0]["properties"] == station_record(_stations()[0])


def test_bytes_are_the_display_features():
    stations = _stations()
    body = json.loads(stations_geojson_bytes(stations, at=AT, total=2))
    assert body["total"] == 2
    assert body["features"] == stations_geojson(stations, at=AT)["features"]


def test_plain_builders():
    assert point_geometry(None, 24.0) is None
    f = feature(point_geometry(1.0, 2.0), {"a": 1})
    assert "id" not in f and list(f) == ["type", "geometry", "properties"]
    assert feature_collection([f], total=1) == {
        "type": "FeatureCollection",
        "features": [f],
        "total": 1,
    }
