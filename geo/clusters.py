"""Cluster hierarchy of stations for map tiles, built once per registry revision.

The approach is Mapbox's *supercluster* (https://github.com/mapbox/supercluster,
``index.js``: ``load``, ``_cluster``, ``getTile``): positions are Web-Mercator coordinates in
``[0, 1]`` (``lngX``/``latY``); from ``max_zoom`` down to ``min_zoom`` the points of the level
below are put in a KD-tree and visited in order; a point not yet taken at this zoom takes every
not-yet-taken neighbour within ``radius_px / (extent_px · 2^z)`` and becomes a cluster at their
count-weighted centre (``point_count`` is the sum of its members' counts); a point without
neighbours stays itself. A tile ``z/x/y`` is then a range query in the level of zoom ``z``.

Here the per-zoom work is vectorised with :class:`scipy.spatial.cKDTree`: one
``query_pairs`` gives every neighbour pair at once, points without neighbours (most of them at
high zooms) are kept as they are without a Python step, and only the greedy pass over points
that have neighbours runs in a loop (over plain lists; each point's neighbours are bounded,
since the level below's clusters are at least half the radius apart). The greedy result
depends only on the visiting order (every free neighbour is taken, whatever their order), so
it equals supercluster's for the same input order.

Unlike ``getTile`` (which adds a buffer of one radius for drawing), :meth:`ClusterHierarchy.tile`
returns the clusters whose centre lies in the tile (half-open bounds; the last row and column
closed), so the tiles of one zoom partition the clusters: every station is counted once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

#: Supercluster's defaults: cluster radius in pixels of a tile ``extent_px`` wide, zooms.
RADIUS_PX = 40.0
EXTENT_PX = 256.0
MIN_ZOOM = 0
MAX_ZOOM = 16


def lon_to_x(lon) -> np.ndarray:
    """Web-Mercator x in ``[0, 1]`` for longitudes in degrees (supercluster ``lngX``)."""
    return np.asarray(lon, dtype=float) / 360.0 + 0.5


def lat_to_y(lat) -> np.ndarray:
    """Web-Mercator y in ``[0, 1]`` (north at 0) for latitudes in degrees (``latY``)."""
    s = np.sin(np.radians(np.asarray(lat, dtype=float)))
    with np.errstate(divide="ignore"):
        y = 0.5 - 0.25 * np.log((1.0 + s) / (1.0 - s)) / math.pi
    return np.clip(y, 0.0, 1.0)


def x_to_lon(x) -> np.ndarray:
    """Longitudes in degrees for Web-Mercator x in ``[0, 1]``."""
    return (np.asarray(x, dtype=float) - 0.5) * 360.0


def y_to_lat(y) -> np.ndarray:
    """Latitudes in degrees for Web-Mercator y in ``[0, 1]``."""
    y2 = np.radians(180.0 - np.asarray(y, dtype=float) * 360.0)
    return 360.0 * np.arctan(np.exp(y2)) / math.pi - 90.0


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """``(min_lon, min_lat, max_lon, max_lat)`` of the XYZ tile ``z/x/y``."""
    n = 2.0**z
    return (
        float(x_to_lon(x / n)),
        float(y_to_lat((y + 1) / n)),
        float(x_to_lon((x + 1) / n)),
        float(y_to_lat(y / n)),
    )


@dataclass(frozen=True)
class Level:
    """The clusters of one zoom, sorted by Mercator x (for range queries).

    Parallel arrays: ``x``/``y`` (Mercator ``[0, 1]``), ``count`` (stations in the
    cluster), ``bbox`` (rows ``min_lon, min_lat, max_lon, max_lat`` of the members),
    ``station`` (the station position in the source arrays for a single station, else -1)
    and ``parent`` (the position of the cluster holding this one at the zoom above this
    level's, i.e. one zoom out; -1 at the top level).
    """

    zoom: int
    x: np.ndarray
    y: np.ndarray
    count: np.ndarray
    bbox: np.ndarray
    station: np.ndarray
    parent: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    def tile(self, z: int, tx: int, ty: int) -> np.ndarray:
        """Positions (in this level) of the clusters whose centre lies in tile ``z/tx/ty``."""
        n = 2**z
        x0, x1, y0, y1 = tx / n, (tx + 1) / n, ty / n, (ty + 1) / n
        i0 = int(np.searchsorted(self.x, x0, side="left"))
        i1 = int(np.searchsorted(self.x, x1, side="right" if tx == n - 1 else "left"))
        ys = self.y[i0:i1]
        inside = (ys >= y0) & ((ys <= y1) if ty == n - 1 else (ys < y1))
        return i0 + np.flatnonzero(inside)


def greedy_groups(x: np.ndarray, y: np.ndarray, radius: float) -> np.ndarray:
    """Supercluster's greedy grouping of one zoom: the owner (a position) of every point.

    Points are visited in order; an unvisited point takes every unvisited point within
    ``radius`` (Euclidean, in the units of ``x``/``y``) and owns them and itself.
    """
    n = len(x)
    owner = np.arange(n)
    if n < 2:
        return owner
    pairs = cKDTree(np.column_stack([x, y])).query_pairs(radius, output_type="ndarray")
    if len(pairs) == 0:
        return owner
    a = np.concatenate([pairs[:, 0], pairs[:, 1]])
    b = np.concatenate([pairs[:, 1], pairs[:, 0]])
    order = np.argsort(a, kind="stable")
    a, b = a[order], b[order]
    starts = np.searchsorted(a, np.arange(n + 1)).tolist()
    nb = b.tolist()
    own = owner.tolist()
    taken = bytearray(n)
    for i in np.unique(a).tolist():  # points without neighbours own themselves
        if taken[i]:
            continue
        taken[i] = 1
        for j in nb[starts[i] : starts[i + 1]]:
            if not taken[j]:
                taken[j] = 1
                own[j] = i
    return np.asarray(own, dtype=np.intp)


class ClusterHierarchy:
    """Clusters of a set of points at every zoom from ``min_zoom`` to ``max_zoom + 1``.

    Parameters
    ----------
    lon, lat
        The stations' WGS-84 positions in degrees (the order is the visiting order).
    radius_px, extent_px
        Cluster radius in pixels of a tile ``extent_px`` pixels wide.
    min_zoom, max_zoom
        Zooms clustered; beyond ``max_zoom`` every station is its own feature.
    """

    def __init__(
        self,
        lon: np.ndarray,
        lat: np.ndarray,
        radius_px: float = RADIUS_PX,
        extent_px: float = EXTENT_PX,
        min_zoom: int = MIN_ZOOM,
        max_zoom: int = MAX_ZOOM,
    ) -> None:
        self.radius_px, self.extent_px = radius_px, extent_px
        self.min_zoom, self.max_zoom = min_zoom, max_zoom
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        x, y = lon_to_x(lon), lat_to_y(lat)
        count = np.ones(len(x), dtype=np.int64)
        bbox = np.column_stack([lon, lat, lon, lat]) if len(x) else np.zeros((0, 4))
        station = np.arange(len(x))
        # Unsorted levels first (the visiting order of supercluster), sorted at the end.
        raw: dict[int, tuple] = {max_zoom + 1: (x, y, count, bbox, station)}
        owners: dict[int, np.ndarray] = {}
        for z in range(max_zoom, min_zoom - 1, -1):
            owner = greedy_groups(x, y, radius_px / (extent_px * 2.0**z))
            heads, parent = np.unique(owner, return_inverse=True)
            parent = parent.reshape(-1)
            owners[z + 1] = parent  # position in level z of each cluster of level z+1
            m = len(heads)
            c = np.bincount(parent, weights=count, minlength=m)
            nx = np.bincount(parent, weights=x * count, minlength=m) / np.maximum(c, 1)
            ny = np.bincount(parent, weights=y * count, minlength=m) / np.maximum(c, 1)
            box = np.empty((m, 4))
            box[:, :2], box[:, 2:] = np.inf, -np.inf
            for k, fn in ((0, np.minimum), (1, np.minimum), (2, np.maximum), (3, np.maximum)):
                fn.at(box[:, k], parent, bbox[:, k])
            single = c == 1
            nx[single], ny[single] = x[heads[single]], y[heads[single]]  # exactly the point
            st = np.where(single, station[heads], -1)
            x, y, count, bbox, station = nx, ny, c.astype(np.int64), box, st
            raw[z] = (x, y, count, bbox, station)
        # Sort each level by x; remap parents to the sorted positions of the level above.
        orders = {z: np.argsort(raw[z][0], kind="stable") for z in raw}
        ranks = {}
        for z, o in orders.items():
            r = np.empty(len(o), dtype=np.intp)
            r[o] = np.arange(len(o))
            ranks[z] = r
        self.levels: dict[int, Level] = {}
        for z, (lx, ly, lc, lb, ls) in raw.items():
            o = orders[z]
            if z - 1 in ranks:
                par = ranks[z - 1][owners[z][o]]
            else:
                par = np.full(len(o), -1, dtype=np.intp)
            self.levels[z] = Level(z, lx[o], ly[o], lc[o], lb[o], ls[o], par)

    def level(self, zoom: int) -> Level:
        """The level answering map zoom ``zoom`` (clamped as supercluster's ``_limitZoom``)."""
        return self.levels[max(self.min_zoom, min(int(zoom), self.max_zoom + 1))]

    def cluster_id(self, zoom: int, position: int) -> str:
        """An id for the cluster at ``position`` of :meth:`level` ``zoom``: ``"z-position"``."""
        return f"{self.level(zoom).zoom}-{position}"

    def children(self, cluster_id: str) -> tuple[int, np.ndarray]:
        """``(zoom, positions)``: the clusters one zoom in that make up ``cluster_id``.

        Raises
        ------
        KeyError
            For an id that names no cluster of this hierarchy.
        """
        try:
            z_text, p_text = cluster_id.split("-", 1)
            z, p = int(z_text), int(p_text)
        except ValueError as exc:
            raise KeyError(cluster_id) from exc
        if z not in self.levels or z + 1 not in self.levels or not 0 <= p < len(self.levels[z]):
            raise KeyError(cluster_id)
        return z + 1, np.flatnonzero(self.levels[z + 1].parent == p)
