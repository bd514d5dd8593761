"""In-memory spatial index over stations: nearest k, within a radius, in a bounding box.

Positions are unit vectors on the sphere in a :class:`scipy.spatial.cKDTree`; the straight-line
(chord) distance between unit vectors is monotone in the great-circle distance, so the tree's
nearest neighbours are the great-circle nearest ones, and distances are converted back to
metres exactly (``d = 2R·asin(chord/2)``). Filters by kind and status use a tree over just
those stations (built on first use, a bounded number cached); filters by service (bit masks)
and open-now (evaluated once per distinct hours text) examine a growing number of candidates
from that tree, never re-examining one. :class:`LiveIndex` rebuilds the index when the
repository's revision changes.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy.spatial import cKDTree

from geo.clusters import ClusterHierarchy
from geo.crs import EARTH_RADIUS_M
from geo.models import Nearby, Station, Status

LOGGER = logging.getLogger(__name__)


def lonlat_to_xyz(lon, lat) -> np.ndarray:
    """Unit vectors (..., 3) for WGS-84 longitudes/latitudes in degrees (vectorised)."""
    lon_r = np.radians(np.asarray(lon, dtype=float))
    lat_r = np.radians(np.asarray(lat, dtype=float))
    cos_lat = np.cos(lat_r)
    return np.stack([cos_lat * np.cos(lon_r), cos_lat * np.sin(lon_r), np.sin(lat_r)], axis=-1)


def chord_to_m(chord):
    """Great-circle metres for a chord length between unit vectors (vectorised)."""
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.clip(np.asarray(chord) / 2.0, 0.0, 1.0))


def m_to_chord(distance_m: float) -> float:
    """Chord length between unit vectors for a great-circle distance in metres."""
    return 2.0 * math.sin(min(distance_m / EARTH_RADIUS_M, math.pi) / 2.0)


#: Web-Mercator's latitude limit (EPSG:3857 and every XYZ tile scheme stop here).
MERCATOR_MAX_LAT = 85.05112878
#: Web-Mercator's world width in metres (2πR with the spherical radius 6378137 m).
MERCATOR_WORLD_M = 2.0 * math.pi * 6378137.0
#: Cluster cell size in screen pixels (256-pixel tiles).
CLUSTER_CELL_PX = 60


def lonlat_to_mercator(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Web-Mercator (EPSG:3857) metres for WGS-84 degrees (vectorised; latitudes clamped)."""
    r = 6378137.0
    lat_c = np.clip(np.asarray(lat, dtype=float), -MERCATOR_MAX_LAT, MERCATOR_MAX_LAT)
    x = r * np.radians(np.asarray(lon, dtype=float))
    y = r * np.log(np.tan(np.pi / 4.0 + np.radians(lat_c) / 2.0))
    return x, y


def _isin(codes: np.ndarray, wanted: list[int]) -> np.ndarray:
    """``np.isin`` for small integer codes (one comparison when one code is wanted)."""
    if len(wanted) == 1:
        return codes == wanted[0]
    return np.isin(codes, wanted, kind="table") if wanted else np.zeros(len(codes), bool)


@dataclass(frozen=True)
class Clusters:
    """Grid clusters of the stations in a bounding box (see :meth:`StationIndex.clusters`).

    ``count``, ``lon``/``lat`` (members' mean position) and ``bbox`` (rows of
    ``min_lon, min_lat, max_lon, max_lat``) are parallel arrays, one entry per non-empty cell.
    """

    total: int
    cell_m: float
    count: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    bbox: np.ndarray


@dataclass(frozen=True)
class Filter:
    """Which stations a query may return.

    ``kinds``/``services`` empty means any; ``services`` requires all listed;
    ``statuses`` empty means any status; ``open_at`` keeps stations open at that time.
    """

    kinds: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset({Status.OPEN.value})
    open_at: datetime | None = None

    @classmethod
    def of(
        cls,
        kinds: Iterable[str] = (),
        services: Iterable[str] = (),
        statuses: Iterable[str] | None = (Status.OPEN.value,),
        open_at: datetime | None = None,
    ) -> Filter:
        return cls(frozenset(kinds), frozenset(services), frozenset(statuses or ()), open_at)


