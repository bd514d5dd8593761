"""Demand signals from the public map: counts on H3 cells by day, for planners (issue 15 item 8).

What the locator tells the server becomes **counts only**, never a record of a person:

* a search or "use my location" answered by ``/api/nearest`` adds 1 to
  ``(day, H3 cell of the point, kind)`` in ``demand_signals``, ``kind`` being
  ``<origin>_<served|unserved>`` (:data:`POINT_KINDS`). The point is turned into its cell in
  :meth:`SignalRecorder.record_point` and dropped there: no coordinate, IP, address or query
  text is kept, not even in memory beyond that call;
* a station-page view or a navigation click adds 1 to ``(day, station_id, kind)`` in
  ``station_signals`` (:data:`STATION_KINDS`).

Resolution 7 (:data:`RESOLUTION`): H3's average hexagon there is 5.16 km² (edge ≈ 1.2 km),
the issue's "~5 km²": coarse enough that a cell holds a village or a few city blocks, not a
house, and fine enough to sit inside the one-hour service circle's gaps (a gap of the coverage
map is tens of km²). The served answers are counted too, so a planner can read the share of
unserved searches of a cell; the planning layer and the plan demand use the unserved kinds.

Small counts are suppressed (:data:`MIN_COUNT`): a cell whose total over the period asked is
below it is left out of the layer and of the plan demand, and only the number of such cells
and their summed count are reported (``attrs``), so a single person's search is never placed
on a map. Suppression is applied to the period's totals, after summing days.

Writes are cheap for the web process: :class:`SignalRecorder` adds to an in-memory buffer per
process and a background thread writes it every :data:`FLUSH_EVERY_S` seconds (or at
:data:`FLUSH_EVENTS` events, and at close/exit) in one transaction of atomic upserts
(:func:`add_counts`: ``INSERT … ON CONFLICT DO UPDATE SET count = count + excluded.count`` on
SQLite and PostgreSQL), so several workers add up correctly.

Reading: :func:`signal_cells` (a GeoDataFrame of H3 cell polygons with counts),
:func:`signal_demand` (weighted demand points, a :class:`geo.demand.base.Demand` built by
:func:`geo.demand.points.from_points`, which the plan workflow accepts) and
:func:`station_counts` (views and navigation clicks per station).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa
from shapely.geometry import Point, Polygon
from sqlalchemy.engine import Connection, Engine

from geo.demand.base import Demand
from geo.errors import ValidationError
from geo.store.schema import demand_signals, station_signals

log = logging.getLogger(__name__)

#: H3 resolution of the cells (average hexagon 5.16 km²; see the module docstring).
RESOLUTION = 7
#: Where a point came from (the locator's ``origin`` parameter of ``/api/nearest``).
ORIGINS = ("search", "locate")
#: Kinds of cell counts: origin and whether the nearest station served the point.
POINT_KINDS = ("search_unserved", "locate_unserved", "search_served", "locate_served")
#: The kinds a planner's layer and plan demand use by default.
UNSERVED_KINDS = ("search_unserved", "locate_unserved")
#: Kinds of station counts.
STATION_KINDS = ("view", "navigate")
#: A cell whose count over the period is below this is suppressed (never shown or used).
MIN_COUNT = 3
#: The recorder writes its buffer at least this often (seconds) ...
FLUSH_EVERY_S = 5.0
#: ... or as soon as it holds this many events.
FLUSH_EVENTS = 1000
#: Days are China's calendar days (UTC+8, no daylight saving).
CHINA_TZ = timezone(timedelta(hours=8))


def cell_of(lon: float, lat: float) -> str:
    """The H3 cell (resolution :data:`RESOLUTION`) of a WGS-84 point."""
    import h3

    return str(h3.latlng_to_cell(float(lat), float(lon), RESOLUTION))


def china_day(now_s: float) -> date:
    """The calendar day in China (UTC+8) of a Unix time in seconds."""
    return datetime.fromtimestamp(now_s, CHINA_TZ).date()


def point_kind(origin: str, served: bool) -> str:
    """``search_unserved`` …: the cell-count kind of a point from ``origin``."""
    if origin not in ORIGINS:
        raise ValidationError(f"origin must be one of {', '.join(ORIGINS)}", field="origin")
    return f"{origin}_{'served' if served else 'unserved'}"


# ------------------------------------------------------------------------------------------
# Writing


def _insert(dialect: str) -> Any:
    """The dialect's ``insert`` with ``on_conflict_do_update`` (SQLite or PostgreSQL)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert
    raise NotImplementedError(f"demand signals need SQLite or PostgreSQL, not {dialect}")


