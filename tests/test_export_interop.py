"""Every registry export opens in the tools others use: GDAL (``ogrinfo``), SpatiaLite and
pygeoapi; column names are safe identifiers and no SQL keyword in any common dialect."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from geo.records import export_stations, import_registry
from geo.records.export import EXPORT_COLUMN_NAMES, EXPORT_COLUMNS, EXPORT_FIELDS
from geo.records.read import HEADER_ALIASES, match_header
from support import DATA

#: Every test here runs on SQLite and on PostgreSQL + PostGIS (tests/conftest.py).
pytestmark = pytest.mark.both_backends

FORMATS = ["csv", "xlsx", "geojson", "gpkg"]

needs_ogrinfo = pytest.mark.skipif(
    shutil.which("ogrinfo") is None, reason="gdal-bin missing: run scripts/install_test_deps.sh"
)


def _sqlite_with_extensions():
    """The DB-API sqlite module that can load extensions: the standard library's where it was
    built with them, else ``pysqlite3`` (test extras); ``None`` if neither can."""
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3
    try:
        import pysqlite3.dbapi2 as dbapi2  # type: ignore[import-not-found]
    except ImportError:
        return None
    return dbapi2


def _spatialite_connection(path: Path):
    """A connection with SpatiaLite loaded, or a skip naming what to install."""
    module = _sqlite_with_extensions()
    if module is None:
        pytest.skip("this Python's sqlite3 cannot load extensions: install pysqlite3-binary")
    conn = module.connect(str(path))
    try:
        conn.enable_load_extension(True)
        conn.execute("SELECT load_extension('mod_spatialite')")
    except module.OperationalError as exc:
        conn.close()
        pytest.skip(f"SpatiaLite not loadable ({exc}): run scripts/install_test_deps.sh")
    return conn


def _reserved_words() -> dict[str, set[str]]:
    """Reserved words of SQL dialects, as SQLAlchemy's dialects quote them (independent lists)."""
    from sqlalchemy.dialects.mssql import base as mssql
    from sqlalchemy.dialects.mysql import reserved_words as mysql
    from sqlalchemy.dialects.oracle import base as oracle
    from sqlalchemy.dialects.postgresql import base as postgresql
    from sqlalchemy.dialects.sqlite import base as sqlite
    from sqlalchemy.sql import compiler

    return {
        "ANSI": set(compiler.RESERVED_WORDS),
        "SQLite": set(sqlite.SQLiteIdentifierPreparer.reserved_words),
        "PostgreSQL": set(postgresql.RESERVED_WORDS),
        "MySQL": set(mysql.RESERVED_WORDS_MYSQL),
        "SQL Server": set(mssql.RESERVED_WORDS),
        "Oracle": set(oracle.RESERVED_WORDS),
    }


@pytest.fixture
def stations(repo):
    import_registry(repo, DATA / "registry_zh.csv")
    import_registry(repo, DATA / "registry.geojson")
    return sorted(repo.all(), key=lambda s: s.id)


@pytest.fixture
def exports(stations, tmp_path) -> dict[str, Path]:
    return {fmt: export_stations(stations, tmp_path / f"stations.{fmt}") for fmt in FORMATS}