ANY = Filter(statuses=frozenset())


class EncodedFeatures:
    """Every station's encoded display feature in one ``bytes`` blob, found by station id.

    The compact form of :attr:`StationIndex.properties_cache` (a ``cache`` for
    :func:`geo.geojson.stations_geojson_bytes`): one blob and an offsets array instead of one
    ``bytes`` object per station. Reading a feature slices the blob and writes to no shared
    object but the blob's header, so after a fork the pages stay shared between workers
    (200,000 separate objects would each have their reference count written on first use).
    Features encoded later (a station not in the blob) go to a small dict beside it; only
    that dict is emptied by :meth:`clear`, and :func:`len` counts only it.
    """

    def __init__(self, encoded: dict[str, bytes]) -> None:
        ids = list(encoded)
        sizes = np.fromiter((len(encoded[i]) for i in ids), np.int64, len(ids))
        self._offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum(sizes, out=self._offsets[1:])
        self._blob = b"".join(encoded.values())
        self._position = {sid: p for p, sid in enumerate(ids)}
        self._more: dict[str, bytes] = {}

    @classmethod
    def join(cls, parts: Sequence[EncodedFeatures]) -> EncodedFeatures:
        """One :class:`EncodedFeatures` holding the features of ``parts``, in order."""
        out = cls({})
        out._blob = b"".join(p._blob for p in parts)
        starts = np.cumsum([0] + [len(p._blob) for p in parts])
        out._offsets = np.concatenate(
            [np.zeros(1, np.int64)]
            + [p._offsets[1:] + s for p, s in zip(parts, starts, strict=False)]
        )
        out._position = {}
        for p in parts:
            base = len(out._position)
            out._position.update((sid, base + i) for sid, i in p._position.items())
        return out

    def get(self, station_id: str, default: bytes | None = None) -> bytes | None:
        p = self._position.get(station_id)
        if p is None:
            return self._more.get(station_id, default)
        return self._blob[int(self._offsets[p]) : int(self._offsets[p + 1])]

    def __setitem__(self, station_id: str, encoded: bytes) -> None:
        self._more[station_id] = encoded

    def __len__(self) -> int:
        return len(self._more)

    def clear(self) -> None:
        self._more.clear()

    @property
    def nbytes(self) -> int:
        """Bytes held by the blob and its offsets (not the id map)."""
        return len(self._blob) + self._offsets.nbytes


