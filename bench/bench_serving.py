"""Serving capacity against the issue-14 targets: the highest open-loop rate with p99 < 100 ms.

For ``/api/nearest``, ``/api/stations?bbox=`` (a city view) and cluster tiles
(``/api/clusters/{z}/{x}/{y}``, the tiles a phone panning a province asks for) it starts
``yizhan serve`` on 127.0.0.1 with ``--workers N`` passed through when N > 1 (the multi-process
server; a build without the option says so and the run stops), drives it with
``bench/loadgen.py`` (open loop, its own process, latency from each request's scheduled
start) at rising rates and reports the highest rate with p99 < 100 ms, no errors and at least
95 % of the asked rate achieved, plus the server's RSS (all its processes).

Floors and peers, driven the same way:

* a minimal Flask + ``cKDTree`` app (the same 200,000 stations, k = 5, a small GeoJSON answer,
  one waitress process with the same threads): the ratio of ``/api/nearest`` to it (issue:
  0.59× before, aim ≥ 0.8×);
* pygeoapi 0.21 serving the same stations from a GeoPackage exported from the same registry
  (its SQLiteGPKG provider needs SpatiaLite; skipped, with the reason, when it cannot load),
  against Yizhan's OGC items route for the same bbox.

Targets on this 2-core machine (issue 14): nearest ≥ 900/s and bbox ≥ 800/s with 2 workers,
cluster tiles ≥ 500/s; all at p99 < 100 ms.

Run: ``.venv/bin/python bench/bench_serving.py [--workers 1] [--stations 200000]
[--seconds 6] [--rates …] [--endpoints nearest,bbox,tiles,floor,ogc,pygeoapi]``. All traffic
goes to 127.0.0.1, every step is bounded in time, and every server is stopped.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import tempfile
from pathlib import Path

from _common import OUT_DIR, REPO_ROOT, print_header, print_table, versions, write_json
from bench_http import PYTHON, free_port, server
from bench_load import THREADS, best_rate, build_registry, make_paths, probe, ramp, show
from bench_nearest import EXTENT

TARGETS = {"nearest": 900.0, "bbox": 800.0, "tiles": 500.0}
FLOOR_RATIO_AIM = 0.8

FLOOR_APP = r"""
import sys, waitress
import numpy as np
from flask import Flask, jsonify, request
from scipy.spatial import cKDTree
from geo.index import lonlat_to_xyz, chord_to_m
from geo.store import StationRepository
stations = [s for s in StationRepository.from_url(sys.argv[3]).all() if s.lon is not None]
tree = cKDTree(lonlat_to_xyz([s.lon for s in stations], [s.lat for s in stations]))
app = Flask("floor")
@app.get("/healthz")
def healthz():
    return {"status": "ok"}
@app.get("/api/nearest")
def nearest():
    lon = float(request.args["lon"]); lat = float(request.args["lat"])
    k = int(request.args.get("k", 5))
    chord, idx = tree.query(lonlat_to_xyz(lon, lat), k=k)
    feats = []
    for d, i in zip(chord_to_m(chord).tolist(), idx.tolist()):
        s = stations[i]
        feats.append({"type": "Feature", "id": s.id,
                      "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
                      "properties": {"name": s.name, "kind": s.kind, "distance_m": d}})
    return jsonify({"type": "FeatureCollection", "features": feats})
waitress.serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=int(sys.argv[2]),
               ident="floor")
"""

PYGEOAPI_APP = r"""
import json, sys, waitress
from flask import Flask, Response, request
from pygeoapi.api import API, APIRequest
from pygeoapi.api.itemtypes import get_collection_items
from pygeoapi.provider import sqlite as provider
provider.SPATIALITE_EXTENSION = "mod_spatialite"
import sqlite3
if not hasattr(sqlite3.Connection, "enable_load_extension"):  # as tests/test_export_interop.py
    import pysqlite3.dbapi2 as sqlite3
    provider.sqlite3 = sqlite3
config = json.loads(open(sys.argv[3], encoding="utf-8").read())
api = API(config, openapi={})
app = Flask("pygeoapi-bench")
@app.get("/healthz")
def healthz():
    return {"status": "ok"}
@app.get("/collections/<cid>/items")
def items(cid):
    req = APIRequest.from_flask(request, api.locales)
    headers, status, content = get_collection_items(api, req, cid)
    return Response(content, status=status, headers=headers)
waitress.serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=int(sys.argv[2]),
               ident="pygeoapi")
