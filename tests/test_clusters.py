"""The tile cluster hierarchy (geo.clusters) against an independent brute-force supercluster."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from geo.clusters import ClusterHierarchy, greedy_groups, tile_bounds, x_to_lon, y_to_lat


def _merc(lon, lat):
    """Supercluster's lngX/latY, written out again from its definition."""
    s = math.sin(lat * math.pi / 180)
    y = 0.5 - 0.25 * math.log((1 + s) / (1 - s)) / math.pi
    return lon / 360 + 0.5, min(1.0, max(0.0, y))


def _brute_supercluster(points, max_zoom=16, radius=40, extent=256):
    """A line-by-line port of supercluster's load/_cluster with O(n²) neighbour search.

    Returns {zoom: sorted list of (count, round(x, 9), round(y, 9))}.
    """
    cur = [(x, y, 1) for x, y in (_merc(lon, lat) for lon, lat in points)]
    out = {max_zoom + 1: sorted((c, round(x, 9), round(y, 9)) for x, y, c in cur)}
    for z in range(max_zoom, -1, -1):
        r = radius / (extent * 2**z)
        seen = [False] * len(cur)
        nxt = []
        for i, (x, y, c) in enumerate(cur):
            if seen[i]:
                continue
            seen[i] = True
            wx, wy, n, found = x * c, y * c, c, False
            for j, (bx, by, bc) in enumerate(cur):
                if not seen[j] and (bx - x) ** 2 + (by - y) ** 2 <= r * r:
                    seen[j] = True
                    found = True
                    wx, wy, n = wx + bx * bc, wy + by * bc, n + bc
            nxt.append((wx / n, wy / n, n) if found else (x, y, c))
        cur = nxt
        out[z] = sorted((c, round(x, 9), round(y, 9)) for x, y, c in cur)
    return out


@pytest.fixture(scope="module")
def points():
    rng = random.Random(42)
    pts = [(rng.gauss(108.35, 0.4), rng.gauss(22.82, 0.3)) for _ in range(250)]
    pts += [(rng.uniform(73, 135), rng.uniform(18, 53)) for _ in range(150)]
    return pts


def test_hierarchy_equals_brute_force_supercluster(points):
    lon, lat = np.array(points).T
    h = ClusterHierarchy(lon, lat)
    expected = _brute_supercluster(points)
    for z, want in expected.items():
        lv = h.levels[z]
        got = sorted(
            (int(c), round(float(x), 9), round(float(y), 9))
            for c, x, y in zip(lv.count, lv.x, lv.y, strict=True)
        )
        assert [g[0] for g in got] == [w[0] for w in want], z
        assert np.allclose([g[1:] for g in got], [w[1:] for w in want], atol=1e-9), z


def test_every_station_counted_once_per_zoom_over_all_tiles(points):
    lon, lat = np.array(points).T
    h = ClusterHierarchy(lon, lat)
    for z in range(0, 8):
        total = 0
        seen_stations = []
        for tx in range(2**z):
            for ty in range(2**z):
                lv = h.level(z)
                pos = lv.tile(z, tx, ty)
                total += int(lv.count[pos].sum())
                seen_stations += lv.station[pos][lv.station[pos] >= 0].tolist()
                # every centre inside its tile
                x0, y0, x1, y1 = tile_bounds(z, tx, ty)
                clon, clat = x_to_lon(lv.x[pos]), y_to_lat(lv.y[pos])
                assert ((clon >= x0 - 1e-9) & (clon <= x1 + 1e-9)).all()
                assert ((clat >= y0 - 1e-9) & (clat <= y1 + 1e-9)).all()
        assert total == len(points), z
        assert len(seen_stations) == len(set(seen_stations))


def test_members_within_radius_of_their_cluster(points):
    """Each point of level z+1 is within the radius of the cluster it joined at z."""
    lon, lat = np.array(points).T
    h = ClusterHierarchy(lon, lat)
    for z in range(0, 17):
        below, here = h.levels[z + 1], h.levels[z]
        r = h.radius_px / (h.extent_px * 2**z)
        # Children sums equal the parent's count, and the greedy owner was within r:
        sums = np.bincount(below.parent, weights=below.count, minlength=len(here))
        assert np.array_equal(sums.astype(int), here.count)
        # the members' positions lie within 2r of the weighted centre (owner within r of
        # each member, centre a convex combination of members)
        d = np.hypot(below.x - here.x[below.parent], below.y - here.y[below.parent])
        assert (d <= 2 * r + 1e-12).all(), z


def test_children_expand_a_cluster(points):
    lon, lat = np.array(points).T
    h = ClusterHierarchy(lon, lat)
    lv = h.level(5)
    p = int(np.argmax(lv.count))
    z, kids = h.children(h.cluster_id(5, p))
    assert z == 6 and int(h.levels[6].count[kids].sum()) == int(lv.count[p])
    with pytest.raises(KeyError):
        h.children("99-0")


def test_greedy_groups_visiting_order():
    # 0 and 1 within r, 1 and 2 within r, 0 and 2 not: 0 takes 1, 2 stays alone
    owner = greedy_groups(np.array([0.0, 1.0, 2.0]), np.zeros(3), 1.5)
    assert owner.tolist() == [0, 0, 2]