def _columns_of(fmt: str, path: Path) -> list[str]:
    if fmt == "csv":
        return path.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    if fmt == "xlsx":
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True)
        try:
            ws = wb.active
            assert ws is not None
            return [str(c) for c in next(ws.iter_rows(max_row=1, values_only=True))]
        finally:
            wb.close()  # read-only workbooks keep their file open until closed
    if fmt == "geojson":
        return list(json.loads(path.read_text(encoding="utf-8"))["features"][0]["properties"])
    with sqlite3.connect(path) as conn:
        return [r[1] for r in conn.execute("PRAGMA table_info(stations)") if r[1] not in ("fid",)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_column_names_are_safe_identifiers(exports, fmt):
    columns = [c for c in _columns_of(fmt, exports[fmt]) if c != "geom"]
    assert columns == EXPORT_COLUMNS
    reserved = _reserved_words()
    for column in columns:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", column), column
        hits = [dialect for dialect, words in reserved.items() if column.lower() in words]
        assert not hits, f"{column!r} is reserved in {', '.join(hits)}"


def test_renamed_columns_import_back_to_their_fields():
    assert set(EXPORT_COLUMN_NAMES) <= set(EXPORT_FIELDS)
    for field, column in EXPORT_COLUMN_NAMES.items():
        assert match_header(column) == field
    # Chinese headers stay as they were (the first alias of each field).
    assert HEADER_ALIASES["union"][0] == "所属工会"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_chinese_header_exports_keep_chinese_headers(stations, tmp_path, fmt):
    out = export_stations(stations, tmp_path / f"zh.{fmt}", lang="zh")
    columns = _columns_of(fmt, out)
    assert columns == [HEADER_ALIASES[k][0] for k in EXPORT_FIELDS]
    assert "所属工会" in columns and "定位精度" in columns


# -- GDAL ------------------------------------------------------------------------------------


def _ogrinfo(*args: str) -> str:
    proc = subprocess.run(
        ["ogrinfo", "-ro", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "CPL_DEBUG": "OFF"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "ERROR" not in proc.stderr, proc.stderr
    return proc.stdout


@needs_ogrinfo
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_export_opens_in_gdal(exports, stations, fmt):
    path = exports[fmt]
    options = ["-oo", "X_POSSIBLE_NAMES=lon", "-oo", "Y_POSSIBLE_NAMES=lat"] if fmt == "csv" else []
    out = _ogrinfo(*options, "-al", "-so", str(path))
    assert f"Feature Count: {len(stations)}" in out
    for column in ("id", "name", "operator", "location_precision", "updated_at"):
        assert re.search(rf"^{column}: ", out, re.M), (column, out)
    if fmt in ("csv", "geojson", "gpkg"):
        assert "Geometry: Point" in out
    if fmt in ("geojson", "gpkg"):
        # The same positions as the registry, read by GDAL.
        full = _ogrinfo(*options, "-al", "-q", str(path))
        for s in stations:
            assert f"POINT ({s.lon:.15g} {s.lat:.15g})" in full


# -- SpatiaLite ------------------------------------------------------------------------------


def test_gpkg_opens_in_spatialite(exports, stations):
    conn = _spatialite_connection(exports["gpkg"])
    try:
        # The GeoPackage loader: a VirtualGPKG table per layer (what pygeoapi's provider uses).
        assert conn.execute("SELECT AutoGPKGStart()").fetchone()[0] >= 1
        rows = conn.execute(
            "SELECT id, operator, location_precision, ST_X(geom), ST_Y(geom) "
            "FROM vgpkg_stations ORDER BY id"
        ).fetchall()
        assert [r[0] for r in rows] == [s.id for s in stations]
        for (sid, operator, precision, x, y), s in zip(rows, stations, strict=True):
            assert (operator, precision) == (s.union, s.precision.value), sid
            assert x == pytest.approx(s.lon, abs=1e-12) and y == pytest.approx(s.lat, abs=1e-12)
        # Amphibious mode: spatial functions straight on the GeoPackage blobs.
        conn.execute("SELECT EnableGpkgAmphibiousMode()")
        inside = conn.execute(
            "SELECT id FROM stations"
            " WHERE ST_Intersects(geom, BuildMbr(109.3, 24.2, 109.5, 24.4, 4326)) ORDER BY id"
        ).fetchall()
        expected = [s.id for s in stations if 109.3 <= s.lon <= 109.5 and 24.2 <= s.lat <= 24.4]
        assert [r[0] for r in inside] == expected and expected
    finally:
        conn.close()


# -- pygeoapi --------------------------------------------------------------------------------


def _pygeoapi_config(gpkg: Path) -> dict:
    """A minimal pygeoapi configuration serving the GeoPackage's ``stations`` layer."""
    return {
        "server": {
            "bind": {"host": "localhost", "port": 5000},
            "url": "http://localhost:5000",
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "languages": ["en-US"],
            "limits": {"default_items": 10, "max_items": 100},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": ""},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": "Yizhan export",
                "description": "stations",
                "keywords": ["stations"],
                "keywords_type": "theme",
                "terms_of_service": "",
                "url": "http://localhost",
            },
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "test", "url": "http://localhost"},
            "contact": {"name": "test", "position": "", "email": "test@example.org"},
        },
        "resources": {
            "stations": {
                "type": "collection",
                "title": "Stations",
                "description": "Registry export (GeoPackage)",
                "keywords": ["stations"],
                "extents": {
                    "spatial": {
                        "bbox": [73, 3, 136, 54],
                        "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                    }
                },
                "providers": [
                    {
                        "type": "feature",
                        "name": "SQLiteGPKG",
                        "data": str(gpkg),
                        "id_field": "id",
                        "table": "stations",
                    }
                ],
            }
        },
    }


def test_pygeoapi_serves_the_gpkg(exports, stations, monkeypatch):
    """pygeoapi's own API (the code behind its Flask app) serves the export's items."""
    pytest.importorskip("pygeoapi")
    _spatialite_connection(exports["gpkg"]).close()
    from pygeoapi.api import API, APIRequest
    from pygeoapi.api.itemtypes import get_collection_item, get_collection_items
    from pygeoapi.provider import sqlite as pygeoapi_sqlite
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    # Its provider loads SpatiaLite through the sqlite3 module: use one that can.
    monkeypatch.setattr(pygeoapi_sqlite, "sqlite3", _sqlite_with_extensions())
    monkeypatch.setattr(pygeoapi_sqlite, "SPATIALITE_EXTENSION", "mod_spatialite")
    api = API(_pygeoapi_config(exports["gpkg"]), openapi={})

    def get(path: str, query: dict, fetch, *args) -> dict:
        environ = EnvironBuilder(path=path, query_string=query).get_environ()
        request = APIRequest.from_flask(Request(environ), api.locales)
        _, status, content = fetch(api, request, "stations", *args)
        assert status == 200, content
        return json.loads(content)

    items = "/collections/stations/items"
    fc = get(items, {"f": "json", "limit": "100"}, get_collection_items)
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == len(stations)
    by_id = {f["id"]: f for f in fc["features"]}
    assert sorted(by_id) == [s.id for s in stations]
    for s in stations:
        feature = by_id[s.id]
        assert feature["geometry"]["coordinates"] == pytest.approx([s.lon, s.lat], abs=1e-12)
        assert feature["properties"]["operator"] == s.union
        assert feature["properties"]["name"] == s.name
    box = get(items, {"f": "json", "bbox": "109.3,24.2,109.5,24.4"}, get_collection_items)
    expected = {s.id for s in stations if 109.3 <= s.lon <= 109.5 and 24.2 <= s.lat <= 24.4}
    assert {f["id"] for f in box["features"]} == expected and expected
    first = stations[0]
    one = get(f"{items}/{first.id}", {"f": "json"}, get_collection_item, first.id)
    assert one["properties"]["name"] == first.name
