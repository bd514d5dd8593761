"""Nearest-station latency: ``StationIndex`` against a bare ``scipy.spatial.cKDTree``.

1,000,000 stations at random positions over China's extent (lon 73–135, lat 18–53). Measures

* build: creating the ``Station`` objects, then ``StationIndex(stations)``; the reference is
  ``cKDTree`` on the unit-sphere xyz of the same points;
* single queries (10,000 random points, one at a time, interleaved point by point):
  ``index.nearest(lon, lat, 5, ANY)`` vs ``tree.query(xyz, k=5)``; mean/p50/p99 in µs and the
  ratio (target: ≤ 2× the reference and ≤ 50 µs mean);
* batch: ``index.query(lon_array, lat_array, k=5)`` vs ``tree.query(xyz_array, k=5)``;
* filtered single queries: kind filter, service filter, the API's default (status = open),
  kind + open, and open-now; each with an "ideal" reference (a cKDTree over just the
  matching stations) that also checks correctness.

The ids returned by our index and the reference are compared on every sampled query.

Run: ``.venv/bin/python bench/bench_nearest.py [--stations N] [--queries Q]``.
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from _common import (
    Timer,
    latency_summary,
    machine,
    print_header,
    print_table,
    versions,
    write_json,
)
from scipy.spatial import cKDTree

from geo.hours import OpeningHours
from geo.index import ANY, Filter, StationIndex, chord_to_m, lonlat_to_xyz
from geo.models import Station, Status

EXTENT = (73.0, 18.0, 135.0, 53.0)
K = 5
KINDS = [
    "rest_stop",
    "legal_aid",
    "village_point",
    "workers_home",
    "migrant_station",
    "liaison_station",
    "assistance_centre",
]
KIND_P = [0.55, 0.10, 0.12, 0.12, 0.05, 0.03, 0.03]
#: Service codes with the share of stations offering each.
SERVICE_P = {
    "drinking_water": 0.90,
    "rest": 0.85,
    "toilet": 0.60,
    "charging": 0.55,
    "hot_meal": 0.50,
    "first_aid": 0.40,
    "cooling_heating": 0.35,
    "rain_gear": 0.30,
    "reading": 0.25,
    "legal_advice": 0.12,
    "battery_swap": 0.08,
    "aed": 0.05,
    "nursing_room": 0.04,
}
HOURS = [
    "24小时",
    "周一至周五 09:00-17:00",
    "每天 08:00-20:00",
    "周一至周五 08:30-12:00,14:30-17:30",
    None,
]
HOURS_P = [0.3, 0.3, 0.2, 0.15, 0.05]
STATUS_P = {Status.OPEN: 0.95, Status.CLOSED: 0.03, Status.PLANNED: 0.02}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_columns(n: int, seed: int = 42) -> dict[str, np.ndarray]:
    """The station attributes as arrays (positions, kind, services mask, hours, status)."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = EXTENT
    codes = list(SERVICE_P)
    probs = np.array([SERVICE_P[c] for c in codes])
    bits = (rng.random((n, len(codes))) < probs) @ (1 << np.arange(len(codes)))
    return {
        "lon": np.round(rng.uniform(x0, x1, n), 7),
        "lat": np.round(rng.uniform(y0, y1, n), 7),
        "kind": rng.choice(len(KINDS), n, p=KIND_P),
        "services": bits.astype(np.int64),
        "hours": rng.choice(len(HOURS), n, p=HOURS_P),
        "status": rng.choice(len(STATUS_P), n, p=list(STATUS_P.values())),
    }


def make_stations(cols: dict[str, np.ndarray]) -> list[Station]:
    codes = list(SERVICE_P)
    statuses = list(STATUS_P)
    service_tuples: dict[int, tuple[str, ...]] = {}
    out = []
    for i, (lon, lat, kind, mask, hours, status) in enumerate(
        zip(
            cols["lon"].tolist(),
            cols["lat"].tolist(),
            cols["kind"].tolist(),
            cols["services"].tolist(),
            cols["hours"].tolist(),
            cols["status"].tolist(),
            strict=True,
        )
    ):
        services = service_tuples.get(mask)
        if services is None:
            services = service_tuples[mask] = tuple(
                sorted(c for b, c in enumerate(codes) if mask >> b & 1)
            )
        out.append(
            Station(
                id=f"ST-{i:07d}",
                name=f"驿站{i}",
                kind=KINDS[kind],
                lon=lon,
                lat=lat,
                services=services,
                hours=HOURS[hours],
                status=statuses[status],
            )
        )
    return out