"""


def tile_paths(count: int = 5000, seed: int = 11) -> list[str]:
    """Tiles a phone panning a province asks for: zoom 6–10 around seeded view centres."""
    rng = random.Random(seed)
    x0, y0, x1, y1 = EXTENT
    out = []
    for _ in range(count):
        z = rng.randint(6, 10)
        lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
        n = 2**z
        tx = int((lon / 360 + 0.5) * n)
        s = math.sin(math.radians(lat))
        ty = int((0.5 - 0.25 * math.log((1 + s) / (1 - s)) / math.pi) * n)
        out.append(f"/api/clusters/{z}/{tx}/{ty}")
    return out


def ogc_paths(prefix: str, count: int = 2000, seed: int = 13) -> list[str]:
    """The same city-view bboxes as ``bbox``, 10 items a page, on an OGC items route."""
    return [
        p.replace("/api/stations?", f"{prefix}?limit=10&f=json&")
        for p in make_paths("bbox", count, seed)
    ]


def tree_rss_mb(pid: int) -> float:
    """RSS of a process and all its descendants (a pre-fork server's workers)."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        todo += [int(c) for c in children]
    return total


def export_gpkg(db: Path) -> Path:
    """The registry exported as a GeoPackage (``stations`` layer), cached beside it."""
    from geo.records import export_stations
    from geo.store import StationRepository

    path = db.with_suffix(".gpkg")
    if not path.exists():
        export_stations(StationRepository.from_url(f"sqlite:///{db}").all(), path)
    return path


def pygeoapi_config(gpkg: Path, port: int) -> dict:
    return {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port},
            "url": f"http://127.0.0.1:{port}",
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "languages": ["en-US"],
            "limits": {"default_items": 10, "max_items": 100},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": ""},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": "bench",
                "description": "stations",
                "keywords": ["stations"],
                "keywords_type": "theme",
                "terms_of_service": "",
                "url": "http://127.0.0.1",
            },
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "bench", "url": "http://127.0.0.1"},
            "contact": {"name": "bench", "position": "", "email": "bench@example.org"},
        },
        "resources": {
            "stations": {
                "type": "collection",
                "title": "Stations",
                "description": "Registry export (GeoPackage)",
                "keywords": ["stations"],
                "extents": {"spatial": {"bbox": [73, 3, 136, 54]}},
                "providers": [
                    {
                        "type": "feature",
                        "name": "SQLiteGPKG",
                        "data": str(gpkg),
                        "id_field": "id",
                        "table": "stations",
                    }
                ],
            }
        },
    }


def run_server(cmd, env, paths_by_name: dict, rates, seconds, label: str, results: dict):
    port = int(cmd[cmd.index("--port") + 1]) if "--port" in cmd else int(cmd[2])
    log = OUT_DIR / f"bench_serving_{label}.log"
    with server(cmd, env, port, log, timeout=240) as proc:
        for name, paths in paths_by_name.items():
            status, size = probe(port, paths[0])
            if status != 200:
                print(f"\n{name}: probe {paths[0]} answered {status}; skipped")
                results[name] = {"skipped": f"probe answered {status}"}
                continue
            load_start = os.getloadavg()[0]
            rows = ramp(port, proc.pid, rates, seconds, paths)
            load_end = os.getloadavg()[0]
            show(f"{name} (first answer {size:,} bytes)", rows)
            print(f"load average (1 min) during {name}: {load_start:.2f} → {load_end:.2f}")
            results[name] = {
                "load_1min": [load_start, load_end],
                "path_example": paths[0],
                "steps": rows,
                "best_rate": best_rate(rows),
                "rss_mb": tree_rss_mb(proc.pid),
            }


def _load(r: dict) -> str:
    """The 1-minute load average at the start and end of an endpoint's ramp."""
    start, end = r.get("load_1min", (float("nan"), float("nan")))
    return f"{start:.1f}→{end:.1f}"