def add_counts(
    conn: Connection,
    cells: Mapping[tuple[date, str, str], int] | None = None,
    stations: Mapping[tuple[date, str, str], int] | None = None,
) -> None:
    """Add counts in one atomic upsert per table (the caller commits).

    Parameters
    ----------
    conn
        An open connection in a transaction.
    cells
        ``(day, cell, kind) -> count`` for ``demand_signals``.
    stations
        ``(day, station_id, kind) -> count`` for ``station_signals``.
    """
    insert = _insert(conn.dialect.name)
    for table, key, counts in (
        (demand_signals, "cell", cells),
        (station_signals, "station_id", stations),
    ):
        if not counts:
            continue
        rows = [
            {"day": day, key: what, "kind": kind, "count": int(n)}
            for (day, what, kind), n in sorted(counts.items())
        ]
        stmt = insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["day", key, "kind"],
            set_={"count": table.c.count + stmt.excluded.count},
        )
        conn.execute(stmt, rows)


class SignalRecorder:
    """Per-process buffer of demand-signal counts, written by a background thread.

    Parameters
    ----------
    engine
        The shared database.
    enabled
        ``False`` (``YIZHAN_DEMAND_SIGNALS=off``): every ``record_*`` does nothing.
    flush_every_s, flush_events
        Write the buffer at least this often, or as soon as it holds this many events.
    clock
        Unix time in seconds (the day of a count is taken when it is recorded).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        enabled: bool = True,
        flush_every_s: float = FLUSH_EVERY_S,
        flush_events: int = FLUSH_EVENTS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.enabled = enabled
        self.flush_every_s = flush_every_s
        self.flush_events = flush_events
        self.clock = clock
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._cells: Counter[tuple[date, str, str]] = Counter()
        self._stations: Counter[tuple[date, str, str]] = Counter()
        self._events = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._closed = False

    # -- recording (cheap: a dict increment; the thread does the database work) ----------
    def record_point(self, origin: str, lon: float, lat: float, served: bool) -> None:
        """Count a located point: its cell and kind; the coordinates go no further."""
        if not self.enabled or self._closed:
            return
        kind = point_kind(origin, served)
        self._add("cells", (china_day(self.clock()), cell_of(lon, lat), kind))

    def record_station(self, station_id: str, kind: str) -> None:
        """Count a station-page view or navigation click (``kind`` in :data:`STATION_KINDS`)."""
        if not self.enabled or self._closed:
            return
        if kind not in STATION_KINDS:
            raise ValidationError(f"kind must be one of {', '.join(STATION_KINDS)}", field="kind")
        self._add("stations", (china_day(self.clock()), str(station_id)[:64], kind))

    def _add(self, which: str, key: tuple[date, str, str]) -> None:
        with self._lock:  # the buffer is looked up under the lock: flush() swaps it
            if self._pid != os.getpid():  # a forked worker (gunicorn): its own buffer, thread
                self._cells, self._stations, self._events = Counter(), Counter(), 0
                self._thread, self._pid = None, os.getpid()
            (self._cells if which == "cells" else self._stations)[key] += 1
            self._events += 1
            full = self._events >= self.flush_events
            if self._thread is None:
                self._start()
        if full:
            self._wake.set()

    @property
    def pending(self) -> int:
        """Events recorded and not yet written."""
        with self._lock:
            return self._events

    # -- writing --------------------------------------------------------------------------
    def flush(self) -> int:
        """Write the buffer now (one transaction); return how many events it held.

        A failed write puts the counts back, to be tried at the next flush."""
        with self._flush_lock:
            with self._lock:
                cells, stations, events = self._cells, self._stations, self._events
                self._cells, self._stations, self._events = Counter(), Counter(), 0
            if not events:
                return 0
            try:
                with self.engine.begin() as conn:
                    add_counts(conn, cells, stations)
            except Exception:
                log.exception("demand signals: write failed; %d events kept for later", events)
                with self._lock:
                    self._cells.update(cells)
                    self._stations.update(stations)
                    self._events += events
                return 0
            return events

    def _start(self) -> None:
        """Start the writer thread (called under the lock, on the first event)."""
        self._thread = threading.Thread(target=self._run, name="demand-signals", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_every_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            self.flush()

    def close(self) -> None:
        """Stop the writer thread and write what is left (at shutdown; idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=10)
            atexit.unregister(self.close)
        self.flush()


