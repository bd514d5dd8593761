"""Registry export: stations as the flat records unions keep (CSV, XLSX) or as GeoJSON and
GeoPackage, every format importing back to the same stations.

Column names are safe in every tool that reads the files (GDAL/QGIS, SpatiaLite, pygeoapi,
databases the files are loaded into): ASCII letters, digits and ``_``, starting with a letter,
and no SQL keyword. Two station fields are written under another name
(:data:`EXPORT_COLUMN_NAMES`): ``union`` (an SQL keyword, which SpatiaLite's GeoPackage loader
refuses) as ``operator`` (the OpenStreetMap key for the organisation running a place) and
``precision`` (reserved in SQL:2016, MySQL and SQL Server) as ``location_precision``. Both
names import back (:data:`geo.records.read.HEADER_ALIASES`). The Chinese-header variants of CSV
and XLSX (``lang="zh"``) keep their Chinese headers; GeoJSON and GeoPackage always use the
English column names.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from geo.errors import FileFormatError
from geo.geojson import stations_geojson
from geo.hours import CHINA_TZ
from geo.liuyou import FACILITIES
from geo.models import KINDS, SERVICES, STATUS_TERMS, Station
from geo.records.read import HEADER_ALIASES
from geo.spreadsheet import csv_cell, neutralise_workbook

__all__ = [
    "EXPORT_COLUMNS",
    "EXPORT_COLUMN_NAMES",
    "EXPORT_FIELDS",
    "export_stations",
    "station_record",
]

#: Export column order as station fields (``lang="zh"`` uses each field's first alias).
EXPORT_FIELDS = [
    "id",
    "name",
    "name_en",
    "kind",
    "services",
    "address",
    "province_code",
    "province",
    "prefecture_code",
    "prefecture",
    "county_code",
    "county",
    "township_code",
    "township",
    "village_code",
    "village",
    "lon",
    "lat",
    "crs",
    "orig_lon",
    "orig_lat",
    "orig_crs",
    "precision",
    "hours",
    "phone",
    "union",
    "status",
    "demo",
    "source",
    "notes",
    "updated_at",
    "extra",
    # 六有 (issue 15 item 7)
    "facilities",
    "liuyou_sign",
    "liuyou_rules",
    "liuyou_manager",
]

#: Station field → English export column, where the field's own name is not a safe column name.
EXPORT_COLUMN_NAMES: dict[str, str] = {"union": "operator", "precision": "location_precision"}

#: The English export columns, in :data:`EXPORT_FIELDS` order.
EXPORT_COLUMNS: list[str] = [EXPORT_COLUMN_NAMES.get(k, k) for k in EXPORT_FIELDS]


def _column(field: str, lang: str) -> str:
    """The export header of station ``field`` (Chinese: its first alias)."""
    return HEADER_ALIASES[field][0] if lang == "zh" else EXPORT_COLUMN_NAMES.get(field, field)


#: The 六有 fields among :data:`EXPORT_FIELDS` (issue 15 item 7).
_LIUYOU_FIELDS = ("facilities", "liuyou_sign", "liuyou_rules", "liuyou_manager")


def station_record(s: Station, lang: str = "en") -> dict[str, object]:
    """One station as a flat record with the export columns (see :data:`EXPORT_COLUMNS`).

    ``lang="zh"`` gives Chinese headers and labels (kinds, services, status, 是/否), as
    unions keep their sheets; both forms import back unchanged.
    """
    updated = s.updated_at.astimezone(CHINA_TZ).isoformat() if s.updated_at else None
    rec: dict[str, object] = {
        **{
            k: getattr(s, k)
            for k in EXPORT_FIELDS
            if k
            not in ("services", "crs", "orig_crs", "precision", "status", "updated_at", "extra")
            and k not in _LIUYOU_FIELDS
        },
        "services": ",".join(s.services),
        "crs": "wgs84",
        "orig_crs": s.orig_crs.value if s.orig_crs else None,
        "precision": s.precision.value,
        "status": s.status.value,
        "updated_at": updated,
        "extra": json.dumps(s.extra, ensure_ascii=False, sort_keys=True) if s.extra else None,
    }
    rec["facilities"] = ",".join(s.facilities)
    for code in ("sign", "rules", "manager"):  # 六有 checks: yes/no, blank when unknown
        value = (s.liuyou or {}).get(code)
        rec[f"liuyou_{code}"] = (
            None
            if value is None
            else ("是" if lang == "zh" else "yes")
            if value
            else ("否" if lang == "zh" else "no")
        )
    if lang == "zh":
        rec["facilities"] = "、".join(
            FACILITIES[c].zh if c in FACILITIES else c for c in s.facilities
        )
        rec["kind"] = KINDS[s.kind].zh if s.kind in KINDS else s.kind
        rec["services"] = "、".join(SERVICES[c].zh if c in SERVICES else c for c in s.services)
        rec["status"] = STATUS_TERMS[s.status.value].zh
        rec["demo"] = "是" if s.demo else "否"
    return {_column(k, lang): rec[k] for k in EXPORT_FIELDS}


def export_stations(
    stations: list[Station], path: str | Path, fmt: str | None = None, lang: str = "en"
) -> Path:
    """Write stations to CSV (UTF-8 with BOM, for Excel), XLSX, GeoJSON or GeoPackage.

    Text that a spreadsheet would run as a formula is written as text (:mod:`geo.spreadsheet`:
    a leading ``'`` in CSV, a text cell in XLSX) and imports back unchanged.

    GeoJSON and GeoPackage carry every field as a property (English column names,
    :data:`EXPORT_COLUMNS`) with WGS-84 point geometries; CSV and XLSX have ``lon``/``lat``
    columns and ``lang`` headers. Every format imports back to the same stations.
    """
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        records = [station_record(s, lang) for s in stations]
        header = list(records[0]) if records else [_column(k, lang) for k in EXPORT_FIELDS]
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=header)
            w.writeheader()
            for rec in records:
                w.writerow(
                    {
                        k: ("" if v is None else repr(v) if isinstance(v, float) else csv_cell(v))
                        for k, v in rec.items()
                    }
                )
    elif fmt == "xlsx":
        import openpyxl

        wb = openpyxl.Workbook()
        ws = wb.active
        assert ws is not None  # a new workbook has one active sheet
        ws.title = "stations"
        ws.append([_column(k, lang) for k in EXPORT_FIELDS])
        for s in stations:
            ws.append(list(station_record(s, lang).values()))
        neutralise_workbook(wb)
        wb.save(path)
    elif fmt in ("geojson", "json"):
        doc = stations_geojson(stations, properties=_full_properties)
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    elif fmt == "gpkg":
        import geopandas as gpd
        import numpy as np

        records = [station_record(s) for s in stations]
        gdf = gpd.GeoDataFrame(
            records,
            columns=EXPORT_COLUMNS,
            geometry=gpd.points_from_xy(
                np.asarray([s.lon for s in stations], dtype="float64"),
                np.asarray([s.lat for s in stations], dtype="float64"),
            ),
            crs="EPSG:4326",
        )
        for col in EXPORT_COLUMNS:
            if col not in ("lon", "lat", "orig_lon", "orig_lat", "demo"):
                gdf[col] = gdf[col].astype(object)
        gdf.to_file(path, layer="stations", driver="GPKG", engine="pyogrio")
    else:
        raise FileFormatError(f"unknown export format {fmt!r}; use csv, xlsx, geojson or gpkg")
    return path


def _full_properties(s: Station) -> dict[str, object]:
    """The export record with lists and objects as JSON values (a lossless GeoJSON export)."""
    props = station_record(s)
    props["services"] = list(s.services)
    props["extra"] = dict(s.extra)
    props["facilities"] = list(s.facilities)
    return props