def cpu_ms_per_request(r: dict) -> float:
    """Server CPU milliseconds per answered request over a run's steps (robust when other
    processes share the cores and the best rate is bounded by the machine, not the server)."""
    steps = [x for x in r.get("steps", []) if x["achieved_rps"] > 0]
    if not steps:
        return float("nan")
    best = min(x["server_cpu_per_s"] / x["achieved_rps"] * 1e3 for x in steps)
    return best if best > 0 else float("nan")  # no CPU seen: not measured


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=1, help="passed to `yizhan serve`")
    ap.add_argument("--stations", type=int, default=200_000)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--rates", default="100,200,300,400,500,600,700,800,900,1000,1200")
    ap.add_argument("--endpoints", default="nearest,bbox,tiles,ogc,floor,pygeoapi")
    args = ap.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    wanted = set(args.endpoints.split(","))
    print_header(
        f"Serving capacity: yizhan serve ({args.workers} worker(s)), floor and peer",
        versions("flask", "waitress", "scipy", "pygeoapi"),
        {"stations": args.stations, "seconds per step": args.seconds, "threads": THREADS},
    )
    db = build_registry(args.stations)
    env = dict(os.environ, YIZHAN_DATABASE_URL=f"sqlite:///{db}", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = str(REPO_ROOT)
    results: dict = {"stations": args.stations, "workers": args.workers}
    port = free_port()
    cmd = [PYTHON, "-m", "webapp.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--threads", str(THREADS)]
    if args.workers > 1:
        cmd += ["--workers", str(args.workers)]
    paths = {
        "nearest": make_paths("nearest"),
        "bbox": make_paths("bbox"),
        "tiles": tile_paths(),
        "ogc": ogc_paths("/ogc/collections/stations/items"),
    }
    ours = {k: v for k, v in paths.items() if k in wanted}
    if ours:
        run_server(cmd, env, ours, rates, args.seconds, "yizhan", results)
    with tempfile.TemporaryDirectory() as tmp:
        if "floor" in wanted:
            script = Path(tmp) / "floor.py"
            script.write_text(FLOOR_APP, encoding="utf-8")
            port = free_port()
            fcmd = [PYTHON, str(script), str(port), str(THREADS), f"sqlite:///{db}"]
            floor: dict = {}
            floor_paths = {"floor": make_paths("nearest")}
            run_server(fcmd, env, floor_paths, rates, args.seconds, "floor", floor)
            results["floor_nearest"] = floor["floor"]
        if "pygeoapi" in wanted:
            try:
                import json

                gpkg = export_gpkg(db)
                port = free_port()
                cfg = Path(tmp) / "pygeoapi.json"
                cfg.write_text(json.dumps(pygeoapi_config(gpkg, port)), encoding="utf-8")
                script = Path(tmp) / "pg.py"
                script.write_text(PYGEOAPI_APP, encoding="utf-8")
                # One thread: the SQLiteGPKG provider opens the GeoPackage and loads SpatiaLite
                # for every request, and concurrent opens fail ("database is locked", every
                # request an error in a run with 8 threads).
                pcmd = [PYTHON, str(script), str(port), "1", str(cfg)]
                peer: dict = {}
                # pygeoapi answered 1.8–12 requests/s here (issue 14): fewer paths, low rates.
                pg_paths = {"pygeoapi": ogc_paths("/collections/stations/items", count=60)}
                pg_rates = [2, 5, 10, 20, 40, 80]
                run_server(pcmd, env, pg_paths, pg_rates, args.seconds, "pygeoapi", peer)
                results["pygeoapi"] = peer["pygeoapi"]
            except Exception as exc:  # a peer that cannot run is reported, not fatal
                print(f"\npygeoapi: not run ({type(exc).__name__}: {str(exc)[:300]})")
                results["pygeoapi"] = {"skipped": str(exc)[:300]}

    rows = []
    for name in ("nearest", "bbox", "tiles", "ogc"):
        r = results.get(name)
        if not r or "best_rate" not in r:
            continue
        target = TARGETS.get(name)
        rows.append(
            [
                name,
                f"{r['best_rate']:.0f}",
                f"{target:.0f}" if target else "-",
                ("yes" if r["best_rate"] >= target else "NO") if target else "-",
                f"{r['rss_mb']:.0f}",
                f"{cpu_ms_per_request(r):.2f}",
                _load(r),
            ]
        )
    floor_r = results.get("floor_nearest", {}).get("best_rate")
    # The CPU ratio is shown whenever both ran: on a loaded machine neither may reach
    # p99 < 100 ms at any rate, and CPU per request is then the figure left to compare.
    if results.get("floor_nearest", {}).get("steps") and results.get("nearest", {}).get("steps"):
        ratio = (
            results["nearest"]["best_rate"] / floor_r
            if floor_r and results["nearest"]["best_rate"]
            else float("nan")
        )
        results["nearest_floor_ratio"] = ratio
        cpu_ratio = cpu_ms_per_request(results["floor_nearest"]) / cpu_ms_per_request(
            results["nearest"]
        )
        results["nearest_floor_cpu_ratio"] = cpu_ratio
        rows.append(
            [
                "floor (Flask+cKDTree)",
                f"{floor_r or 0:.0f}",
                "-",
                f"rate ratio {ratio:.2f}, CPU ratio {cpu_ratio:.2f}",
                "-",
                f"{cpu_ms_per_request(results['floor_nearest']):.2f}",
                _load(results["floor_nearest"]),
            ]
        )
    pg = results.get("pygeoapi", {}).get("best_rate")
    if pg is not None and results.get("ogc", {}).get("best_rate"):
        times = results["ogc"]["best_rate"] / max(pg, 1e-9)
        results["ogc_over_pygeoapi"] = times
        rows.append(
            [
                "pygeoapi items",
                f"{pg:.0f}",
                "-",
                f"ours ÷ it {times:.1f}",
                "-",
                "-",
                _load(results["pygeoapi"]),
            ]
        )
    print_table(
        [
            "endpoint",
            "best rate/s (p99<100 ms, 0 err)",
            "target",
            "met",
            "server RSS MB",
            "CPU ms/request",
            "load 1-min (start→end)",
        ],
        rows,
        title=f"Summary, {args.stations:,} stations, {args.workers} worker(s)",
    )
    write_json(f"bench_serving_w{args.workers}", results)
    return 0


if __name__ == "__main__":
    os.chdir(REPO_ROOT)
    sys.exit(main())
