"""PostGIS: the extension check and the spatial SQL the repository runs on PostgreSQL.

On PostgreSQL the ``stations`` table has a ``geom geometry(Point, 4326)`` column with a GiST
index (migration 0006_postgis). It is a *stored generated column* computed from
``lon``/``lat``, so it can never disagree with them, whoever writes the row (the repository,
``psql``, a restore).
The core schema (:mod:`geo.store.schema`) does not list it: SQLite has no such column and
inserts never name it. Distances are on the sphere (``use_spheroid => false``), like the
in-memory index (:mod:`geo.index`), so both backends give the same metres.
"""

from __future__ import annotations

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.engine import Connection

from geo.crs import EARTH_RADIUS_M
from geo.errors import YizhanError

#: The SQL an operator runs as a PostgreSQL superuser when ``yizhan init-db`` may not.
CREATE_EXTENSION_SQL = "CREATE EXTENSION IF NOT EXISTS postgis;"


class PostgisUnavailable(YizhanError, RuntimeError):
    """The database has no PostGIS and this role may not create it."""

    status = 503


def ensure_postgis(conn: Connection) -> None:
    """Create the PostGIS extension unless it exists; a clear error when not allowed.

    Runs inside the caller's transaction (a savepoint keeps it usable after a refusal).
    """
    have = conn.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).first()
    if have:
        return
    database = conn.execute(sa.text("SELECT current_database()")).scalar_one()
    try:
        with conn.begin_nested():
            conn.execute(sa.text(CREATE_EXTENSION_SQL))
    except sa.exc.DBAPIError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise PostgisUnavailable(
            f"PostGIS is not installed in database {database!r} and this role may not create "
            f"it ({reason}). Run as a PostgreSQL superuser:\n"
            f"    psql -d {database} -c '{CREATE_EXTENSION_SQL}'\n"
            "then run `yizhan init-db` again. (Debian: apt install postgresql-15-postgis-3.)"
        ) from None


def point(lon: float, lat: float) -> sa.ColumnElement:
    """``ST_SetSRID(ST_MakePoint(lon, lat), 4326)`` with bound parameters."""
    return sa.func.ST_SetSRID(
        sa.func.ST_MakePoint(sa.literal(lon, sa.Float), sa.literal(lat, sa.Float)), 4326
    )


#: The generated column (not in the core schema), typed for GeoAlchemy2's operators.
GEOM = sa.literal_column("stations.geom", type_=Geometry("POINT", srid=4326))


def in_bbox(bbox: tuple[float, float, float, float]) -> sa.ColumnElement[bool]:
    """Stations inside ``(min_lon, min_lat, max_lon, max_lat)`` (GiST index)."""
    x0, y0, x1, y1 = bbox
    return sa.func.ST_Intersects(GEOM, sa.func.ST_MakeEnvelope(x0, y0, x1, y1, 4326))


def distance_m(lon: float, lat: float) -> sa.ColumnElement[float]:
    """Great-circle metres from the station to ``(lon, lat)`` on the sphere."""
    return sa.func.ST_Distance(sa.func.geography(GEOM), sa.func.geography(point(lon, lat)), False)


def within_m(
    lon: float, lat: float, radius_m: float | sa.ColumnElement[float]
) -> sa.ColumnElement[bool]:
    """Stations within ``radius_m`` (a number or an SQL expression) of ``(lon, lat)`` on the
    sphere.

    ``ST_DWithin`` on geography cannot use the geometry index, so a degree box that contains
    the circle (``geom && ST_Expand(point, dlon, dlat)``, indexed) comes first; it is computed
    in SQL from the radius.
    """
    dlat = sa.func.degrees(radius_m / EARTH_RADIUS_M) * 1.001 + 1e-9
    top = sa.func.least(abs(lat) + dlat, 89.999)
    dlon = sa.func.least(dlat / sa.func.cos(sa.func.radians(top)), 360.0)
    return sa.and_(
        GEOM.intersects(sa.func.ST_Expand(point(lon, lat), dlon, dlat)),
        sa.func.ST_DWithin(
            sa.func.geography(GEOM), sa.func.geography(point(lon, lat)), radius_m, False
        ),
    )


def knn_order(lon: float, lat: float) -> sa.ColumnElement:
    """``geom <-> point``: the GiST index's nearest-first order (planar degrees)."""
    return GEOM.distance_centroid(point(lon, lat))
