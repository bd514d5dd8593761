"""Candidate sites: read from files, generated from townships and coverage gaps."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geo import candidates as cand
from geo import crs
from geo import demand as dm
from geo.coverage import compute_coverage
from geo.errors import FileFormatError, ValidationError
from geo.records import read_registry
from geo.travel import CrowflyModel
from support import ROOT


def test_csv_with_costs_and_gcj_coordinates(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text(
        "编号,名称,经度,纬度,坐标系,建设费用,月费用\n"
        "P1,某邮政所,109.41,24.33,gcj02,80000,100\n"
        "P2,某农信网点,109.50,24.40,wgs84,,100\n",
        encoding="utf-8",
    )
    sites = cand.from_file(path)
    assert list(sites["id"]) == ["P1", "P2"]
    assert sites["cost"].iloc[0] == 80000 and np.isnan(sites["cost"].iloc[1])
    assert list(sites["yearly_cost"]) == [1200, 1200]
    expected = crs.gcj02_to_wgs84(109.41, 24.33)
    assert crs.distance_m(sites["lon"].iloc[0], sites["lat"].iloc[0], *expected) < 0.01
    assert (sites["lon"].iloc[1], sites["lat"].iloc[1]) == (109.50, 24.40)


@pytest.mark.parametrize(
    "content, message",
    [
        ("name,lon,lat,cost\na,109,24,-5\n", "line 2: cost is negative"),
        ("name,lon,lat,cost\na,109,24,lots\n", "line 2: cost is not a number"),
        ("name,lon,lat\na,,24\n", "line 2: lon is missing"),
        ("name,lon,lat\n", "no candidate sites"),
        ("id,lon,lat\nx,109,24\nx,110,24\n", "not unique"),
    ],
)
def test_bad_candidate_files(tmp_path, content, message):
    path = tmp_path / "c.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValidationError, match=message):
        cand.from_file(path)


def test_file_errors(tmp_path):
    with pytest.raises(FileFormatError, match="no such file"):
        cand.from_file(tmp_path / "none.csv")
    bad = tmp_path / "c.csv"
    bad.write_text("name,x1\na,1\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match="longitude and latitude"):
        cand.from_file(bad)


def test_geojson(tmp_path):
    path = tmp_path / "c.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "id": "g1",
                        "geometry": {"type": "Point", "coordinates": [106.6, 23.9]},
                        "properties": {"name": "乡镇职工之家", "cost": 80000},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    sites = cand.from_file(path)
    assert sites["id"].tolist() == ["g1"] and sites["cost"].tolist() == [80000]


def test_generated_candidates():
    towns = cand.township_positions("451000", cost=80000)
    assert len(towns) > 50 and (towns["cost"] == 80000).all()
    stations = read_registry(ROOT / "data" / "demo" / "stations.csv")[0]
    cells = dm.h3_cells("450225", 7)
    cells["demand"] = 1.0
    result = compute_coverage(
        stations,
        dm.Demand(cells, unit="weight", source="test"),
        CrowflyModel("walk"),
        30,
        kinds=["legal_aid"],
    )
    gaps = cand.uncovered_cells(result)
    assert len(gaps) == int((~result.cells["covered_30"]).sum())
    grid = cand.grid_in_gaps(result, 5000)
    assert len(grid) > 10
    inside = result.gaps().union_all()
    import shapely

    assert shapely.contains_xy(inside, grid["lon"], grid["lat"]).all()


def test_title_row_line_numbers_and_duplicate_columns(tmp_path):
    """Candidate files are read by geo.tables: a title row is skipped, lines are the file's."""
    path = tmp_path / "c.csv"
    path.write_text("候选点位（2026）\n名称,经度,纬度,费用\na,109,24,1\nb,109,24,-1\n", "utf-8")
    with pytest.raises(ValidationError, match="line 4: cost is negative"):
        cand.from_file(path)
    path.write_text("候选点位（2026）\n名称,经度,纬度,容量\na,109.1,24.2,30\n", "utf-8")
    sites = cand.from_file(path)
    assert sites["lon"].tolist() == [109.1] and sites["容量"].tolist() == ["30"]
    twice = tmp_path / "twice.csv"
    twice.write_text("name,lon,经度,lat\na,109,110,24\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match="same field twice: lon"):
        cand.from_file(twice)


@pytest.mark.parametrize(
    "lon, lat, message",
    [
        ("1e308", "24.5", r"longitude 1e\+308 is out of range"),
        ("108.9", "95", "latitude 95 is out of range"),
        ("-181", "24.5", "out of range -180..180"),
        ("inf", "24.5", "not a finite number"),
        ("nan", "24.5", "not a finite number"),
        ("1e999", "24.5", "not a finite number"),
        ("10", "24.5", "outside China"),  # in range, but in Africa
        ("108.9", "-24.5", "outside China"),
    ],
)
def test_candidate_coordinates_must_be_finite_in_range_and_in_china(tmp_path, lon, lat, message):
    from geo.records import CHINA_BOUNDS

    path = tmp_path / "c.csv"
    path.write_text(f"name,lon,lat\nok,109.1,24.2\nbad,{lon},{lat}\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=message) as exc:
        cand.from_file(path)
    assert "line 3" in exc.value.message
    if message == "outside China":
        assert str(CHINA_BOUNDS[0]) in exc.value.message  # the one extent, from geo.records


def test_duplicate_lon_columns_are_refused_in_every_format(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["名称", "lon", "纬度", "经度"])
    wb.active.append(["a", 109.0, 24.0, 110.0])
    wb.save(tmp_path / "twice.xlsx")
    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"name": "a", "lon": 1, "经度": 2, "lat": 3}}
        ],
    }
    (tmp_path / "twice.geojson").write_text(json.dumps(doc), encoding="utf-8")
    for name in ("twice.xlsx", "twice.geojson"):
        with pytest.raises(FileFormatError, match="same field twice: lon"):
            cand.from_file(tmp_path / name)
