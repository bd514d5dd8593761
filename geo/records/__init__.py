"""Station registries in and out: read, validate, normalise, import, export.

Registries come as unions keep them: CSV (UTF-8, UTF-8 with BOM or GB18030), Excel sheets with
Chinese headers (名称, 类型, 地址, 经度, 纬度, 坐标系 …, English aliases accepted, a title row
above the header tolerated), GeoJSON, or any OGR vector layer (GeoPackage, Shapefile).

The package is split by step:

* :mod:`geo.records.read` — which headers name which field; rows of a file (read by
  :mod:`geo.tables`) keyed by field;
* :mod:`geo.records.validate` — row validation into stations (WGS-84), duplicates;
* :mod:`geo.records.issues` — :class:`RowIssue` and :class:`ImportReport`;
* :mod:`geo.records.import_` — :func:`read_registry` (nothing stored) and
  :func:`import_registry` (one transaction);
* :mod:`geo.records.export` — :func:`export_stations` and the flat :func:`station_record`.

The stations' GeoJSON for the API and maps is :mod:`geo.geojson`.
"""

from geo.records.export import EXPORT_FIELDS, export_stations, station_record
from geo.records.import_ import import_registry, read_registry
from geo.records.issues import ImportReport, RowIssue
from geo.records.read import HEADER_ALIASES, RawRow, detect_format, match_header, read_raw
from geo.records.validate import CHINA_BOUNDS, stable_id, validate_rows
from geo.tables import normalise_text

__all__ = [
    "CHINA_BOUNDS",
    "EXPORT_FIELDS",
    "HEADER_ALIASES",
    "ImportReport",
    "RawRow",
    "RowIssue",
    "detect_format",
    "export_stations",
    "import_registry",
    "match_header",
    "normalise_text",
    "read_raw",
    "read_registry",
    "stable_id",
    "station_record",
    "validate_rows",
]
