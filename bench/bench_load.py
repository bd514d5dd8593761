"""Open-loop load test of the public API with 200,000 stations under the production server.

Builds (once, cached in ``bench/out/``) a SQLite registry of N synthetic stations spread over
China (the generator of ``bench_nearest.py``), starts ``python -m webapp.cli serve`` (waitress)
on 127.0.0.1, and drives it with ``bench/loadgen.py``, an open-loop generator in its own
process (constant request rate, latency counted from each request's *scheduled* start, as
wrk2 does). For each endpoint it steps the rate up and reports, per step, the achieved rate,
p50/p99/max latency, errors, and the server's and the generator's CPU use. The headline
figure is the **highest sustained rate with p99 < 100 ms and zero errors** (target ≥ 500
requests/s on this 2-core machine, with the generator sharing the cores).

Each endpoint gets 5,000 seeded queries; before measuring, every query is sent once, one at
a time (the steady state of a running server: its per-station encoded features are cached).

Endpoints (query points drawn uniformly over the stations' extent, seeded):

* ``nearest``: ``/api/nearest?lon&lat&k=5`` (with travel times when the API offers ``mode``);
* ``bbox``: ``/api/stations?bbox=…`` for a 1.0° × 0.8° window (a city-sized map view,
  about 100 stations at this density);
* ``clusters``: ``/api/clusters?bbox=…&zoom=8`` for an 8° × 6° window (a province view)
  when the server has that route.

Peer: a minimal Flask app under the same waitress settings whose route returns a fixed small
JSON document (the ceiling of this stack on this machine), driven at the same rates. PostGIS
KNN is the issue's named peer "when the PostGIS backend exists"; it does not yet, and the
script says so.

**Many kept-alive clients** (``--clients 200,500``, issue 13): for each count, N clients
each hold their own kept-alive connection for the whole run (``loadgen.py --clients``) and
share a constant total rate of ``/api/nearest`` queries (``--client-rates``) for
``--client-seconds``; once against today's ``yizhan serve`` and once against waitress's
defaults as ``yizhan serve`` used them before (``connection_limit`` 100, ``select()``, no
queue bound: the ``old`` server, started by the same app factory). A fresh server per run;
reported: answers (200, 503), timeouts and I/O errors, p50/p99 of every answer and of each
client's first answer, the longest wait of any client, clients never answered, and the
server's log lines (all, and "Task queue" ones).

Run: ``.venv/bin/python bench/bench_load.py [--stations N] [--seconds S] [--rates R,R,...]``;
``--only-clients`` runs the kept-alive part alone, ``--no-clients`` skips it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import (
    OUT_DIR,
    REPO_ROOT,
    latency_summary,
    print_header,
    print_table,
    versions,
    write_json,
)
from bench_http import PEER_APP, PYTHON, free_port, proc_cpu_s, proc_rss_mb, server
from bench_nearest import EXTENT, make_columns, make_stations

LOADGEN = Path(__file__).with_name("loadgen.py")
P99_LIMIT_MS = 100.0
TARGET_RPS = 500
THREADS = 8


def build_registry(n: int) -> Path:
    """A SQLite file with ``n`` synthetic stations (reused when it already holds them)."""
    from geo.store import StationRepository

    path = OUT_DIR / f"load_{n}.sqlite"
    url = f"sqlite:///{path}"
    if path.exists():
        repo = StationRepository.from_url(url)
        if repo.schema_ready() and repo.count() == n:
            return path
        path.unlink()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    repo = StationRepository.from_url(url)
    repo.init_schema()
    stations = make_stations(make_columns(n))
    for i in range(0, n, 20_000):
        repo.save(stations[i : i + 20_000])
    assert repo.count() == n
    return path


def make_paths(kind: str, count: int = 5000, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    x0, y0, x1, y1 = EXTENT
    out = []
    for _ in range(count):
        if kind == "nearest":
            lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
            out.append(f"/api/nearest?lon={lon:.5f}&lat={lat:.5f}&k=5")
        elif kind == "bbox":
            w, s = rng.uniform(x0, x1 - 1.0), rng.uniform(y0, y1 - 0.8)
            out.append(f"/api/stations?bbox={w:.4f},{s:.4f},{w + 1.0:.4f},{s + 0.8:.4f}")
        elif kind == "clusters":
            w, s = rng.uniform(x0, x1 - 8.0), rng.uniform(y0, y1 - 6.0)
            out.append(f"/api/clusters?bbox={w:.3f},{s:.3f},{w + 8:.3f},{s + 6:.3f}&zoom=8")
        elif kind == "peer":
            out.append(f"/api/nearest?lon={rng.uniform(x0, x1):.5f}&lat=30&k=5")
    return out


def probe(port: int, path: str) -> tuple[int, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, len(body)


def step(port: int, pid: int, rate: float, seconds: float, paths_file: Path) -> dict:
    cpu0 = proc_cpu_s(pid)
    out = subprocess.run(
        [PYTHON, str(LOADGEN), str(port), str(rate), str(seconds), str(paths_file)],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    res = json.loads(out.stdout)
    lat = latency_summary(res.pop("latencies_s"), 1e3) if res["ok"] else {}
    errors = sum(res["errors"].values())
    return {
        "rate": rate,
        "achieved_rps": res["achieved_rps"],
        "latency_ms": lat,
        "errors": errors,
        "error_kinds": res["errors"],
        "server_cpu_per_s": (proc_cpu_s(pid) - cpu0) / res["elapsed_s"],
        "generator_cpu_per_s": res["generator_cpu_s"] / res["elapsed_s"],
        "connections": res["connections"],
    }


def ramp(port: int, pid: int, rates: list[float], seconds: float, paths: list[str]) -> list:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write("\n".join(paths))
        paths_file = Path(fh.name)
    try:
        # Warm-up: every query once, one at a time (a running server has warm caches: the
        # index's encoded features, hours texts), then a short open-loop run.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for path in paths:
            conn.request("GET", path)
            conn.getresponse().read()
        conn.close()
        step(port, pid, 50, 2, paths_file)
        rows, failed = [], 0
        for rate in rates:
            r = step(port, pid, rate, seconds, paths_file)
            r["ok"] = (
                r["errors"] == 0
                and bool(r["latency_ms"])
                and r["latency_ms"]["p99"] < P99_LIMIT_MS
                and r["achieved_rps"] >= 0.95 * rate
            )
            rows.append(r)
            failed = 0 if r["ok"] else failed + 1
            if failed >= 2:  # two steps in a row over the limit: the knee is behind us
                break
        return rows
    finally:
        paths_file.unlink()


def best_rate(rows: list[dict]) -> float:
    good = [r["rate"] for r in rows if r["ok"]]
    return max(good) if good else 0.0


def show(name: str, rows: list[dict]) -> None:
    print_table(
        [
            "rate/s",
            "achieved/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "errors",
            "server CPU",
            "gen CPU",
            "ok",
        ],
        [
            [
                f"{r['rate']:.0f}",
                f"{r['achieved_rps']:.0f}",
                f"{r['latency_ms'].get('p50', float('nan')):.1f}",
                f"{r['latency_ms'].get('p99', float('nan')):.1f}",
                f"{r['latency_ms'].get('max', float('nan')):.1f}",
                r["errors"],
                f"{r['server_cpu_per_s']:.2f}",
                f"{r['generator_cpu_per_s']:.2f}",
                "yes" if r["ok"] else "no",
            ]
            for r in rows
        ],
        title=name,
    )


OLD_SERVER = r"""
import sys, waitress
from webapp import create_app
from webapp.services import services
app = create_app({"DATABASE_URL": sys.argv[3]})
services(app).index.get()
waitress.serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=int(sys.argv[2]),
               ident="yizhan")
