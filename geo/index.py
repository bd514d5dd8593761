"""In-memory spatial index over stations: nearest k, within a radius, in a bounding box.

Positions are unit vectors on the sphere in a :class:`scipy.spatial.cKDTree`; the straight-line
(chord) distance between unit vectors is monotone in the great-circle distance, so the tree's
nearest neighbours are the great-circle nearest ones, and distances are converted back to
metres exactly (``d = 2R·asin(chord/2)``). Filters by kind use one tree per kind set (built on
first use); filters by service, status and open-now examine a growing number of candidates
from the tree, so a filtered query costs about as much as an unfiltered one unless the filter
is very selective. :class:`LiveIndex` rebuilds the index when the repository's revision
changes.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy.spatial import cKDTree

from geo.crs import EARTH_RADIUS_M
from geo.hours import OpeningHours
from geo.models import Nearby, Station, Status


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


class StationIndex:
    """A read-only spatial index over stations that have coordinates."""

    def __init__(self, stations: Sequence[Station]) -> None:
        located = [s for s in stations if s.lon is not None and s.lat is not None]
        self.stations: list[Station] = located
        self.lon = np.fromiter((s.lon for s in located), float, len(located))
        self.lat = np.fromiter((s.lat for s in located), float, len(located))
        self.xyz = lonlat_to_xyz(self.lon, self.lat).reshape(-1, 3)
        self.kind = np.array([s.kind for s in located], dtype=object)
        self.status = np.array([s.status.value for s in located], dtype=object)
        self._service_sets = [frozenset(s.services) for s in located]
        self._tree = cKDTree(self.xyz) if located else None
        self._kind_trees: dict[frozenset[str], tuple[cKDTree | None, np.ndarray]] = {}
        self._hours: dict[int, OpeningHours] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.stations)

    # -- helpers -------------------------------------------------------------------------
    def _tree_for(self, kinds: frozenset[str]) -> tuple[cKDTree | None, np.ndarray | None]:
        """The tree to search and the map from its positions to station positions."""
        if not kinds:
            return self._tree, None
        with self._lock:
            if kinds not in self._kind_trees:
                ids = np.flatnonzero(np.isin(self.kind, list(kinds)))
                tree = cKDTree(self.xyz[ids]) if len(ids) else None
                self._kind_trees[kinds] = (tree, ids)
            return self._kind_trees[kinds]

    def _accepts(self, i: int, f: Filter) -> bool:
        if f.statuses and self.status[i] not in f.statuses:
            return False
        if f.services and not f.services <= self._service_sets[i]:
            return False
        if f.open_at is not None:
            hours = self._hours.get(i)
            if hours is None:
                hours = self._hours[i] = self.stations[i].opening_hours
            if self.status[i] != Status.OPEN.value or hours.is_open(f.open_at) is not True:
                return False
        return True

    @staticmethod
    def _needs_check(f: Filter) -> bool:
        return bool(f.statuses or f.services or f.open_at is not None)

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
        return chord_to_m(chord), idx

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
        tree, ids = self._tree_for(f.kinds)
        if tree is None:
            return []
        cl = math.cos(math.radians(lat))
        point = (
            cl * math.cos(math.radians(lon)),
            cl * math.sin(math.radians(lon)),
            math.sin(math.radians(lat)),
        )
        bound = m_to_chord(max_distance_m) if max_distance_m is not None else np.inf
        n = tree.n
        want = k if not self._needs_check(f) else min(n, max(4 * k, 16))
        while True:
            chord, pos = tree.query(point, k=min(want, n), distance_upper_bound=bound)
            chord, pos = np.atleast_1d(chord), np.atleast_1d(pos)
            found: list[Nearby] = []
            for c, p in zip(chord.tolist(), pos.tolist(), strict=True):
                if p >= n:
                    break
                i = int(ids[p]) if ids is not None else p
                if self._accepts(i, f):
                    found.append(Nearby(self.stations[i], float(chord_to_m(c))))
                    if len(found) == k:
                        return found
            exhausted = want >= n or (len(chord) and pos[-1] >= n)
            if exhausted:
                return found
            want = min(n, want * 4)

    def within(self, lon: float, lat: float, radius_m: float, f: Filter = Filter()) -> list[Nearby]:
        """Every station passing ``f`` within ``radius_m`` of a point, nearest first."""
        tree, ids = self._tree_for(f.kinds)
        if tree is None:
            return []
        point = lonlat_to_xyz(lon, lat)
        idx = np.asarray(tree.query_ball_point(point, m_to_chord(radius_m)), dtype=np.intp)
        if ids is not None:
            idx = ids[idx]
        if self._needs_check(f):
            idx = idx[[self._accepts(int(i), f) for i in idx]] if len(idx) else idx
        dist = chord_to_m(np.linalg.norm(self.xyz[idx] - point, axis=1))
        order = np.argsort(dist, kind="stable")
        return [
            Nearby(self.stations[i], float(d))
            for i, d in zip(idx[order].tolist(), dist[order].tolist(), strict=True)
        ]

    def in_bbox(
        self, min_lon: float, min_lat: float, max_lon: float, max_lat: float, f: Filter = ANY
    ) -> list[Station]:
        """Stations passing ``f`` inside a WGS-84 bounding box (vectorised mask)."""
        mask = (
            (self.lon >= min_lon)
            & (self.lon <= max_lon)
            & (self.lat >= min_lat)
            & (self.lat <= max_lat)
        )
        if f.kinds:
            mask &= np.isin(self.kind, list(f.kinds))
        idx = np.flatnonzero(mask)
        return [self.stations[i] for i in idx if not self._needs_check(f) or self._accepts(i, f)]


class LiveIndex:
    """A :class:`StationIndex` kept in step with a repository.

    :meth:`get` asks the repository for its revision (one tiny query) and rebuilds the
    index when stations were written since it was built, by this process or another.
    """

    def __init__(self, repo) -> None:
        self.repo = repo
        self._index: StationIndex | None = None
        self._revision: int | None = None
        self._lock = threading.Lock()

    def get(self) -> StationIndex:
        revision = self.repo.revision()
        if self._index is None or revision != self._revision:
            with self._lock:
                if self._index is None or revision != self._revision:
                    self._index = StationIndex(self.repo.all())
                    self._revision = revision
        return self._index