class StationIndex:
    """A read-only spatial index over stations that have coordinates."""

    #: Subset trees kept per (kinds, statuses) filter; the oldest is dropped past this.
    MAX_SUBSET_TREES = 32
    #: Stations encoded at a time by :meth:`encode_features`.
    ENCODE_CHUNK = 5000

    def __init__(self, stations: Sequence[Station]) -> None:
        located = [s for s in stations if s.lon is not None and s.lat is not None]
        self.stations: list[Station] = located
        #: Encoded display features by station id (``geo.geojson.stations_geojson_bytes``'s
        #: ``cache``): built on first use, dropped with the index when the registry changes;
        #: all at once, compactly, by :meth:`encode_features`.
        self.properties_cache: dict | EncodedFeatures = {}
        self.lon = np.fromiter((s.lon for s in located), float, len(located))
        self.lat = np.fromiter((s.lat for s in located), float, len(located))
        self.xyz = lonlat_to_xyz(self.lon, self.lat).reshape(-1, 3)
        self._lon_order = np.argsort(self.lon, kind="stable")  # bbox queries: binary search
        self._lon_sorted = self.lon[self._lon_order]
        self._kind = [s.kind for s in located]
        self._status = [s.status.value for s in located]
        self._hours_text = [s.hours or "" for s in located]
        # Services as bit masks: one int per station, one bit per service code.
        self._service_bit: dict[str, int] = {}
        masks = []
        for s in located:
            m = 0
            for code in s.services:
                m |= 1 << self._service_bit.setdefault(code, len(self._service_bit))
            masks.append(m)
        self._services = masks
        # The same attributes as arrays, for vectorised masks (bbox queries, clusters).
        self._kind_codes = {k: i for i, k in enumerate(dict.fromkeys(self._kind))}
        self._status_codes = {k: i for i, k in enumerate(dict.fromkeys(self._status))}
        self._kind_arr = np.fromiter(
            (self._kind_codes[k] for k in self._kind), np.int32, len(located)
        )
        self._status_arr = np.fromiter(
            (self._status_codes[k] for k in self._status), np.int32, len(located)
        )
        self._service_arr = (
            np.array(masks, dtype=np.uint64) if len(self._service_bit) <= 64 else None
        )
        texts, first, inverse = np.unique(
            np.array(self._hours_text, dtype=object), return_index=True, return_inverse=True
        )
        self._hours_texts: list[str] = texts.tolist()  # distinct hours texts
        self._hours_first: list[int] = first.tolist()  # a station with each text
        self._hours_code = inverse.reshape(-1).astype(np.intp)  # text number per station
        self.merc_x, self.merc_y = lonlat_to_mercator(self.lon, self.lat)
        self._tree = cKDTree(self.xyz) if located else None
        self._subsets: dict[tuple, tuple[cKDTree | None, list[int]]] = {}
        self._hierarchies: dict[tuple, tuple[ClusterHierarchy, np.ndarray]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.stations)

    def encode_features(self) -> None:
        """Encode every station's display feature now and keep them in one blob
        (:class:`EncodedFeatures`), instead of one at a time on first use.

        For a server that builds the index once and forks workers that share it
        (:func:`webapp.serving.serve_workers`).
        """
        from geo.geojson import stations_geojson_bytes

        chunks: list[EncodedFeatures] = []
        for start in range(0, len(self.stations), self.ENCODE_CHUNK):
            encoded: dict[str, bytes] = {}  # a chunk at a time: small transient objects
            stations_geojson_bytes(self.stations[start : start + self.ENCODE_CHUNK], cache=encoded)
            chunks.append(EncodedFeatures(encoded))
        self.properties_cache = EncodedFeatures.join(chunks)

    # -- helpers -------------------------------------------------------------------------
    def _tree_for(self, f: Filter) -> tuple[cKDTree | None, list[int] | None]:
        """The tree holding exactly the stations of ``f``'s kinds and statuses.

        Returns the tree and the map from its positions to station positions (``None``
        for the full tree). Subset trees are built on first use and cached.
        """
        if not f.kinds and not f.statuses:
            return self._tree, None
        key = (f.kinds, f.statuses)
        found = self._subsets.get(key)
        if found is not None:
            return found
        with self._lock:
            if key not in self._subsets:
                keep = np.ones(len(self.stations), dtype=bool)
                if f.kinds:
                    keep &= np.isin(np.array(self._kind, dtype=object), list(f.kinds))
                if f.statuses:
                    keep &= np.isin(np.array(self._status, dtype=object), list(f.statuses))
                ids = np.flatnonzero(keep)
                tree = cKDTree(self.xyz[ids]) if len(ids) else None
                if len(self._subsets) >= self.MAX_SUBSET_TREES:
                    self._subsets.pop(next(iter(self._subsets)))
                self._subsets[key] = (tree, ids.tolist())
            return self._subsets[key]

    def _service_mask(self, f: Filter) -> int | None:
        """Bit mask of the required services; ``None`` if one is offered nowhere."""
        mask = 0
        for code in f.services:
            if code not in self._service_bit:
                return None
            mask |= 1 << self._service_bit[code]
        return mask

    def _checker(self, f: Filter):
        """A predicate on station positions for the filters trees do not handle."""
        need = self._service_mask(f)
        if need is None:
            return lambda i: False
        services, status, hours = self._services, self._status, self._hours_text
        at = f.open_at
        open_by_text: dict[str, bool] = {}  # one evaluation per distinct hours text

        def accept(i: int) -> bool:
            if need and services[i] & need != need:
                return False
            if at is not None:
                if status[i] != Status.OPEN.value:
                    return False
                text = hours[i]
                ok = open_by_text.get(text)
                if ok is None:
                    hours_i = self.stations[i].opening_hours  # unreadable text: unknown
                    ok = open_by_text[text] = hours_i.is_open(at) is True
                if not ok:
                    return False
            return True

        return accept if (need or at is not None) else None

    # -- queries -------------------------------------------------------------------------
    def query(self, lon, lat, k: int = 1, workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Unfiltered vectorised k-nearest: ``(distance_m, index)`` arrays of shape (n, k).

        ``index`` refers to :attr:`stations`; missing neighbours have distance ``inf`` and
        index ``len(self)``.
        """
        if self._tree is None:
            shape = (*np.shape(lon), k)
            return np.full(shape, np.inf), np.full(shape, 0, dtype=np.intp)
        chord, idx = self._tree.query(
            lonlat_to_xyz(lon, lat), k=[*range(1, k + 1)], workers=workers
        )
        return chord_to_m(chord), np.asarray(idx)

    def nearest(
        self,
        lon: float,
        lat: float,
        k: int = 5,
        f: Filter = Filter(),
        max_distance_m: float | None = None,
    ) -> list[Nearby]:
        """The ``k`` nearest stations to a point passing filter ``f``, nearest first."""
        if k < 1:
            return []
        tree, ids = self._tree_for(f)
        if tree is None:
            return []
        accept = self._checker(f)
        lon_r, lat_r = math.radians(lon), math.radians(lat)
        cl = math.cos(lat_r)
        point = (cl * math.cos(lon_r), cl * math.sin(lon_r), math.sin(lat_r))
        bound = m_to_chord(max_distance_m) if max_distance_m is not None else math.inf
        n = tree.n
        want = min(n, k if accept is None else max(4 * k, 16))
        examined = 0
        found: list[Nearby] = []
        stations, two_r = self.stations, 2.0 * EARTH_RADIUS_M
        while True:
            chord, pos = tree.query(point, k=[*range(1, want + 1)], distance_upper_bound=bound)
            chords, positions = np.asarray(chord).tolist(), np.asarray(pos).tolist()
            for c, p in zip(chords[examined:], positions[examined:], strict=True):
                if p >= n:  # no more points within the bound
                    return found
                i = ids[p] if ids is not None else p
                if accept is None or accept(i):
                    found.append(Nearby(stations[i], two_r * math.asin(min(c * 0.5, 1.0))))
                    if len(found) == k:
                        return found
            if want >= n:
                return found
            examined, want = want, min(n, want * 4)

    def within(self, lon: float, lat: float, radius_m: float, f: Filter = Filter()) -> list[Nearby]:
        """Every station passing ``f`` within ``radius_m`` of a point, nearest first."""
        tree, ids = self._tree_for(f)
        if tree is None:
            return []
        point = lonlat_to_xyz(lon, lat)
        pos = tree.query_ball_point(point, m_to_chord(radius_m))
        idx = [ids[p] for p in pos] if ids is not None else list(pos)
        accept = self._checker(f)
        if accept is not None:
            idx = [i for i in idx if accept(i)]
        idx_arr = np.asarray(idx, dtype=np.intp)
        dist = chord_to_m(np.linalg.norm(self.xyz[idx_arr] - point, axis=1))
        order = np.argsort(dist, kind="stable")
        return [
            Nearby(self.stations[i], float(d))
            for i, d in zip(idx_arr[order].tolist(), dist[order].tolist(), strict=True)
        ]

    def mask(self, f: Filter = ANY, bbox: Sequence[float] | None = None) -> np.ndarray:
        """Boolean mask over :attr:`stations` of those passing ``f`` (and inside ``bbox``).

        Vectorised: a bbox first narrows to a slice of the stations sorted by longitude
        (binary search), the filters then look only at that slice; kinds, statuses and
        services are array comparisons, and opening hours are evaluated once per distinct
        hours text.
        """
        n = len(self.stations)
        idx = None  # candidate positions (all stations when None)
        if bbox is not None:
            x0, y0, x1, y1 = bbox
            i0 = np.searchsorted(self._lon_sorted, x0, side="left")
            i1 = np.searchsorted(self._lon_sorted, x1, side="right")
            idx = np.sort(self._lon_order[i0:i1])
            lat = self.lat[idx]
            idx = idx[(lat >= y0) & (lat <= y1)]

        def sub(arr: np.ndarray) -> np.ndarray:
            return arr if idx is None else arr[idx]

        ok = np.ones(n if idx is None else len(idx), dtype=bool)
        if f.kinds:
            codes = [self._kind_codes[k] for k in f.kinds if k in self._kind_codes]
            ok &= _isin(sub(self._kind_arr), codes)
        if f.statuses:
            codes = [self._status_codes[k] for k in f.statuses if k in self._status_codes]
            ok &= _isin(sub(self._status_arr), codes)
        need = self._service_mask(f)
        if need is None:
            return np.zeros(n, dtype=bool)
        if need:
            if self._service_arr is not None:
                ok &= (sub(self._service_arr) & np.uint64(need)) == np.uint64(need)
            else:  # more than 64 distinct services: Python ints
                pos = np.flatnonzero(ok)
                where = pos if idx is None else idx[pos]
                good = [self._services[i] & need == need for i in where.tolist()]
                ok[pos[~np.asarray(good, dtype=bool)]] = False
        if f.open_at is not None:
            ok &= sub(self._status_arr) == self._status_codes.get(Status.OPEN.value, -1)
            hours = sub(self._hours_code)
            hour_codes = np.unique(hours[ok])
            open_code = np.zeros(len(self._hours_texts), dtype=bool)
            for c in hour_codes.tolist():
                station = self.stations[self._hours_first[c]]
                open_code[c] = station.opening_hours.is_open(f.open_at) is True
            ok &= open_code[hours]
        if idx is None:
            return ok
        keep = np.zeros(n, dtype=bool)
        keep[idx[ok]] = True
        return keep

    def in_bbox(
        self,
        min_lon: float,
        min_lat: float,
        max_lon: float,
        max_lat: float,
        f: Filter = ANY,
    ) -> list[Station]:
        """Stations passing ``f`` inside a WGS-84 bounding box, in index order (by id)."""
        idx = np.flatnonzero(self.mask(f, (min_lon, min_lat, max_lon, max_lat)))
        return [self.stations[i] for i in idx.tolist()]

    def hierarchy(self, f: Filter = ANY) -> tuple[ClusterHierarchy, np.ndarray]:
        """The tile cluster hierarchy of the stations passing ``f`` (kinds, services, statuses).

        Returns the hierarchy and the station positions (in :attr:`stations`) of its points.
        Built on first use per filter and cached with the index (so once per registry
        revision); ``f.open_at`` is ignored (the hierarchy cannot depend on the time).
        """
        key = (f.kinds, f.services, f.statuses)
        found = self._hierarchies.get(key)
        if found is not None:
            return found
        with self._lock:
            if key not in self._hierarchies:
                plain = Filter(f.kinds, f.services, f.statuses)
                ids = np.flatnonzero(self.mask(plain))
                built = ClusterHierarchy(self.lon[ids], self.lat[ids])
                if len(self._hierarchies) >= self.MAX_SUBSET_TREES:
                    self._hierarchies.pop(next(iter(self._hierarchies)))
                self._hierarchies[key] = (built, ids)
            return self._hierarchies[key]

    def clusters(
        self, bbox: Sequence[float], zoom: float, f: Filter = ANY, keep: np.ndarray | None = None
    ) -> Clusters:
        """Grid clusters of the stations passing ``f`` inside ``bbox`` for a map at ``zoom``.

        The grid is Web-Mercator cells of :data:`CLUSTER_CELL_PX` screen pixels at
        ``floor(zoom)`` (256-pixel tiles), aligned on the world's origin so that clusters stay
        put while the map pans. Vectorised: one mask, one grouping of the cell numbers.
        ``keep`` (a precomputed :meth:`mask`) skips computing the mask again.
        """
        if keep is None:
            keep = self.mask(f, bbox)
        idx = np.flatnonzero(keep)
        cell_m = MERCATOR_WORLD_M / (256.0 * 2.0 ** math.floor(zoom)) * CLUSTER_CELL_PX
        empty = np.zeros(0)
        if len(idx) == 0:
            return Clusters(0, cell_m, empty.astype(np.int64), empty, empty, empty.reshape(0, 4))
        cx = np.floor(self.merc_x[idx] / cell_m).astype(np.int64)
        cy = np.floor(self.merc_y[idx] / cell_m).astype(np.int64)
        cx -= cx.min()
        cy -= cy.min()
        nx = int(cx.max()) + 1
        key = cy * nx + cx
        if nx * (int(cy.max()) + 1) <= 4 * len(idx) + 65536:  # small grid: no sort needed
            counts_all = np.bincount(key)
            cells = np.flatnonzero(counts_all)
            slot = np.full(len(counts_all), -1, dtype=np.int64)
            slot[cells] = np.arange(len(cells))
            group = slot[key]
        else:
            cells, group = np.unique(key, return_inverse=True)
            group = group.reshape(-1)
        m = len(cells)
        lon, lat = self.lon[idx], self.lat[idx]
        count = np.bincount(group, minlength=m)
        box = np.empty((m, 4))
        box[:, 0], box[:, 1] = np.inf, np.inf
        box[:, 2], box[:, 3] = -np.inf, -np.inf
        np.minimum.at(box[:, 0], group, lon)
        np.minimum.at(box[:, 1], group, lat)
        np.maximum.at(box[:, 2], group, lon)
        np.maximum.at(box[:, 3], group, lat)
        return Clusters(
            total=len(idx),
            cell_m=cell_m,
            count=count,
            lon=np.bincount(group, weights=lon, minlength=m) / count,
            lat=np.bincount(group, weights=lat, minlength=m) / count,
            bbox=box,
        )


class DatabaseIndex:
    """The repository answering the questions of a :class:`StationIndex` that is not there.

    What :class:`LiveIndex` serves nearest and bounding-box questions from while the in-memory
    index is cold (its first build after start, or after a registry change, runs in the
    background) or when the registry is larger than ``max_stations``: PostGIS on PostgreSQL;
    on SQLite the ``lon``/``lat`` index for a bbox, and the repository's scan for nearest.
    Same filter semantics and same order as the index (nearest first; by id in a bbox).
    """

    def __init__(self, repo) -> None:
        self.repo = repo
        #: Encoded display features (as :attr:`StationIndex.properties_cache`), per answer.
        self.properties_cache: dict = {}

    @staticmethod
    def _query(f: Filter, bbox: Sequence[float] | None = None, county: str | None = None):
        from geo.store import StationQuery

        return StationQuery(
            kinds=tuple(sorted(f.kinds)),
            services=tuple(sorted(f.services)),
            statuses=tuple(sorted(f.statuses)),
            county=county or None,
            bbox=tuple(bbox) if bbox is not None else None,  # type: ignore[arg-type]
            located=True,
        )

    @staticmethod
    def _open(f: Filter):
        """The open-now test of :meth:`StationIndex.mask` (``None`` without ``open_at``)."""
        at = f.open_at
        if at is None:
            return None
        memo: dict[str, bool] = {}  # one evaluation per distinct hours text

        def accept(s: Station) -> bool:
            if s.status is not Status.OPEN:
                return False
            text = s.hours or ""
            if text not in memo:
                memo[text] = s.opening_hours.is_open(at) is True
            return memo[text]

        return accept

    def nearest(
        self,
        lon: float,
        lat: float,
        k: int = 5,
        f: Filter = Filter(),
        max_distance_m: float | None = None,
    ) -> list[Nearby]:
        """As :meth:`StationIndex.nearest`; open-now examines a growing number of the nearest."""
        q = self._query(f)
        accept = self._open(f)
        if accept is None or k < 1:
            return self.repo.nearest(lon, lat, k, q, max_distance_m)
        want = max(4 * k, 16)
        while True:
            hits = self.repo.nearest(lon, lat, want, q, max_distance_m)
            found = [h for h in hits if accept(h.station)]
            if len(found) >= k or len(hits) < want:
                return found[:k]
            want *= 4

    def page(
        self,
        f: Filter = ANY,
        bbox: Sequence[float] | None = None,
        county: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> tuple[list[Station], int]:
        """Stations passing ``f`` (in ``bbox``, of ``county``) by id: a page and the total.

        As ``/api/stations`` selects from the index; a ``bbox`` whose west edge is east of
        its east edge crosses the antimeridian.
        """
        q = self._query(f, bbox, county)
        accept = self._open(f)
        if accept is None:
            return self.repo.query(q, limit=limit, offset=offset)
        found = [s for s in self.repo.query(q)[0] if accept(s)]
        end = None if limit is None else offset + limit
        return found[offset:end], len(found)


class _Pending(StationIndex):
    """A stand-in for the index of a :class:`LiveIndex` at a revision it is still building:
    any use waits for that build (:meth:`LiveIndex.at_least`) and is the built index's."""

    def __init__(self, live: LiveIndex, revision: int) -> None:  # no index of its own
        object.__setattr__(self, "_target", (live, revision))

    def __getattribute__(self, name: str):
        live, revision = object.__getattribute__(self, "_target")
        return getattr(live.at_least(revision), name)


class LiveIndex:
    """A :class:`StationIndex` kept in step with a repository.

    :meth:`get` asks the repository for its revision (one tiny query, at most every
    ``check_interval_s`` seconds) and rebuilds the index when stations were written since
    it was built, by this process or another (``yizhan import`` beside a running server).
    :meth:`source` never waits for a build: while the index is cold (its first build, or a
    rebuild after a registry change, runs in a background thread) or when the registry holds
    more than ``max_stations`` stations, it gives a :class:`DatabaseIndex` instead.
    """

    def __init__(
        self, repo, check_interval_s: float = 1.0, max_stations: int | None = None
    ) -> None:
        self.repo = repo
        self.check_interval_s = check_interval_s
        #: Above this many stations nearest and bbox questions go to the database.
        self.max_stations = max_stations
        self._state: tuple[StationIndex | None, int | None] = (None, None)
        self._checked = -math.inf
        self._lock = threading.Lock()
        self._latest: tuple[float, int] | None = None  # (when read, revision) for source()
        self._size: tuple[int, int] | None = None  # (revision, station count)
        self._builder: threading.Thread | None = None
        self._builder_lock = threading.Lock()

    @property
    def _index(self) -> StationIndex | None:
        return self._state[0]

    @property
    def revision(self) -> int | None:
        """The repository revision the current index was built from (``None`` before)."""
        return self._state[1]

    def snapshot(self) -> tuple[StationIndex, int]:
        """The index at the registry's current revision, and that revision; never waits.

        When the index is not built at the current revision yet (the first build, or a
        rebuild after the registry changed), a build starts in the background and the index
        given is a stand-in that waits for it when first used. A view that needs only the
        revision (an ``ETag``), or answers from :meth:`source`, does not wait at all; a view
        that uses the index waits for the build, so it never pairs old stations with a new
        revision.
        """
        index, built = self._state  # one read: both from the same rebuild
        if index is not None and time.monotonic() - self._checked < self.check_interval_s:
            assert built is not None
            return index, built
        revision = self._latest_revision()
        if index is not None and built == revision:
            self._checked = time.monotonic()
            return index, revision
        self._build_in_background()
        return _Pending(self, revision), revision

    def adopt(self, index: StationIndex, revision: int) -> None:
        """Use ``index``, built elsewhere at ``revision`` (before a fork, in the server's
        master process), as this live index's current one.

        Nothing else changes: the next check of the registry's revision rebuilds it as usual
        when the registry has moved on since.
        """
        with self._lock:
            self._state = (index, revision)
            self._checked = -math.inf  # check the revision on the next use

    def close(self, timeout_s: float = 60.0) -> None:
        """Wait for a background build to end (it holds one of the repository's pooled
        connections while it reads the stations), so the engine can be disposed after."""
        with self._builder_lock:
            builder = self._builder
        if builder is not None:
            builder.join(timeout=timeout_s)

    def at_least(self, revision: int) -> StationIndex:
        """The index built at ``revision`` or later, waiting for (or running) its build."""
        index, built = self._state
        if index is not None and built is not None and built >= revision:
            return index
        with self._lock:  # a background build holds it: wait for that one
            index, built = self._state
            if index is None or built is None or built < revision:
                self._checked = -math.inf
                self._rebuild()
        index = self._state[0]
        assert index is not None  # _rebuild builds an index or raises
        return index

    def get(self) -> StationIndex:
        """The current index; the first call builds it (or waits for the background build
        :meth:`ready` started), later rebuilds never block readers.

        When the repository changed, one caller rebuilds (reading every station: seconds
        for a national registry) while the others keep answering from the previous index.
        """
        now = time.monotonic()
        if self._index is not None and now - self._checked < self.check_interval_s:
            return self._index
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._rebuild()
            index = self._index
            assert index is not None  # _rebuild builds the first index or raises
            return index
        if not self._lock.acquire(blocking=False):
            return self._index  # another thread is checking or rebuilding: serve the old one
        try:
            if time.monotonic() - self._checked >= self.check_interval_s:
                self._rebuild()
        finally:
            self._lock.release()
        return self._index

    def _latest_revision(self) -> int:
        """The repository's revision, read at most every ``check_interval_s`` seconds."""
        now = time.monotonic()
        latest = self._latest
        if latest is None or now - latest[0] >= self.check_interval_s:
            latest = self._latest = (now, self.repo.revision())
        return latest[1]

    def too_large(self, revision: int | None = None) -> bool:
        """Whether the registry holds more than :attr:`max_stations` stations (counted once
        per revision)."""
        if self.max_stations is None:
            return False
        revision = self._latest_revision() if revision is None else revision
        size = self._size
        if size is None or size[0] != revision:
            size = self._size = (revision, self.repo.count())
        return size[1] > self.max_stations

    def ready(self) -> StationIndex | None:
        """The index if it is built at the registry's current revision, else ``None`` at once
        (a build is started in the background; too large a registry gets none)."""
        revision = self._latest_revision()
        if self.too_large(revision):
            return None
        index, built = self._state
        if index is not None and built == revision:
            return index
        self._build_in_background()
        return None

    def source(self) -> StationIndex | DatabaseIndex:
        """What answers nearest and bbox questions now, without waiting for a build: the
        in-memory index when it is current, else the database (:class:`DatabaseIndex`)."""
        index = self.ready()
        return index if index is not None else DatabaseIndex(self.repo)

    def _build_in_background(self) -> None:
        with self._builder_lock:
            if self._builder is not None and self._builder.is_alive():
                return
            self._builder = threading.Thread(
                target=self._build_quietly, name="yizhan-index-build", daemon=True
            )
            self._builder.start()

    def _build_quietly(self) -> None:
        """The background build: rebuild unless another thread is at it; failures are
        logged (the database away: requests say so, and the next one starts a new build)."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            self._checked = -math.inf  # check now, whatever the interval
            self._rebuild()
        except Exception:  # a background thread: log, never die loudly
            LOGGER.exception("building the station index failed")
        finally:
            self._lock.release()

    def _rebuild(self) -> None:
        """Rebuild if the repository's revision moved (the caller holds ``_lock``)."""
        revision = self.repo.revision()
        if self._index is None or revision != self.revision:
            index = StationIndex(self.repo.all())
            index._tree_for(Filter())  # the API's default filter: operating stations
            self._state = (index, revision)  # one assignment: readers see both or neither
        self._checked = time.monotonic()
        self._latest = (self._checked, revision)