"""


def clients_run(kind: str, db: Path, clients: int, rate: float, seconds: float, paths_file):
    """One fresh server (``old`` or ``new``), one ``loadgen.py --clients`` run against it."""
    env = dict(os.environ, YIZHAN_DATABASE_URL=f"sqlite:///{db}", PYTHONUNBUFFERED="1")
    port = free_port()
    log = OUT_DIR / f"bench_load_clients_{kind}.log"
    with tempfile.TemporaryDirectory() as tmp:
        if kind == "old":
            script = Path(tmp) / "old_server.py"
            script.write_text(OLD_SERVER, encoding="utf-8")
            cmd = [PYTHON, str(script), str(port), str(THREADS), f"sqlite:///{db}"]
        else:
            cmd = [PYTHON, "-m", "webapp.cli", "serve", "--host", "127.0.0.1"]
            cmd += ["--port", str(port), "--threads", str(THREADS)]
        with server(cmd, env, port, log, timeout=180) as proc:
            cpu0 = proc_cpu_s(proc.pid)
            gen = [PYTHON, str(LOADGEN), "--clients", str(clients), str(port), str(rate)]
            out = subprocess.run(
                [*gen, str(seconds), str(paths_file)],
                capture_output=True,
                text=True,
                check=True,
                timeout=seconds + 120,
            )
            server_cpu = proc_cpu_s(proc.pid) - cpu0
    res = json.loads(out.stdout)
    text = log.read_text(errors="replace")
    all_ms = latency_summary(res.pop("latencies_s"), 1e3) if res["statuses"] else {}
    first_ms = latency_summary(res.pop("first_answer_s"), 1e3) if res["statuses"] else {}
    refused = res.pop("refused_latencies_s")
    refused_ms = latency_summary(refused, 1e3) if refused else {}
    return {
        "server": kind,
        **{k: res[k] for k in ("clients", "rate", "seconds", "sent", "statuses", "errors")},
        "answered": sum(res["statuses"].values()),
        "latency_ms": all_ms,
        "first_answer_ms": first_ms,
        "refused_ms": refused_ms,
        "max_client_wait_s": res["max_client_wait_s"],
        "clients_never_answered": res["clients_never_answered"],
        "clients_all_answered": res["clients_all_answered"],
        "log_lines": text.count("\n"),
        "queue_log_lines": text.count("Task queue"),
        "server_cpu_per_s": server_cpu / res["elapsed_s"],
        "generator_cpu_per_s": res["generator_cpu_s"] / res["elapsed_s"],
    }


def clients_part(db: Path, counts: list[int], rates: list[float], seconds: float) -> list:
    paths = make_paths("nearest")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write("\n".join(paths))
        paths_file = Path(fh.name)
    rows = []
    try:
        for clients in counts:
            for rate in rates:
                for kind in ("old", "new"):
                    rows.append(clients_run(kind, db, clients, rate, seconds, paths_file))
                    show_clients(rows[-1:])
    finally:
        paths_file.unlink()
    return rows


def show_clients(rows: list[dict], title: str = "") -> None:
    def ms(d: dict, key: str) -> str:
        return f"{d[key]:.0f}" if d else "-"

    print_table(
        [
            "server",
            "clients",
            "rate/s",
            "sent",
            "200",
            "503",
            "503 p99 ms",
            "timeouts",
            "io err",
            "p50 ms",
            "p99 ms",
            "1st p50",
            "1st p99",
            "max wait s",
            "never answered",
            "log lines (queue)",
        ],
        [
            [
                r["server"],
                r["clients"],
                f"{r['rate']:.0f}",
                r["sent"],
                r["statuses"].get("200", 0),
                r["statuses"].get("503", 0),
                ms(r["refused_ms"], "p99"),
                r["errors"]["timeout"],
                r["errors"]["io"],
                ms(r["latency_ms"], "p50"),
                ms(r["latency_ms"], "p99"),
                ms(r["first_answer_ms"], "p50"),
                ms(r["first_answer_ms"], "p99"),
                f"{r['max_client_wait_s']:.2f}",
                r["clients_never_answered"],
                f"{r['log_lines']} ({r['queue_log_lines']})",
            ]
            for r in rows
        ],
        title=title,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stations", type=int, default=200_000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rates", default="100,200,300,400,500,600,700,800,1000,1200")
    ap.add_argument("--endpoints", default="nearest,bbox,clusters")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--clients", default="200,500", help="kept-alive client counts")
    ap.add_argument("--client-rates", default="300,1000", help="total rates of those runs")
    ap.add_argument("--client-seconds", type=float, default=15.0)
    ap.add_argument("--only-clients", action="store_true")
    ap.add_argument("--no-clients", action="store_true")
    args = ap.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    if args.only_clients:
        print_header(
            "Many kept-alive clients: /api/nearest, old and new server settings (waitress)",
            versions("flask", "waitress"),
            {"stations": args.stations, "seconds per run": args.client_seconds},
        )
        db = build_registry(args.stations)
        rows = clients_part(
            db,
            [int(c) for c in args.clients.split(",")],
            [float(r) for r in args.client_rates.split(",")],
            args.client_seconds,
        )
        show_clients(rows, title="Summary: many kept-alive clients")
        write_json("bench_load_clients", {"stations": args.stations, "runs": rows})
        return 0

    print_header(
        "Open-loop load test: /api/nearest, bbox and clusters queries (waitress)",
        versions("flask", "waitress", "werkzeug", "numpy", "scipy"),
        {"stations": args.stations, "seconds per step": args.seconds, "threads": THREADS},
    )
    db = build_registry(args.stations)
    env = dict(os.environ, YIZHAN_DATABASE_URL=f"sqlite:///{db}", PYTHONUNBUFFERED="1")
    results: dict = {"stations": args.stations, "endpoints": {}, "peer": None}
    port = free_port()
    cmd = [PYTHON, "-m", "webapp.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--threads", str(THREADS)]
    log = OUT_DIR / "bench_load_server.log"
    with server(cmd, env, port, log, timeout=180) as proc:
        for name in args.endpoints.split(","):
            paths = make_paths(name)
            status, size = probe(port, paths[0])
            if status == 404 and name == "clusters":
                print(f"\n{name}: the server has no /api/clusters route; skipped")
                continue
            if status != 200:
                print(f"\n{name}: probe answered {status}; skipped")
                continue
            rows = ramp(port, proc.pid, rates, args.seconds, paths)
            show(f"{name} (first answer {size:,} bytes)", rows)
            results["endpoints"][name] = {
                "path_example": paths[0],
                "body_bytes_example": size,
                "steps": rows,
                "best_rate": best_rate(rows),
            }
        results["server_rss_mb"] = proc_rss_mb(proc.pid)
    if not args.no_peer:
        port = free_port()
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "peer.py"
            script.write_text(PEER_APP, encoding="utf-8")
            peer_cmd = [PYTHON, str(script), str(port), str(THREADS)]
            with server(peer_cmd, dict(os.environ), port, Path(tmp) / "peer.log") as proc:
                rows = ramp(port, proc.pid, rates, args.seconds, make_paths("peer"))
        show("peer: minimal Flask + waitress, fixed JSON", rows)
        results["peer"] = {"steps": rows, "best_rate": best_rate(rows)}
    print("\nPostGIS KNN peer: not run (the PostGIS backend does not exist yet).")

    summary = []
    peer_best = results["peer"]["best_rate"] if results["peer"] else None
    for name, r in results["endpoints"].items():
        ratio = f"{r['best_rate'] / peer_best:.2f}" if peer_best else "-"
        met = "yes" if r["best_rate"] >= TARGET_RPS else "NO"
        summary.append([name, f"{r['best_rate']:.0f}", ratio, met])
    print_table(
        ["endpoint", f"best rate/s (p99<{P99_LIMIT_MS:.0f} ms, 0 err)", "÷ peer", "≥ 500/s"],
        summary,
        title=f"Summary, {args.stations:,} stations; server RSS {results['server_rss_mb']:.0f} MB",
    )
    if not args.no_clients:
        results["clients"] = clients_part(
            db,
            [int(c) for c in args.clients.split(",")],
            [float(r) for r in args.client_rates.split(",")],
            args.client_seconds,
        )
        show_clients(results["clients"], title="Many kept-alive clients")
    write_json("bench_load", results)
    return 0


if __name__ == "__main__":
    os.chdir(REPO_ROOT)
    sys.exit(main())
