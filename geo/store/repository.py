"""Station repository: the only code that reads or writes the station tables.

It speaks SQLAlchemy 2 Core and returns :class:`geo.models.Station` objects. Every write runs in
one transaction and bumps a *revision* counter, so in-memory indexes (and other processes, such
as a running server after ``yizhan import``) can tell cheaply that the stations changed. Writers
take the revision row's lock first, so two imports at once (two processes, two threads)
serialise: no lost rows, no lost revision bumps.

On PostgreSQL with PostGIS the spatial questions (bbox, radius, nearest) run in the database on
the GiST-indexed ``geom`` column (:mod:`geo.store.postgis`); on SQLite the ``lon``/``lat``
index narrows and numpy measures. Both give great-circle metres on the same sphere.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine

from geo.crs import EARTH_RADIUS_M, CoordSystem, distance_m
from geo.errors import NotFound
from geo.models import Nearby, Precision, Station, Status
from geo.store import history as hist
from geo.store.schema import meta, station_versions, stations

LOGGER = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
_CHUNK = 500  # ids per IN (...) clause: well below SQLite's variable limit

_STATION_FIELDS = [c.name for c in stations.columns]


def create_engine(url: str) -> Engine:
    """Create an engine for ``url``; for SQLite, create the folder and enable WAL.

    WAL lets a running server read while ``yizhan import`` writes. A server database
    (PostgreSQL) gets ``pool_pre_ping``: after the database went away and came back, pooled
    connections are tested and replaced, so the first request after a restart already works.
    """
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url)
    else:
        # psycopg 3 prepares a statement after 5 runs, and PostgreSQL may then pick a generic
        # plan that ignores the point and k of a KNN query; plan each query for its values.
        # Only the KNN statement is prepared (postgis.prepared): it is parsed once per
        # connection, and force_custom_plan still plans each run for its point and k.
        parsed = sa.engine.make_url(url)
        connect_args = {}
        if parsed.get_driver_name() == "psycopg":
            given = parsed.query.get("options") or ""  # the URL's own ?options= are kept
            given = " ".join(given) if isinstance(given, tuple) else given
            custom = "-c plan_cache_mode=force_custom_plan"
            connect_args = {"prepare_threshold": None, "options": f"{given} {custom}".strip()}
        engine = sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()

    return engine


def _to_row(s: Station) -> dict:
    return {
        "id": s.id,
        "name": s.name,
        "name_en": s.name_en,
        "kind": s.kind,
        "services": ",".join(s.services),
        "address": s.address,
        "province_code": s.province_code,
        "province": s.province,
        "prefecture_code": s.prefecture_code,
        "prefecture": s.prefecture,
        "county_code": s.county_code,
        "county": s.county,
        "township_code": s.township_code,
        "township": s.township,
        "village_code": s.village_code,
        "village": s.village,
        "lon": s.lon,
        "lat": s.lat,
        "orig_lon": s.orig_lon,
        "orig_lat": s.orig_lat,
        "orig_crs": s.orig_crs.value if s.orig_crs else None,
        "precision": s.precision.value,
        "hours": s.hours,
        "phone": s.phone,
        "union_name": s.union,
        "status": s.status.value,
        "demo": bool(s.demo),
        "source": s.source,
        "notes": s.notes,
        "updated_at": s.updated_at,
        "extra": dict(s.extra) or None,
        # -- history (issue 15 item 6): the stored version (set by save, never by callers) --
        "version": s.version,
        # 六有 (issue 15 item 7)
        "facilities": ",".join(s.facilities),
        "liuyou": dict(s.liuyou) or None,
    }


def _from_row(r: sa.RowMapping) -> Station:
    updated = r["updated_at"]
    if updated is not None and updated.tzinfo is None:
        updated = updated.replace(tzinfo=UTC)  # SQLite returns naive UTC
    return Station(
        id=r["id"],
        name=r["name"],
        name_en=r["name_en"],
        kind=r["kind"],
        services=tuple(filter(None, (r["services"] or "").split(","))),
        address=r["address"],
        province_code=r["province_code"],
        province=r["province"],
        prefecture_code=r["prefecture_code"],
        prefecture=r["prefecture"],
        county_code=r["county_code"],
        county=r["county"],
        township_code=r["township_code"],
        township=r["township"],
        village_code=r["village_code"],
        village=r["village"],
        lon=r["lon"],
        lat=r["lat"],
        orig_lon=r["orig_lon"],
        orig_lat=r["orig_lat"],
        orig_crs=CoordSystem(r["orig_crs"]) if r["orig_crs"] else None,
        precision=Precision(r["precision"]),
        hours=r["hours"],
        phone=r["phone"],
        union=r["union_name"],
        status=Status(r["status"]),
        demo=bool(r["demo"]),
        source=r["source"],
        notes=r["notes"],
        updated_at=updated,
        extra=dict(r["extra"] or {}),
        # -- history (issue 15 item 6) --
        version=int(r.get("version") or 0),
        # 六有 (issue 15 item 7)
        facilities=tuple(filter(None, (r["facilities"] or "").split(","))),
        liuyou={str(k): bool(v) for k, v in (r["liuyou"] or {}).items()},
    )


def _comparable(row: dict) -> dict:
    """A row without its timestamp and version, for change detection."""
    return {k: v for k, v in row.items() if k not in ("updated_at", "version")}


@dataclass
class SaveResult:
    """Which ids a save inserted, updated, or left as they were."""

    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StationQuery:
    """Filters for :meth:`StationRepository.query` (all optional, combined with AND).

    ``bbox`` is ``(min_lon, min_lat, max_lon, max_lat)`` in WGS-84 (a west edge east of the
    east edge crosses the antimeridian, as in ``/api/stations``); ``county`` matches a
    county code or a county name; ``services`` requires every listed service.
    """

    kinds: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    county: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    statuses: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    #: Only stations with coordinates (what an in-memory index holds).
    located: bool = False


@functools.lru_cache(maxsize=256)
def _nearest_statement(q: StationQuery, bounded: bool) -> sa.Select:
    """PostGIS: the one KNN statement for ``q`` (points and ``k`` bound at execution).

    Built once per filter: building the expression tree costs more than the query itself.
    """
    from geo.store import postgis

    located = (stations.c.lon.is_not(None), stations.c.lat.is_not(None))
    return postgis.nearest_select((*_where(q, postgis=True), *located), bounded)


def _where(q: StationQuery, postgis: bool) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of ``q`` (PostGIS's indexed bbox test when ``postgis``)."""
    c = stations.c
    clauses: list[sa.ColumnElement[bool]] = []
    if q.kinds:
        clauses.append(c.kind.in_(q.kinds))
    for service in q.services:
        # services is a comma list of codes: match a whole code with delimiters.
        clauses.append(("," + c.services + ",").contains(f",{service},"))
    if q.county:
        clauses.append(sa.or_(c.county_code == q.county, c.county == q.county))
    if q.bbox:
        x0, y0, x1, y1 = q.bbox
        # A west edge east of the east edge crosses the antimeridian: two boxes.
        boxes = [(x0, y0, x1, y1)] if x0 <= x1 else [(x0, y0, 180.0, y1), (-180.0, y0, x1, y1)]
        clauses.append(sa.or_(*(_in_box(b, postgis) for b in boxes)))
    if q.statuses:
        clauses.append(c.status.in_(q.statuses))
    if q.ids:
        clauses.append(c.id.in_(q.ids))
    if q.located:
        clauses += [c.lon.is_not(None), c.lat.is_not(None)]
    return clauses