def point_xyz(lon: float, lat: float) -> tuple[float, float, float]:
    cl = math.cos(math.radians(lat))
    return (
        cl * math.cos(math.radians(lon)),
        cl * math.sin(math.radians(lon)),
        math.sin(math.radians(lat)),
    )


def time_ours(index: StationIndex, qlon, qlat, f: Filter, k: int = K):
    lat_s, ids = [], []
    pc = time.perf_counter
    for lon, lat in zip(qlon, qlat, strict=True):
        t0 = pc()
        hits = index.nearest(lon, lat, k, f)
        lat_s.append(pc() - t0)
        ids.append([h.station.id for h in hits])
    return lat_s, ids


def time_ref(tree: cKDTree, qxyz, k: int = K):
    lat_s, idx = [], []
    pc = time.perf_counter
    for p in qxyz:
        t0 = pc()
        _, i = tree.query(p, k=k)
        lat_s.append(pc() - t0)
        idx.append(i)
    return lat_s, idx


def time_interleaved(index: StationIndex, tree: cKDTree, qlon, qlat, qxyz, k: int = K):
    """Per point: ours, then the reference, then the reference with the lon/lat → xyz
    conversion included (pure Python), then the same call on a 16-point tree (scipy's fixed
    per-call cost). Interleaving point by point means background load hits all alike, so the
    ratios stay meaningful on a busy machine."""
    ours, ref, ref_ll, floor, ours_ids, ref_idx = [], [], [], [], [], []
    pc = time.perf_counter
    nearest, query = index.nearest, tree.query
    tiny = cKDTree(np.asarray(qxyz[:16]) * 0.999).query
    for lon, lat, p in zip(qlon, qlat, qxyz, strict=True):
        t0 = pc()
        hits = nearest(lon, lat, k, ANY)
        t1 = pc()
        _, i = query(p, k=k)
        t2 = pc()
        query(point_xyz(lon, lat), k=k)
        t3 = pc()
        tiny(p, k=k)
        t4 = pc()
        ours.append(t1 - t0)
        ref.append(t2 - t1)
        ref_ll.append(t3 - t2)
        floor.append(t4 - t3)
        ours_ids.append([h.station.id for h in hits])
        ref_idx.append(i)
    return ours, ref, ref_ll, floor, ours_ids, ref_idx


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stations", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--filtered-queries", type=int, default=2_000, help="queries per filtered case")
    args = ap.parse_args(argv)
    n, nq, nf = args.stations, args.queries, args.filtered_queries

    libs = versions("yizhan", "numpy", "scipy")
    print_header(
        "bench_nearest: StationIndex.nearest/query vs scipy cKDTree (unit-sphere xyz)",
        libs,
        {
            "stations": n,
            "extent": "lon 73–135, lat 18–53",
            "queries": nq,
            "filtered queries/case": nf,
            "k": K,
            "seed": 42,
        },
    )

    rss0 = rss_mb()
    cols = make_columns(n)
    # -- build -----------------------------------------------------------------------------
    gc.collect()
    with Timer() as t_objs:
        stations = make_stations(cols)
    rss1 = rss_mb()
    gc.collect()
    with Timer() as t_index:
        index = StationIndex(stations)
    rss2 = rss_mb()
    gc.collect()
    with Timer() as t_xyz:
        xyz = lonlat_to_xyz(cols["lon"], cols["lat"])
    with Timer() as t_tree:
        tree = cKDTree(xyz)
    ids = np.array([s.id for s in stations], dtype=object)

    # Where does StationIndex.__init__ spend its time? (the same steps, timed one by one)
    located = stations
    parts = {}
    with Timer() as t:
        lon = np.fromiter((s.lon for s in located), float, len(located))
        lat = np.fromiter((s.lat for s in located), float, len(located))
    parts["lon/lat arrays (fromiter)"] = t.s
    with Timer() as t:
        pxyz = lonlat_to_xyz(lon, lat).reshape(-1, 3)
    parts["lonlat_to_xyz"] = t.s
    with Timer() as t:
        _ = [s.kind for s in located], [s.status.value for s in located]
        _ = [s.hours or "" for s in located]
    parts["kind/status/hours lists"] = t.s
    with Timer() as t:
        bits: dict[str, int] = {}
        sets = []
        for s in located:
            m = 0
            for code in s.services:
                m |= 1 << bits.setdefault(code, len(bits))
            sets.append(m)
    parts["service bit masks"] = t.s
    with Timer() as t:
        cKDTree(pxyz)
    parts["cKDTree(xyz)"] = t.s
    del sets, pxyz, lon, lat
    gc.collect()

    build_rows = [
        ["Station objects (list of 1 dataclass each)", t_objs.s, f"+{rss1 - rss0:.0f} MB"],
        ["StationIndex(stations)", t_index.s, f"+{rss2 - rss1:.0f} MB"],
        *[[f"  of which {k}", v, ""] for k, v in parts.items()],
        ["reference: lonlat_to_xyz (numpy)", t_xyz.s, ""],
        ["reference: cKDTree(xyz)", t_tree.s, ""],
    ]
    print_table(["build step", "seconds", "RSS delta"], build_rows, title=f"Build ({n:,} stations)")

    # -- query points ----------------------------------------------------------------------
    qrng = np.random.default_rng(4242)
    x0, y0, x1, y1 = EXTENT
    qlon = qrng.uniform(x0, x1, nq).tolist()
    qlat = qrng.uniform(y0, y1, nq).tolist()
    qxyz = [point_xyz(lo, la) for lo, la in zip(qlon, qlat, strict=True)]

    # warm up both paths (first calls allocate and import)
    time_interleaved(index, tree, qlon[:200], qlat[:200], qxyz[:200])

    gc.collect()
    timings = time_interleaved(index, tree, qlon, qlat, qxyz)
    ours_s, ref_s, ref_ll_s, floor_s, ours_ids, ref_idx = timings
    mismatches = sum(
        1 for a, b in zip(ours_ids, ref_idx, strict=True) if a != ids[np.asarray(b)].tolist()
    )
    s_ours, s_ref, s_ref_ll, s_floor = (
        latency_summary(x) for x in (ours_s, ref_s, ref_ll_s, floor_s)
    )
    # Paired per-query difference: what our wrapper adds on top of the tree search.
    added = latency_summary([a - b for a, b in zip(ours_s, ref_s, strict=True)])
    ratio = s_ours["mean"] / s_ref["mean"]
    single_rows = [
        [
            "index.nearest(lon, lat, 5, ANY)",
            s_ours["mean"],
            s_ours["p50"],
            s_ours["p90"],
            s_ours["p99"],
            s_ours["max"],
            f"{ratio:.2f}x",
        ],
        [
            "cKDTree.query(xyz, k=5)  [reference]",
            s_ref["mean"],
            s_ref["p50"],
            s_ref["p90"],
            s_ref["p99"],
            s_ref["max"],
            "1.00x",
        ],
        [
            "cKDTree.query incl. lon/lat->xyz (math)",
            s_ref_ll["mean"],
            s_ref_ll["p50"],
            s_ref_ll["p90"],
            s_ref_ll["p99"],
            s_ref_ll["max"],
            f"{s_ref_ll['mean'] / s_ref['mean']:.2f}x",
        ],
        [
            "cKDTree.query on a 16-point tree (call cost)",
            s_floor["mean"],
            s_floor["p50"],
            s_floor["p90"],
            s_floor["p99"],
            s_floor["max"],
            f"{s_floor['mean'] / s_ref['mean']:.2f}x",
        ],
    ]
    print_table(
        ["single query (k=5)", "mean µs", "p50 µs", "p90 µs", "p99 µs", "max µs", "vs ref"],
        single_rows,
        title=f"Single-point nearest-5, {nq:,} queries one at a time "
        f"(targets: ≤ 2x reference and ≤ 50 µs mean)",
    )
    target_ok = ratio <= 2.0 and s_ours["mean"] <= 50.0
    print(
        f"targets: ratio {ratio:.2f}x (≤ 2x: {'met' if ratio <= 2 else 'NOT met'}), "
        f"mean {s_ours['mean']:.1f} µs (≤ 50 µs: "
        f"{'met' if s_ours['mean'] <= 50 else 'NOT met'}); "
        f"id mismatches vs reference: {mismatches} of {nq}\n"
        f"p50 ratio {s_ours['p50'] / s_ref['p50']:.2f}x; time added per query by "
        f"StationIndex.nearest over the bare tree query (paired): mean {added['mean']:.1f} µs, "
        f"p50 {added['p50']:.1f} µs\n"
    )

    # -- batch -----------------------------------------------------------------------------
    qlon_a, qlat_a = np.asarray(qlon), np.asarray(qlat)
    qxyz_a = np.asarray(qxyz)

    def best(fn, repeat=5):
        out, ts = None, []
        for _ in range(repeat):
            t0 = time.perf_counter()
            out = fn()
            ts.append(time.perf_counter() - t0)
        return min(ts), out

    t_bq, (bd, bi) = best(lambda: index.query(qlon_a, qlat_a, k=K))
    t_br, (rc, ri) = best(lambda: tree.query(qxyz_a, k=K))
    t_br_ll, _ = best(lambda: tree.query(lonlat_to_xyz(qlon_a, qlat_a), k=K))
    t_bq2, _ = best(lambda: index.query(qlon_a, qlat_a, k=K, workers=-1))
    t_br2, _ = best(lambda: tree.query(qxyz_a, k=K, workers=-1))
    batch_ids_ok = bool(np.array_equal(bi, ri))
    batch_dist_ok = bool(np.allclose(bd, chord_to_m(rc), rtol=1e-9, atol=1e-6))
    batch_rows = [
        [
            "index.query(lon[], lat[], k=5)",
            t_bq * 1e3,
            nq / t_bq,
            t_bq / nq * 1e6,
            f"{t_bq / t_br:.2f}x",
        ],
        ["cKDTree.query(xyz[], k=5)  [reference]", t_br * 1e3, nq / t_br, t_br / nq * 1e6, "1.00x"],
        [
            "cKDTree.query(lonlat_to_xyz(...), k=5)",
            t_br_ll * 1e3,
            nq / t_br_ll,
            t_br_ll / nq * 1e6,
            f"{t_br_ll / t_br:.2f}x",
        ],
        [
            "index.query(..., workers=-1)",
            t_bq2 * 1e3,
            nq / t_bq2,
            t_bq2 / nq * 1e6,
            f"{t_bq2 / t_br2:.2f}x",
        ],
        [
            "cKDTree.query(..., workers=-1)  [reference]",
            t_br2 * 1e3,
            nq / t_br2,
            t_br2 / nq * 1e6,
            "1.00x",
        ],
    ]
    print_table(
        ["batch (k=5)", "ms total", "queries/s", "µs/query", "vs ref"],
        batch_rows,
        title=f"Vectorised batch of {nq:,} points (best of 5)",
    )
    print(f"batch ids equal to reference: {batch_ids_ok}; distances equal: {batch_dist_ok}\n")

    # -- filtered --------------------------------------------------------------------------
    now = datetime(2026, 11, 4, 10, 30, tzinfo=UTC)  # a Wednesday, 18:30 China time
    open_code = Status.OPEN.value
    kind_col = np.array(KINDS, dtype=object)[cols["kind"]]
    status_col = np.array([s.value for s in STATUS_P], dtype=object)[cols["status"]]
    aed_bit = 1 << list(SERVICE_P).index("aed")
    open_hours = np.array(
        [h is not None and OpeningHours.parse(h).is_open(now) is True for h in HOURS]
    )
    cases = [
        (
            "kind=legal_aid (any status)",
            Filter(kinds=frozenset({"legal_aid"}), statuses=frozenset()),
            kind_col == "legal_aid",
        ),
        (
            "service=aed (any status)",
            Filter(services=frozenset({"aed"}), statuses=frozenset()),
            (cols["services"] & aed_bit) != 0,
        ),
        ("default Filter() = status open (API)", Filter(), status_col == open_code),
        (
            "kind=legal_aid + status open (API)",
            Filter.of(["legal_aid"]),
            (kind_col == "legal_aid") & (status_col == open_code),
        ),
        (
            "open_at=now (API open_now=1)",
            Filter.of(open_at=now),
            (status_col == open_code) & open_hours[cols["hours"]],
        ),
    ]
    fq = slice(0, nf)
    filt_rows, filt_json = [], []
    for label, f, mask in cases:
        t_first = time.perf_counter()
        index.nearest(qlon[0], qlat[0], K, f)  # builds the kind tree on first use
        t_first = time.perf_counter() - t_first
        gc.collect()
        lat_s, got = time_ours(index, qlon[fq], qlat[fq], f)
        s = latency_summary(lat_s)
        ref_note, mism, s_sub = "", None, None
        if mask is not None:
            sub = np.flatnonzero(mask)
            sub_tree = cKDTree(xyz[sub])
            sub_s, sub_idx = time_ref(sub_tree, qxyz[fq])
            s_sub = latency_summary(sub_s)
            mism = sum(
                1
                for a, b in zip(got, sub_idx, strict=True)
                if a != ids[sub[np.asarray(b)]].tolist()
            )
            ref_note = f"{s_sub['mean']:.1f}"
        filt_rows.append(
            [
                label,
                f"{mask.mean() * 100:.1f}%" if mask is not None else "~",
                s["mean"],
                s["p50"],
                s["p99"],
                ref_note or "-",
                f"{s['mean'] / s_sub['mean']:.1f}x" if s_sub else "-",
                t_first * 1e3,
                "-" if mism is None else mism,
            ]
        )
        filt_json.append(
            {
                "case": label,
                "latency_us": s,
                "first_call_ms": t_first * 1e3,
                "ideal_ref_latency_us": s_sub,
                "id_mismatches": mism,
                "share": float(mask.mean()) if mask is not None else None,
            }
        )
    print_table(
        [
            "filtered nearest-5",
            "share",
            "mean µs",
            "p50 µs",
            "p99 µs",
            "ideal µs",
            "vs ideal",
            "1st call ms",
            "mismatch",
        ],
        filt_rows,
        title=f"Filtered single queries ({nf:,} each; 'ideal' = cKDTree over only the "
        "matching stations, also the correctness oracle)",
    )

    ok = (
        mismatches == 0
        and batch_ids_ok
        and batch_dist_ok
        and all(r["id_mismatches"] in (0, None) for r in filt_json)
    )
    print(
        f"correctness: {'OK' if ok else 'FAIL'}; performance targets "
        f"{'met' if target_ok else 'NOT met'}"
    )
    write_json(
        "bench_nearest",
        {
            "benchmark": "nearest",
            "machine": machine(),
            "versions": libs,
            "inputs": {
                "stations": n,
                "queries": nq,
                "filtered_queries": nf,
                "k": K,
                "extent": EXTENT,
                "seed": 42,
            },
            "build_s": {
                "station_objects": t_objs.s,
                "station_index": t_index.s,
                "station_index_parts": parts,
                "ref_lonlat_to_xyz": t_xyz.s,
                "ref_ckdtree": t_tree.s,
            },
            "rss_mb": {"start": rss0, "after_stations": rss1, "after_index": rss2},
            "single": {
                "ours_us": s_ours,
                "ref_us": s_ref,
                "ref_incl_conversion_us": s_ref_ll,
                "scipy_call_cost_us": s_floor,
                "added_by_index_us": added,
                "ratio_mean": ratio,
                "id_mismatches": mismatches,
                "targets": {"ratio_le_2": ratio <= 2.0, "mean_le_50us": s_ours["mean"] <= 50.0},
            },
            "batch": {
                "ours_s": t_bq,
                "ref_s": t_br,
                "ref_incl_conversion_s": t_br_ll,
                "ours_workers_all_s": t_bq2,
                "ref_workers_all_s": t_br2,
                "ids_equal": batch_ids_ok,
                "distances_equal": batch_dist_ok,
            },
            "filtered": filt_json,
            "correct": ok,
        },
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