# ------------------------------------------------------------------------------------------
# Reading


def _period(column: sa.Column, since: date | None, until: date | None) -> list:
    where = []
    if since is not None:
        where.append(column >= since)
    if until is not None:
        where.append(column <= until)
    return where


def cell_counts(
    engine: Engine,
    *,
    since: date | None = None,
    until: date | None = None,
    kinds: Iterable[str] = UNSERVED_KINDS,
) -> pd.DataFrame:
    """``cell``, ``count``: the counts of ``kinds`` per cell, summed over ``since..until``
    (inclusive days; ``None``: open)."""
    kinds = list(kinds)
    unknown = [k for k in kinds if k not in POINT_KINDS]
    if unknown:
        raise ValidationError(f"unknown signal kinds {unknown}", field="kinds")
    t = demand_signals.c
    query = (
        sa.select(t.cell, sa.func.sum(t.count).label("n"))
        .where(t.kind.in_(kinds), *_period(t.day, since, until))
        .group_by(t.cell)
        .order_by(t.cell)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return pd.DataFrame(
        {"cell": [r.cell for r in rows], "count": [int(r.n) for r in rows]},
        columns=["cell", "count"],
    )


def _cell_polygon(cell: str) -> Polygon:
    import h3

    return Polygon([(lon, lat) for lat, lon in h3.cell_to_boundary(cell)])


def signal_cells(
    engine: Engine,
    region: object = None,
    *,
    since: date | None = None,
    until: date | None = None,
    kinds: Iterable[str] = UNSERVED_KINDS,
    min_count: int = MIN_COUNT,
    gazetteer: Any = None,
) -> gpd.GeoDataFrame:
    """The signal counts as H3 cell polygons (EPSG:4326): ``cell_id``, ``count``, ``lon``,
    ``lat`` (the cell's centre) and ``geometry``.

    Parameters
    ----------
    region
        A 6-digit admin code or WGS-84 polygon: only cells whose centre is inside;
        ``None``: every cell.
    since, until
        Inclusive days (China time); ``None``: open.
    kinds
        Which counts (:data:`POINT_KINDS`); default the unserved ones.
    min_count
        Cells whose total is below this are suppressed; ``attrs`` hold
        ``suppressed_cells`` and ``suppressed_count`` (inside the region), ``min_count``
        and ``resolution``.
    """
    import h3

    counts = cell_counts(engine, since=since, until=until, kinds=kinds)
    centres = [h3.cell_to_latlng(c) for c in counts["cell"]]
    counts["lon"] = [lon for _, lon in centres]
    counts["lat"] = [lat for lat, _ in centres]
    if region is not None and len(counts):
        from geo.regions import as_region_geometry

        shape = as_region_geometry(region, gazetteer)
        pairs = zip(counts["lon"], counts["lat"], strict=True)
        inside = [shape.contains(Point(x, y)) for x, y in pairs]
        counts = counts[inside]
    small = counts["count"] < min_count
    shown = counts[~small].reset_index(drop=True)
    gdf = gpd.GeoDataFrame(
        {
            "cell_id": shown["cell"].astype(str),
            "count": shown["count"].astype(int),
            "lon": shown["lon"].astype(float).round(6),
            "lat": shown["lat"].astype(float).round(6),
        },
        geometry=[_cell_polygon(c) for c in shown["cell"]],
        crs="EPSG:4326",
    )
    gdf.attrs.update(
        suppressed_cells=int(small.sum()),
        suppressed_count=int(counts.loc[small, "count"].sum()),
        min_count=int(min_count),
        resolution=RESOLUTION,
    )
    return gdf


def signal_demand(
    engine: Engine,
    region: object,
    *,
    since: date | None = None,
    until: date | None = None,
    kinds: Iterable[str] = UNSERVED_KINDS,
    min_count: int = MIN_COUNT,
    gazetteer: Any = None,
) -> Demand:
    """The (unsuppressed) signal cells as weighted demand points: each cell's centre with
    ``weight`` = its count, through :func:`geo.demand.points.from_points` (unit ``weight``),
    the demand the plan workflow takes.

    Raises
    ------
    ValidationError
        No cell reaches ``min_count`` in the region and period.
    """
    from geo.demand.points import from_points

    cells = signal_cells(
        engine,
        region,
        since=since,
        until=until,
        kinds=kinds,
        min_count=min_count,
        gazetteer=gazetteer,
    )
    if not len(cells):
        raise ValidationError(
            f"no demand signals with at least {min_count} counts per cell in the region and period",
            field="demand",
        )
    demand = from_points(signal_points(cells), region=region, gazetteer=gazetteer)
    demand.source = "demand signals (H3 r7 cells, public map)"
    return demand


def signal_points(cells: gpd.GeoDataFrame) -> pd.DataFrame:
    """``lon``, ``lat``, ``weight``, ``name`` (the cell id): a signal layer as the weighted
    point table :func:`geo.demand.points.from_points` reads (also the CLI's CSV)."""
    return pd.DataFrame(
        {
            "lon": cells["lon"].to_numpy(),
            "lat": cells["lat"].to_numpy(),
            "weight": cells["count"].to_numpy(),
            "name": cells["cell_id"].to_numpy(),
        }
    )


def write_signals(cells: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write a signal layer as GeoJSON (cell polygons) or CSV (cell centres, ``weight``:
    a file the planner's demand-points upload takes). Only cell ids and numbers are
    written: no text from users, so no cell needs formula escaping."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        fc = cells.to_geo_dict(na="null", drop_id=True)
        fc["signals"] = dict(cells.attrs)
        import orjson

        path.write_bytes(orjson.dumps(fc))
    elif suffix == ".csv":
        signal_points(cells).to_csv(path, index=False, encoding="utf-8")
    else:
        raise ValidationError("output must be .geojson, .json or .csv", field="out")
    return path


def station_counts(
    engine: Engine,
    *,
    since: date | None = None,
    until: date | None = None,
    station_ids: Iterable[str] | None = None,
) -> pd.DataFrame:
    """``station_id``, ``view``, ``navigate``: counts per station over the period."""
    t = station_signals.c
    where = _period(t.day, since, until)
    if station_ids is not None:
        where.append(t.station_id.in_(list(station_ids)))
    query = (
        sa.select(t.station_id, t.kind, sa.func.sum(t.count).label("n"))
        .where(*where)
        .group_by(t.station_id, t.kind)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(
        [(r.station_id, r.kind, int(r.n)) for r in rows],
        columns=["station_id", "kind", "count"],
    )
    if frame.empty:
        return pd.DataFrame({"station_id": [], **{k: [] for k in STATION_KINDS}}).astype(
            {k: int for k in STATION_KINDS}
        )
    wide = frame.pivot_table(
        index="station_id", columns="kind", values="count", aggfunc="sum", fill_value=0
    )
    wide = wide.reindex(columns=list(STATION_KINDS), fill_value=0).astype(int)
    return wide.reset_index().rename_axis(columns=None)


def today(clock: Callable[[], float] = time.time) -> date:
    """Today in China (UTC+8)."""
    return china_day(clock())


def days_before(n: int, clock: Callable[[], float] = time.time) -> date:
    """The day ``n`` days before today (China time)."""
    return today(clock) - timedelta(days=n)


__all__ = [
    "CHINA_TZ",
    "FLUSH_EVENTS",
    "FLUSH_EVERY_S",
    "MIN_COUNT",
    "ORIGINS",
    "POINT_KINDS",
    "RESOLUTION",
    "STATION_KINDS",
    "UNSERVED_KINDS",
    "SignalRecorder",
    "add_counts",
    "cell_counts",
    "cell_of",
    "china_day",
    "days_before",
    "point_kind",
    "signal_cells",
    "signal_demand",
    "signal_points",
    "station_counts",
    "today",
    "write_signals",
]
