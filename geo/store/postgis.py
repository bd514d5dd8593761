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

import contextlib
from collections.abc import Iterator

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


@contextlib.contextmanager
def prepared(conn: Connection) -> Iterator[None]:
    """Statements run on ``conn`` inside are server-side prepared statements (psycopg 3).

    A statement's text is sent, parsed and analysed once per pooled connection; later runs
    send only its values. The engine (:func:`geo.store.repository.create_engine`) sets
    ``plan_cache_mode = force_custom_plan``, so each run is still planned for its values (a
    generic plan would not know the point or the ``LIMIT`` of a KNN query). Other drivers:
    nothing changes.
    """
    raw = conn.connection.dbapi_connection
    if raw is None or not hasattr(raw, "prepare_threshold"):
        yield
        return
    before = raw.prepare_threshold
    raw.prepare_threshold = 0
    try:
        yield
    finally:
        raw.prepare_threshold = before


#: A number or an SQL expression (e.g. a :func:`sqlalchemy.bindparam` of a cached statement).
Number = float | sa.ColumnElement


def _sql(value: Number) -> sa.ColumnElement:
    return value if isinstance(value, sa.ColumnElement) else sa.literal(value, sa.Float)


def point(lon: Number, lat: Number) -> sa.ColumnElement:
    """``ST_SetSRID(ST_MakePoint(lon, lat), 4326)`` with bound parameters."""
    return sa.func.ST_SetSRID(sa.func.ST_MakePoint(_sql(lon), _sql(lat)), 4326)


#: The generated column (not in the core schema), typed for GeoAlchemy2's operators.
GEOM = sa.literal_column("stations.geom", type_=Geometry("POINT", srid=4326))


def in_bbox(bbox: tuple[float, float, float, float]) -> sa.ColumnElement[bool]:
    """Stations inside ``(min_lon, min_lat, max_lon, max_lat)`` (GiST index)."""
    x0, y0, x1, y1 = bbox
    return sa.func.ST_Intersects(GEOM, sa.func.ST_MakeEnvelope(x0, y0, x1, y1, 4326))


def distance_m(lon: Number, lat: Number) -> sa.ColumnElement[float]:
    """Great-circle metres from the station to ``(lon, lat)`` on the sphere."""
    return sa.func.ST_Distance(sa.func.geography(GEOM), sa.func.geography(point(lon, lat)), False)


def expansion_deg(lat: Number, radius_m: Number) -> tuple[sa.ColumnElement, sa.ColumnElement]:
    """``(dlon, dlat)``: half the sides in degrees of a box around a point at ``lat`` that
    holds the circle of ``radius_m`` on the sphere (with slack), as SQL expressions."""
    dlat = sa.func.degrees(radius_m / EARTH_RADIUS_M) * 1.001 + 1e-9
    abs_lat = abs(lat) if isinstance(lat, float | int) else sa.func.abs(lat)
    top = sa.func.least(abs_lat + dlat, 89.999)
    dlon = sa.func.least(dlat / sa.func.cos(sa.func.radians(top)), 360.0)
    return dlon, dlat


def within_m(
    lon: Number, lat: Number, radius_m: Number, box: tuple[Number, Number] | None = None
) -> sa.ColumnElement[bool]:
    """Stations within ``radius_m`` (a number or an SQL expression) of ``(lon, lat)`` on the
    sphere.

    ``ST_DWithin`` on geography cannot use the geometry index, so a degree box that contains
    the circle (``geom && ST_Expand(point, dlon, dlat)``, indexed) comes first; ``box`` gives
    its ``(dlon, dlat)``, else they are computed in SQL from the radius (:func:`expansion_deg`).
    """
    dlon, dlat = box if box is not None else expansion_deg(lat, radius_m)
    return sa.and_(
        GEOM.intersects(sa.func.ST_Expand(point(lon, lat), dlon, dlat)),
        sa.func.ST_DWithin(
            sa.func.geography(GEOM), sa.func.geography(point(lon, lat)), radius_m, False
        ),
    )


def knn_order(lon: Number, lat: Number) -> sa.ColumnElement:
    """``geom <-> point``: the GiST index's nearest-first order (planar degrees)."""
    return GEOM.distance_centroid(point(lon, lat))


def nearest_select(where: tuple[sa.ColumnElement[bool], ...], bounded: bool) -> sa.Select:
    """One statement for the ``:k`` stations matching ``where`` nearest to ``(:lon, :lat)``
    (within ``:max_m`` metres when ``bounded``); the values are bound at execution, so one
    statement per filter serves every point (built and compiled once, see the repository).

    A materialised CTE takes the GiST index's ``k`` nearest in planar degrees (``geom <->
    point``) and keeps the farthest great-circle distance among them (with slack for floats)
    and the degree box around the point that holds that circle; every station that may be
    nearer lies within it, so an indexed radius query (:func:`within_m`) joined to that one
    row, ordered by exact metres on the sphere and then by id, gives the true ``k`` nearest.
    The rows carry ``_distance_m``.
    """
    from geo.store.schema import stations

    lon, lat = sa.bindparam("lon", type_=sa.Float), sa.bindparam("lat", type_=sa.Float)
    k = sa.bindparam("k", type_=sa.Integer)
    if bounded:
        where = (*where, within_m(lon, lat, sa.bindparam("max_m", type_=sa.Float)))
    dist = distance_m(lon, lat)
    candidates = (
        sa.select(dist.label("d")).where(*where).order_by(knn_order(lon, lat)).limit(k).subquery()
    )
    farthest = sa.select((sa.func.max(candidates.c.d) * (1 + 1e-9) + 1e-3).label("r")).subquery()
    dlon, dlat = expansion_deg(lat, farthest.c.r)
    bound = (
        sa.select(farthest.c.r, dlon.label("dlon"), dlat.label("dlat"))
        .cte("knn_bound")
        .prefix_with("MATERIALIZED")
    )
    return (
        sa.select(stations, dist.label("_distance_m"))
        .select_from(stations.join(bound, sa.true()))
        .where(*where, within_m(lon, lat, bound.c.r, (bound.c.dlon, bound.c.dlat)))
        .order_by(sa.literal_column("_distance_m"), stations.c.id)
        .limit(k)
    )
