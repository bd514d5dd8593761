"""Coverage engine at scale: crow-fly 1,000,000 cells × 10,000 stations, and a Guangxi-sized
run on H3 resolution-8 cells (≈ 330,000 cells), with time and peak memory.

Peer for the crow-fly step: a plain ``scipy.spatial.cKDTree`` query on unit-sphere vectors of
the same points (the floor any nearest-station search pays).

Run: .venv/bin/python bench/bench_coverage.py [--quick]
"""

from __future__ import annotations

import argparse
import resource
import sys

import numpy as np
from _common import Timer, print_header, print_table, versions, write_json

from geo import demand as dm
from geo.coverage import compute_coverage
from geo.index import lonlat_to_xyz
from geo.models import Station
from geo.regions import region_polygon
from geo.travel import CrowflyModel


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller inputs (smoke test)")
    args = ap.parse_args()
    n_cells, n_stations = (100_000, 1_000) if args.quick else (1_000_000, 10_000)
    rng = np.random.default_rng(42)
    print_header(
        "bench_coverage: crow-fly at scale, Guangxi-sized run",
        versions("numpy", "scipy", "h3", "geopandas", "shapely"),
        {"cells": n_cells, "stations": n_stations, "seed": 42},
    )

    # -- 1. crow-fly: 1M demand points x 10k stations within 60 minutes ------------------
    lon = rng.uniform(104.5, 112.0, n_cells)
    lat = rng.uniform(21.5, 26.4, n_cells)
    slon = rng.uniform(104.5, 112.0, n_stations)
    slat = rng.uniform(21.5, 26.4, n_stations)
    model = CrowflyModel("car")
    with Timer() as t_ours:
        times = model.time_to_nearest(lon, lat, slon, slat, 60.0)
    from scipy.spatial import cKDTree

    with Timer() as t_ref:
        tree = cKDTree(lonlat_to_xyz(slon, slat))
        _, ref_idx = tree.query(lonlat_to_xyz(lon, lat), k=1, workers=-1)
    agree = np.mean(times.station[times.station >= 0] == ref_idx[times.station >= 0])
    rows = [
        [
            "crow-fly time_to_nearest (ours)",
            t_ours.s,
            t_ours.s / t_ref.s,
            f"{np.isfinite(times.minutes).mean():.1%} within 60 min",
        ],
        ["cKDTree build + query (peer)", t_ref.s, 1.0, f"nearest agrees {agree:.4%}"],
    ]
    print_table(
        ["step", "seconds", "vs peer", "note"],
        rows,
        f"Crow-fly, {n_cells:,} cells x {n_stations:,} stations (target < 5 s)",
    )

    # -- 2. Guangxi-sized: H3 res 8 over 450000 with 2,000 stations ----------------------
    res = 7 if args.quick else 8
    with Timer() as t_poly:
        polygon = region_polygon("450000")
    with Timer() as t_cells:
        cells = dm.h3_cells(polygon, res)
    cells["demand"] = 1.0
    demand = dm.Demand(cells, unit="weight", source=f"uniform H3 res {res}")
    x0, y0, x1, y1 = polygon.bounds
    k = 200 if args.quick else 2000
    stations = [
        Station(
            id=f"S{i}",
            name=f"站{i}",
            kind="rest_stop",
            lon=float(rng.uniform(x0, x1)),
            lat=float(rng.uniform(y0, y1)),
        )
        for i in range(k)
    ]
    with Timer() as t_cov:
        result = compute_coverage(stations, demand, CrowflyModel("ebike"), [15, 30, 60])
    with Timer() as t_tab:
        county = result.by_admin("county")
    with Timer() as t_gap:
        gaps = result.gaps(30)
    share = result.summary()["thresholds"][1]["share"]
    rows = [
        ["region polygon (dissolve counties)", t_poly.s, ""],
        [f"H3 res {res} cells + admin codes", t_cells.s, f"{len(cells):,} cells"],
        ["compute_coverage (3 thresholds)", t_cov.s, f"≤30 min share {share:.1%}"],
        ["by_admin('county')", t_tab.s, f"{len(county)} counties"],
        ["gaps(30)", t_gap.s, f"{len(gaps):,} gap polygons"],
        [
            "total",
            t_poly.s + t_cells.s + t_cov.s + t_tab.s + t_gap.s,
            f"peak RSS {peak_rss_mb():,.0f} MB (limit 8 GB)",
        ],
    ]
    print_table(
        ["step", "seconds", "note"],
        rows,
        f"Guangxi-sized run: {len(cells):,} cells, {k:,} stations, e-bike crow-fly",
    )

    # -- 3. Guangxi-sized with a synthetic road network of Guangxi's order of size --------
    import bench_network

    from geo.travel import NetworkModel, RoadGraph

    side = 400 if args.quick else 1400  # 1,960,000 nodes at full size
    bench_network.EXTENT = (x0, y0, x1, y1)
    with Timer() as t_gen:
        glon, glat, tail, head, sec = bench_network.make_graph(side)
        graph = RoadGraph.from_arrays(glon, glat, tail, head, sec, mode="car")
    net = NetworkModel(graph, max_snap_m=3000)
    with Timer() as t_net:
        net_result = compute_coverage(stations, demand, net, [15, 30, 60])
    net_share = net_result.summary()["thresholds"][2]["share"]
    with Timer() as t_net2:
        net_result.by_admin("county")
        net_result.gaps(60)
    unsnapped = int(net_result.cells["unsnapped"].sum())
    rows = [
        [
            "synthetic graph build (not the engine)",
            t_gen.s,
            f"{len(glon):,} nodes, {len(tail):,} edges",
        ],
        [
            "compute_coverage, network car (3 thresholds)",
            t_net.s,
            f"≤60 min share {net_share:.1%}; {unsnapped:,} cells unsnapped",
        ],
        ["by county + gaps(60)", t_net2.s, ""],
        [
            "engine total (cells + coverage + tables)",
            t_cells.s + t_net.s + t_net2.s,
            f"peak RSS {peak_rss_mb():,.0f} MB (limit 8 GB)",
        ],
    ]
    print_table(
        ["step", "seconds", "note"],
        rows,
        f"Guangxi-sized run on a synthetic road network: {len(cells):,} cells",
    )

    write_json(
        "bench_coverage",
        {
            "guangxi_network": {
                "nodes": len(glon),
                "edges": len(tail),
                "coverage_s": t_net.s,
                "tables_gaps_s": t_net2.s,
                "peak_rss_mb": peak_rss_mb(),
            },
            "crowfly": {
                "cells": n_cells,
                "stations": n_stations,
                "ours_s": t_ours.s,
                "peer_s": t_ref.s,
            },
            "guangxi": {
                "cells": len(cells),
                "stations": k,
                "cells_s": t_cells.s,
                "coverage_s": t_cov.s,
                "by_county_s": t_tab.s,
                "gaps_s": t_gap.s,
                "peak_rss_mb": peak_rss_mb(),
            },
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
