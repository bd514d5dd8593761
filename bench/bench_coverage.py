"""Coverage engine at scale: crow-fly 1,000,000 cells × 10,000 stations, and a Guangxi-sized
run on H3 resolution-8 cells (≈ 330,000 cells), with time and peak memory; provincial
(Shaanxi, H3 resolution 7, the run that once crashed on export) and national (region 100000,
H3 resolution 6) crow-fly runs through to the written folder, each in a fresh process so that
its peak memory is its own.

Peer for the crow-fly step: a plain ``scipy.spatial.cKDTree`` query on unit-sphere vectors of
the same points (the floor any nearest-station search pays).

Run: .venv/bin/python bench/bench_coverage.py [--quick] [--only scale]
"""

from __future__ import annotations

import argparse
import resource
import sys

import numpy as np
import shapely
from _common import Timer, print_header, print_table, versions, write_json

from geo import demand as dm
from geo.coverage import compute_coverage
from geo.index import lonlat_to_xyz
from geo.models import Station
from geo.regions import region_polygon
from geo.travel import CrowflyModel


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scale_run(region: str, res: int, n_stations: int, out_dir: str) -> dict:
    """One crow-fly run over ``region`` at H3 ``res`` with seeded stations, written out
    (summary, county table, gaps, service areas, cells.gpkg, map.html); seconds per step and
    this process's peak RSS."""
    import time

    from geo.report import coverage_report

    rng = np.random.default_rng(42)
    times: dict[str, float] = {}
    t = time.perf_counter()
    polygon = region_polygon(region)
    times["outline_s"] = time.perf_counter() - t
    t = time.perf_counter()
    cells = dm.h3_cells(polygon, res)
    times["cells_s"] = time.perf_counter() - t
    cells["demand"] = 1.0
    demand = dm.Demand(cells, unit="weight", source=f"uniform H3 res {res}")
    x0, y0, x1, y1 = polygon.bounds
    lon = rng.uniform(x0, x1, n_stations * 3)
    lat = rng.uniform(y0, y1, n_stations * 3)
    inside = np.flatnonzero(shapely.contains_xy(polygon, lon, lat))[:n_stations]
    stations = [
        Station(id=f"S{i}", name=f"站{i}", kind="rest_stop", lon=float(lon[i]), lat=float(lat[i]))
        for i in inside
    ]
    t = time.perf_counter()
    result = compute_coverage(stations, demand, CrowflyModel("car"), [30, 60])
    times["coverage_s"] = time.perf_counter() - t
    t = time.perf_counter()
    coverage_report(result, out_dir, by=("county",))
    times["export_s"] = time.perf_counter() - t
    summary = result.summary()
    return {
        "region": region,
        "resolution": res,
        "cells": len(cells),
        "stations": len(stations),
        "share_60": summary["thresholds"][1]["share"],
        "beyond_cap_demand": summary["beyond_cap_demand"],
        **times,
        "total_s": sum(times.values()),
        "peak_rss_mb": peak_rss_mb(),
    }


def scale_rows(quick: bool) -> dict:
    """The provincial and national rows, each in a fresh (spawned) process."""
    import multiprocessing
    import tempfile

    runs = (
        [("610000", 6, 200), ("100000", 4, 2000)]
        if quick
        else [("610000", 7, 2000), ("100000", 6, 20000)]
    )
    ctx = multiprocessing.get_context("spawn")
    out = {}
    rows = []
    for region, res, k in runs:
        with tempfile.TemporaryDirectory() as tmp, ctx.Pool(1) as pool:
            r = pool.apply(scale_run, (region, res, k, tmp))
        name = "national" if region == "100000" else f"province_{region}"
        out[name] = r
        rows.append(
            [
                f"{region} H3 res {res}",
                f"{r['cells']:,}",
                f"{r['stations']:,}",
                r["outline_s"],
                r["cells_s"],
                r["coverage_s"],
                r["export_s"],
                r["total_s"],
                f"{r['peak_rss_mb']:,.0f}",
            ]
        )
    print_table(
        [
            "run",
            "cells",
            "stations",
            "outline s",
            "cells s",
            "coverage s",
            "export s",
            "total s",
            "peak RSS MB",
        ],
        rows,
        "Provincial and national crow-fly runs (car, 30/60 min, cap 240), written out",
    )
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller inputs (smoke test)")
    ap.add_argument("--only", choices=("all", "scale"), default="all", help="which rows to run")
    args = ap.parse_args()
    if args.only == "scale":
        write_json("bench_coverage_scale", scale_rows(args.quick))
        return 0
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

    scale = scale_rows(args.quick)
    write_json(
        "bench_coverage",
        {
            **scale,
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