def _in_box(bbox: tuple[float, float, float, float], postgis: bool) -> sa.ColumnElement[bool]:
    if postgis:
        from geo.store import postgis as pg

        return pg.in_bbox(bbox)
    c = stations.c
    x0, y0, x1, y1 = bbox
    return sa.and_(c.lon >= x0, c.lon <= x1, c.lat >= y0, c.lat <= y1)


class StationRepository:
    """Reads and writes stations on one database (any SQLAlchemy URL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        #: Whether spatial questions run in the database (PostgreSQL + PostGIS, schema 0006+).
        self.postgis = engine.dialect.name == "postgresql"
        #: The engine for reads of one statement on PostgreSQL: autocommit, so a read costs
        #: no ``BEGIN`` and no ``ROLLBACK`` round trip (the same pool as :attr:`engine`).
        self._reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if self.postgis else engine
        )

    @classmethod
    def from_url(cls, url: str) -> StationRepository:
        return cls(create_engine(url))

    # -- schema ------------------------------------------------------------------------
    def init_schema(self) -> str:
        """Create or upgrade the schema to the newest migration; return its revision."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()

    def schema_ready(self) -> bool:
        """Whether the station tables exist (``yizhan init-db`` has run)."""
        return sa.inspect(self.engine).has_table("stations")

    # -- reading -----------------------------------------------------------------------
    def revision(self) -> int:
        """A counter bumped by every write (0 for a fresh database)."""
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(meta.c.value).where(meta.c.key == "revision"))
            return int(value.scalar() or 0)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(stations)).scalar_one()

    def get(self, station_id: str) -> Station | None:
        with self.engine.connect() as conn:
            row = conn.execute(stations.select().where(stations.c.id == station_id)).first()
        return _from_row(row._mapping) if row else None

    def all(self) -> list[Station]:
        """Every station, ordered by id."""
        with self.engine.connect() as conn:
            rows = conn.execute(stations.select().order_by(stations.c.id)).mappings()
            return [_from_row(r) for r in rows]

    def _where(self, q: StationQuery) -> list[sa.ColumnElement[bool]]:
        return _where(q, self.postgis)

    def query(
        self, q: StationQuery = StationQuery(), limit: int | None = None, offset: int = 0
    ) -> tuple[list[Station], int]:
        """Stations matching ``q`` ordered by id, and the total number matched."""
        where = self._where(q)
        with self.engine.connect() as conn:
            total = conn.execute(
                sa.select(sa.func.count()).select_from(stations).where(*where)
            ).scalar_one()
            sel = stations.select().where(*where).order_by(stations.c.id).offset(offset)
            if limit is not None:
                sel = sel.limit(limit)
            return [_from_row(r) for r in conn.execute(sel).mappings()], total

    def nearest(
        self,
        lon: float,
        lat: float,
        k: int = 5,
        q: StationQuery = StationQuery(),
        max_distance_m: float | None = None,
    ) -> list[Nearby]:
        """The ``k`` stations matching ``q`` nearest to ``(lon, lat)``, nearest first.

        For a cold or too large in-memory index. On PostGIS, one statement: the GiST index's
        KNN order (``ORDER BY geom <-> point LIMIT k``, planar degrees) gives ``k`` candidates
        in a materialised CTE; the farthest of them (great-circle) bounds an indexed radius
        query that finds every station that may be nearer, and exact distances on the sphere
        order them (ties by id). The statement is a server-side prepared statement on its
        connection (parsing its text cost more than running it), planned for each point. On
        SQLite: numpy over the matches (a full scan: the in-memory
        index is the SQLite way).
        """
        if k < 1:
            return []
        if not self.postgis:
            return self._measure(lon, lat, q, max_distance_m, limit=k)
        from geo.store import postgis

        values = {"lon": float(lon), "lat": float(lat), "k": k, "max_m": max_distance_m}
        with self._reader.connect() as conn, postgis.prepared(conn):
            result = conn.execute(_nearest_statement(q, max_distance_m is not None), values)
            rows = result.mappings().all()
        return [Nearby(_from_row(r), float(r["_distance_m"])) for r in rows]

    def within(
        self, lon: float, lat: float, radius_m: float, q: StationQuery = StationQuery()
    ) -> list[Nearby]:
        """Every station matching ``q`` within ``radius_m`` of ``(lon, lat)``, nearest first
        (PostGIS: ``ST_DWithin`` on geography behind the indexed envelope)."""
        if not self.postgis:
            return self._measure(lon, lat, q, radius_m)
        from geo.store import postgis

        dist = postgis.distance_m(lon, lat)
        sel = (
            sa.select(stations, dist.label("_distance_m"))
            .where(*self._where(q), postgis.within_m(lon, lat, radius_m))
            .order_by(sa.literal_column("_distance_m"), stations.c.id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(sel).mappings().all()
        return [Nearby(_from_row(r), float(r["_distance_m"])) for r in rows]

    def _measure(
        self,
        lon: float,
        lat: float,
        q: StationQuery,
        radius_m: float | None,
        limit: int | None = None,
    ) -> list[Nearby]:
        """SQLite: stations matching ``q`` (inside the circle's envelope when ``radius_m``),
        with great-circle distances, nearest first, those beyond ``radius_m`` left out."""
        c = stations.c
        where = [*self._where(q), c.lon.is_not(None), c.lat.is_not(None)]
        if radius_m is not None:
            dlat = np.degrees(radius_m / EARTH_RADIUS_M) * 1.001 + 1e-9
            top = min(abs(lat) + dlat, 89.999)
            dlon = 180.0 if top >= 89.0 else dlat / np.cos(np.radians(top))
            where += [c.lat >= lat - dlat, c.lat <= lat + dlat]
            if dlon < 180.0:
                where += [c.lon >= lon - dlon, c.lon <= lon + dlon]
        with self.engine.connect() as conn:
            pos = conn.execute(sa.select(c.id, c.lon, c.lat).where(*where)).all()
        if not pos:
            return []
        ids = [p[0] for p in pos]
        d = np.asarray(
            distance_m(lon, lat, np.array([p[1] for p in pos]), np.array([p[2] for p in pos]))
        )
        order = np.lexsort((np.asarray(ids), d))
        if radius_m is not None:
            order = order[d[order] <= radius_m]
        order = order[:limit]
        by_id = {s.id: s for s in self._get_many([ids[i] for i in order])}
        return [Nearby(by_id[ids[i]], float(d[i])) for i in order]

    def _get_many(self, ids: Sequence[str]) -> list[Station]:
        out: list[Station] = []
        with self.engine.connect() as conn:
            for i in range(0, len(ids), _CHUNK):
                sel = stations.select().where(stations.c.id.in_(ids[i : i + _CHUNK]))
                out += [_from_row(r) for r in conn.execute(sel).mappings()]
        return out

    def positions(self) -> list[tuple[str, str, float | None, float | None]]:
        """``(id, name, lon, lat)`` of every station (cheap; for duplicate checks)."""
        c = stations.c
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.select(c.id, c.name, c.lon, c.lat))]

    # -- writing -----------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: everything written inside commits together or not at all."""
        with self.engine.begin() as conn:
            yield conn

    def save(
        self,
        items: Iterable[Station],
        conn: Connection | None = None,
        *,
        actor: str = "unknown",
        source: str = "unknown",
        reason: str = "",
        expected_versions: Mapping[str, int] | None = None,
        action: str | None = None,
    ) -> SaveResult:
        """Insert new stations and update changed ones (by id), in one transaction, with one
        history row per created or changed station (:mod:`geo.store.history`).

        A station whose stored row equals the new one (ignoring ``updated_at`` and
        ``version``) is left as it is and writes no history, so re-importing a file changes
        nothing. Stations without ``updated_at`` get the time of the save. Each written
        station's ``version`` goes up by one (a new one starts at 1, or after the last
        version of a deleted station with that id).

        Parameters
        ----------
        actor, source, reason
            Who (user name, ``cli:<os user>``; ``"unknown"`` when the caller does not say),
            through what (:data:`geo.store.history.SOURCES`) and why; stored with the history.
        expected_versions
            Station id -> the version the change was based on (0: a station that must not
            exist yet). When the stored version differs, nothing is written and
            :class:`geo.errors.Conflict` says what changed since.
        action
            Overrides the recorded action (e.g. ``"revert"``); by default ``create``,
            ``edit``, ``close`` or ``reopen`` from the change.
        """
        if conn is None:
            with self.transaction() as conn:
                return self.save(
                    items,
                    conn,
                    actor=actor,
                    source=source,
                    reason=reason,
                    expected_versions=expected_versions,
                    action=action,
                )
        self._lock_writes(conn)
        now = datetime.now(UTC)
        rows = [_to_row(s) for s in items]
        result = SaveResult()
        existing: dict[str, dict] = {}
        ids = [r["id"] for r in rows]
        for i in range(0, len(ids), _CHUNK):
            sel = stations.select().where(stations.c.id.in_(ids[i : i + _CHUNK]))
            for r in conn.execute(sel).mappings():
                existing[r["id"]] = _to_row(_from_row(r))
        self._check_versions(conn, expected_versions, existing)
        inserts, updates = [], []
        versions: list[dict] = []
        existing_before: dict[str, dict] = {}  # records of deleted stations created again
        for row in rows:
            old = existing.get(row["id"])
            if old is not None and _comparable(old) == _comparable(row):
                result.unchanged.append(row["id"])
                continue
            if row["updated_at"] is None:
                row["updated_at"] = now
            if old is None:
                inserts.append(row)
                result.inserted.append(row["id"])
            else:
                row["version"] = old["version"] + 1
                updates.append({**row, "_id": row["id"], "_old_version": old["version"]})
                result.updated.append(row["id"])
        if inserts:
            # A new id starts at 1; an id deleted before continues its history.
            past = hist.latest_versions(conn, [r["id"] for r in inserts], _CHUNK)
            for row in inserts:
                row["version"] = past.get(row["id"], 0) + 1
                if row["id"] in past:  # compare with the record it was deleted with
                    last = self._version_in(conn, row["id"], past[row["id"]]).record
                    existing_before[row["id"]] = {**last, "status": "deleted"}
            conn.execute(stations.insert(), inserts)
        if updates:
            stmt = (
                stations.update()
                .where(
                    stations.c.id == sa.bindparam("_id"),
                    stations.c.version == sa.bindparam("_old_version"),
                )
                .values({k: sa.bindparam(k) for k in _STATION_FIELDS if k != "id"})
            )
            params = [{k: v for k, v in u.items() if k != "id"} for u in updates]
            done = conn.execute(stmt, params).rowcount
            if conn.dialect.supports_sane_multi_rowcount and done != len(updates):
                # Unreachable while every writer takes _lock_writes; a writer that does not
                # (raw SQL) must not have its change overwritten.
                raise hist.conflict(conn, updates[0]["_id"], updates[0]["_old_version"], -1)
        written = [{k: v for k, v in u.items() if not k.startswith("_")} for u in updates]
        for row in inserts + written:
            old = existing.get(row["id"])
            record = hist.record_of(row)
            before = hist.record_of(old) if old is not None else existing_before.get(row["id"])
            versions.append(
                self._version_row(
                    row["id"],
                    row["version"],
                    action or hist.action_of(old and before, record),
                    record,
                    hist.diff(before, record),
                    actor,
                    source,
                    reason,
                    now,
                    hist.area_codes(before, record),
                )
            )
        if versions:
            conn.execute(station_versions.insert(), versions)
        if inserts or updates:
            self._bump(conn)
        LOGGER.info(
            "saved stations: %d new, %d updated, %d unchanged (by %s via %s)",
            len(result.inserted),
            len(result.updated),
            len(result.unchanged),
            actor,
            source,
        )
        return result

    @staticmethod
    def _version_row(
        station_id: str,
        version: int,
        action: str,
        record: dict,
        changes: dict,
        actor: str,
        source: str,
        reason: str,
        at: datetime,
        areas: str,
    ) -> dict:
        return {
            "station_id": station_id,
            "version": version,
            "action": action,
            "record": record,
            "changes": changes,
            "actor": actor or "unknown",
            "source": source or "unknown",
            "reason": reason or "",
            "at": at,
            "area_codes": areas,
        }

    def _check_versions(
        self,
        conn: Connection,
        expected: Mapping[str, int] | None,
        existing: Mapping[str, dict],
    ) -> None:
        """Raise :class:`geo.errors.Conflict` for the first station whose stored version is
        not the expected one (a station not stored, or deleted, has version 0)."""
        if not expected:
            return
        missing = [sid for sid in expected if sid not in existing]
        stored = {sid: row["version"] for sid, row in existing.items()}
        if missing:
            sel = stations.select().where(stations.c.id.in_(missing))
            stored.update({r["id"]: int(r["version"]) for r in conn.execute(sel).mappings()})
        for sid in sorted(expected):
            current = stored.get(sid, 0)
            if current != int(expected[sid]):
                raise hist.conflict(conn, sid, int(expected[sid]), current)

    def delete(
        self,
        ids: Sequence[str],
        conn: Connection | None = None,
        *,
        actor: str = "unknown",
        source: str = "unknown",
        reason: str = "",
        expected_versions: Mapping[str, int] | None = None,
    ) -> int:
        """Delete stations by id; return how many were deleted.

        The row leaves ``stations`` (so no public read shows it) and a ``delete`` version
        with the last full record is written to the history in the same transaction:
        :meth:`revert` restores it. ``actor``, ``source``, ``reason`` and
        ``expected_versions`` as for :meth:`save`.
        """
        if conn is None:
            with self.transaction() as conn:
                return self.delete(
                    ids,
                    conn,
                    actor=actor,
                    source=source,
                    reason=reason,
                    expected_versions=expected_versions,
                )
        self._lock_writes(conn)
        now = datetime.now(UTC)
        existing: dict[str, dict] = {}
        for i in range(0, len(ids), _CHUNK):
            sel = stations.select().where(stations.c.id.in_(ids[i : i + _CHUNK]))
            for r in conn.execute(sel).mappings():
                existing[r["id"]] = _to_row(_from_row(r))
        self._check_versions(conn, expected_versions, existing)
        n = 0
        for i in range(0, len(ids), _CHUNK):
            n += conn.execute(
                stations.delete().where(stations.c.id.in_(ids[i : i + _CHUNK]))
            ).rowcount
        versions = []
        for sid, row in existing.items():
            record = hist.record_of(row)
            versions.append(
                self._version_row(
                    sid,
                    row["version"] + 1,
                    "delete",
                    record,
                    {"status": [record.get("status"), "deleted"]},
                    actor,
                    source,
                    reason,
                    now,
                    hist.area_codes(record),
                )
            )
        if versions:
            conn.execute(station_versions.insert(), versions)
        if n:
            self._bump(conn)
        return n

    # -- history (issue 15 item 6) -------------------------------------------------------
    def history(self, station_id: str) -> list[hist.StationVersion]:
        """Every version of a station, oldest first (empty for an unknown id)."""
        with self.engine.connect() as conn:
            return hist.changes_since(conn, station_id, 0)

    def version(self, station_id: str, n: int) -> hist.StationVersion:
        """Version ``n`` of a station; :class:`geo.errors.NotFound` if there is none."""
        c = station_versions.c
        sel = station_versions.select().where(c.station_id == station_id, c.version == n)
        with self.engine.connect() as conn:
            row = conn.execute(sel).mappings().first()
        if row is None:
            raise NotFound(f"station {station_id} has no version {n}", station_id=station_id)
        return hist.StationVersion.from_row(row)

    def deleted(self, area: str | None = None) -> list[hist.StationVersion]:
        """The ``delete`` versions of stations deleted and not restored (in ``area``)."""
        c = station_versions.c
        last = (
            sa.select(c.station_id, sa.func.max(c.version).label("v"))
            .group_by(c.station_id)
            .subquery()
        )
        sel = (
            station_versions.select()
            .join(last, sa.and_(c.station_id == last.c.station_id, c.version == last.c.v))
            .where(c.action == "delete", ~c.station_id.in_(sa.select(stations.c.id)))
            .order_by(c.station_id)
        )
        if area:
            sel = sel.where(hist.area_clause(area))
        with self.engine.connect() as conn:
            return [hist.StationVersion.from_row(r) for r in conn.execute(sel).mappings()]

    def revert(
        self,
        station_id: str,
        to_version: int,
        *,
        actor: str = "unknown",
        reason: str = "",
        expected_version: int | None = None,
    ) -> hist.StationVersion | None:
        """Make version ``to_version`` of a station current again, as a new ``revert``
        version (source ``revert``), in one transaction.

        A deleted station comes back; reverting to a ``delete`` version deletes it.
        ``expected_version`` (the version the user looked at) refuses with
        :class:`geo.errors.Conflict` when the station changed since. Returns the new version,
        or ``None`` when the station already equals that version (nothing written).
        """
        with self.transaction() as conn:
            self._lock_writes(conn)
            target = self._version_in(conn, station_id, to_version)
            row = conn.execute(stations.select().where(stations.c.id == station_id)).first()
            current = (
                int(row._mapping["version"])
                if row is not None
                else hist.latest_versions(conn, [station_id]).get(station_id, 0)
            )
            expected = {station_id: current if expected_version is None else expected_version}
            if target.action == "delete":
                if row is None:
                    return None
                self.delete(
                    [station_id],
                    conn,
                    actor=actor,
                    source="revert",
                    reason=reason,
                    expected_versions=expected,
                )
            else:
                if row is None and expected_version is not None:
                    # A deleted station: the version it was deleted at is its version.
                    if expected_version != current:
                        raise hist.conflict(conn, station_id, expected_version, current)
                    expected = {}
                elif row is None:
                    expected = {}
                values = {k: target.record.get(k) for k in _STATION_FIELDS}
                values["updated_at"] = None
                values["version"] = current
                station = _from_row(values)  # type: ignore[arg-type]
                done = self.save(
                    [station],
                    conn,
                    actor=actor,
                    source="revert",
                    reason=reason,
                    expected_versions=expected,
                    action="revert",
                )
                if not (done.inserted or done.updated):
                    return None
            return hist.changes_since(conn, station_id, current)[-1]

    def _version_in(self, conn: Connection, station_id: str, n: int) -> hist.StationVersion:
        c = station_versions.c
        sel = station_versions.select().where(c.station_id == station_id, c.version == n)
        row = conn.execute(sel).mappings().first()
        if row is None:
            raise NotFound(f"station {station_id} has no version {n}", station_id=station_id)
        return hist.StationVersion.from_row(row)

    def audit(
        self,
        area: str | None = None,
        since: date | datetime | None = None,
        until: date | datetime | None = None,
    ) -> list[hist.StationVersion]:
        """Every history row of stations in ``area`` (an admin code: province, prefecture,
        county or township; ``None``: all) between ``since`` and ``until``, by time.

        Dates are whole days in China time (``until`` inclusive); datetimes are exact
        (``until`` exclusive). See :func:`geo.store.history.time_bounds`.
        """
        c = station_versions.c
        lo, hi = hist.time_bounds(since, until)
        sel = station_versions.select().order_by(c.at, c.station_id, c.version)
        if area:
            sel = sel.where(hist.area_clause(area))
        if lo is not None:
            sel = sel.where(c.at >= lo)
        if hi is not None:
            sel = sel.where(c.at < hi)
        with self.engine.connect() as conn:
            return [hist.StationVersion.from_row(r) for r in conn.execute(sel).mappings()]

    def _lock_writes(self, conn: Connection) -> None:
        """Take the writers' lock for this transaction: the revision row, locked.

        A second writer waits here until the first commits, then reads what it wrote, so
        change detection, inserts and the revision bump never interleave. PostgreSQL: the
        row is created if missing (``ON CONFLICT DO NOTHING``) and locked ``FOR UPDATE``;
        SQLite: any write takes the database's write lock (``busy_timeout`` waits for it).
        """
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            conn.execute(pg_insert(meta).values(key="revision", value="0").on_conflict_do_nothing())
            conn.execute(sa.select(meta.c.value).where(meta.c.key == "revision").with_for_update())
        else:
            conn.execute(meta.update().where(meta.c.key == "revision").values(value=meta.c.value))

    def _bump(self, conn: Connection) -> None:
        conn.execute(
            meta.update()
            .where(meta.c.key == "revision")
            .values(value=sa.cast(sa.cast(meta.c.value, sa.Integer) + 1, sa.String))
        )
        if self.engine.dialect.name != "postgresql":
            conn.execute(
                sa.insert(meta).from_select(
                    ["key", "value"],
                    sa.select(sa.literal("revision"), sa.literal("1")).where(
                        ~sa.exists().where(meta.c.key == "revision")
                    ),
                )
            )
