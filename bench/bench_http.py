"""HTTP latency and throughput of ``GET /api/nearest`` on the real server (waitress + Flask).

Starts ``python -m webapp.cli serve`` as a subprocess on 127.0.0.1 with a fresh SQLite database
(``init-db``, then ``demo``), waits for ``/healthz``, then measures:

* sequential requests on one keep-alive connection (``http.client``): mean/p50/p99 ms;
* the same with a new connection per request;
* a closed-loop concurrent run (a few client threads, each with its own keep-alive
  connection) for ~10 s: requests/s, latency percentiles and errors;
* server CPU time per request (from ``/proc/<pid>/stat``) and server RSS.

Peer reference: a minimal Flask app served by waitress the same way (same threads), whose
one route returns a small JSON document: the floor for this stack on this machine. An
in-process breakdown (Flask test client, no sockets; and the steps of the view) shows where a
request's time goes.

All traffic goes to 127.0.0.1; counts and durations are bounded; the servers are always
terminated.

Run: ``.venv/bin/python bench/bench_http.py [--requests N] [--seconds S] [--threads T]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from _common import (
    REPO_ROOT,
    Timer,
    latency_summary,
    machine,
    print_header,
    print_table,
    versions,
    write_json,
)

HOST = "127.0.0.1"
PYTHON = sys.executable
#: Demo registry extent (Guangxi): query points are drawn from here.
QUERY_BOX = (104.5, 21.5, 112.0, 26.4)
SERVER_THREADS = 8  # `yizhan serve` default

PEER_APP = r"""
import sys, waitress
from flask import Flask, jsonify, request
app = Flask("peer")
@app.get("/healthz")
def healthz():
    return {"status": "ok"}
@app.get("/api/nearest")
def nearest():
    lon = float(request.args["lon"]); lat = float(request.args["lat"])
    return jsonify({"type": "FeatureCollection", "features": [], "query": {"lon": lon,
                    "lat": lat, "k": int(request.args.get("k", 5))}})
waitress.serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=int(sys.argv[2]),
               ident="peer")
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def proc_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its descendants (a pre-fork server's workers): user +
    system time of each live one, plus the reaped children's time each parent holds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        todo += [int(c) for c in children]
    return total / ticks


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def server(cmd: list[str], env: dict, port: int, log: Path, timeout: float = 60.0):
    """Start a server subprocess, wait for /healthz, yield it; always terminate it."""
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdout=fh, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {proc.returncode}:\n"
                    + log.read_text(errors="replace")[-2000:]
                )
            try:
                conn = http.client.HTTPConnection(HOST, port, timeout=2)
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                resp.read()
                conn.close()
                if resp.status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    "server did not answer /healthz in time:\n"
                    + log.read_text(errors="replace")[-2000:]
                )
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def make_paths(n: int, seed: int = 42, k: int = 5) -> list[str]:
    rng = random.Random(seed)
    x0, y0, x1, y1 = QUERY_BOX
    return [
        f"/api/nearest?lon={rng.uniform(x0, x1):.6f}&lat={rng.uniform(y0, y1):.6f}&k={k}"
        for _ in range(n)
    ]


def sequential(port: int, paths: list[str], keep_alive: bool = True) -> dict:
    """One client, one request at a time; latency includes reading the whole body."""
    lat, errors, sizes = [], 0, 0
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    pc = time.perf_counter
    for path in paths:
        if not keep_alive:
            conn = http.client.HTTPConnection(HOST, port, timeout=10)
        t0 = pc()
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            dt = pc() - t0
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection(HOST, port, timeout=10)
            continue
        if resp.status != 200:
            errors += 1
        lat.append(dt)
        sizes += len(body)
        if not keep_alive:
            conn.close()
    conn.close()
    return {
        "latency_ms": latency_summary(lat, 1e3),
        "errors": errors,
        "mean_body_bytes": sizes / max(len(lat), 1),
    }


def closed_loop(port: int, paths: list[str], threads: int, seconds: float) -> dict:
    """``threads`` clients, each sending its next request as soon as the last one answered."""
    stop_at = time.perf_counter() + seconds
    results: list[tuple[list[float], int]] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        lat, errors = [], 0
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        pc = time.perf_counter
        i = offset
        while pc() < stop_at:
            path = paths[i % len(paths)]
            i += threads
            t0 = pc()
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    errors += 1
                lat.append(pc() - t0)
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=10)
        conn.close()
        with lock:
            results.append((lat, errors))

    t0 = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(seconds + 30)
    elapsed = time.perf_counter() - t0
    lat = [x for r in results for x in r[0]]
    errors = sum(r[1] for r in results)
    return {
        "threads": threads,
        "seconds": elapsed,
        "requests": len(lat),
        "requests_per_s": len(lat) / elapsed,
        "errors": errors,
        "latency_ms": latency_summary(lat, 1e3) if lat else None,
    }


def in_process_breakdown(db_url: str, paths: list[str]) -> dict[str, dict]:
    """Where one request's time goes, without sockets: test client, then the view's steps."""
    from datetime import UTC, datetime
    from urllib.parse import parse_qs, urlsplit

    from geo.index import Filter
    from webapp import create_app
    from webapp.services import services

    app = create_app({"DATABASE_URL": db_url, "TESTING": True})
    client = app.test_client()
    ctx = services(app)
    for p in paths[:50]:
        client.get(p)  # warm up, builds the index
    out: dict[str, dict] = {}
    pc = time.perf_counter

    def timed(label: str, fn) -> None:
        lat = []
        for p in paths:
            t0 = pc()
            fn(p)
            lat.append(pc() - t0)
        out[label] = latency_summary(lat, 1e3)

    timed("Flask test client GET /api/nearest (no socket)", client.get)
    index = ctx.index.get()
    pts = {
        p: tuple(float(v[0]) for k, v in parse_qs(urlsplit(p).query).items() if k in ("lon", "lat"))
        for p in paths
    }
    timed("  LiveIndex.get() (revision query on SQLite)", lambda p: ctx.index.get())
    timed("  index.nearest(k=5, Filter())", lambda p: index.nearest(*pts[p], 5, Filter()))
    from geo.geojson import stations_geojson

    hits = {p: index.nearest(*pts[p], 5, Filter()) for p in paths}
    now = datetime.now(UTC)
    timed(
        "  stations_geojson(5 hits) (is_open per hit)",
        lambda p: stations_geojson(
            [h.station for h in hits[p]], at=now, distances=[h.distance_m for h in hits[p]]
        ),
    )
    with app.app_context():
        from flask import jsonify

        docs = {
            p: stations_geojson(
                [h.station for h in hits[p]], at=now, distances=[h.distance_m for h in hits[p]]
            )
            for p in paths
        }
        timed("  jsonify(feature collection)", lambda p: jsonify(docs[p]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000, help="sequential requests")
    ap.add_argument("--seconds", type=float, default=10.0, help="concurrent run duration")
    ap.add_argument("--threads", type=int, default=4, help="concurrent client threads")
    args = ap.parse_args(argv)
    n_req, secs, n_thr = args.requests, min(args.seconds, 60.0), args.threads

    libs = versions("yizhan", "flask", "werkzeug", "waitress", "sqlalchemy", "numpy", "scipy")
    paths = make_paths(n_req)

    with tempfile.TemporaryDirectory(prefix="yizhan-bench-http-") as tmp:
        tmpdir = Path(tmp)
        db_url = f"sqlite:///{tmpdir / 'b.db'}"
        env = {**os.environ, "YIZHAN_DATABASE_URL": db_url, "PYTHONUNBUFFERED": "1"}
        env.pop("PORT", None)
        setup = {}
        for verb in ("init-db", "demo"):
            with Timer() as t:
                r = subprocess.run(
                    [PYTHON, "-m", "webapp.cli", verb],
                    env=env,
                    cwd=REPO_ROOT,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
            if r.returncode != 0:
                print(r.stdout, r.stderr, file=sys.stderr)
                raise SystemExit(f"`webapp.cli {verb}` failed with {r.returncode}")
            setup[verb] = {"seconds": t.s, "out": r.stdout.strip().splitlines()[-1:]}

        port = free_port()
        cmd = [PYTHON, "-m", "webapp.cli", "serve", "--host", HOST, "--port", str(port)]
        t_start = time.perf_counter()
        with server(cmd, env, port, tmpdir / "server.log") as proc:
            startup_s = time.perf_counter() - t_start
            conn = http.client.HTTPConnection(HOST, port, timeout=10)
            conn.request("GET", "/healthz")
            health = json.loads(conn.getresponse().read())
            conn.close()
            print_header(
                "bench_http: GET /api/nearest over HTTP (waitress, 127.0.0.1)",
                libs,
                {
                    "stations": health.get("stations"),
                    "sequential requests": n_req,
                    "concurrent": f"{n_thr} threads x {secs:g} s",
                    "server threads": SERVER_THREADS,
                    "k": 5,
                    "seed": 42,
                },
            )
            print(
                f"setup: init-db {setup['init-db']['seconds']:.1f} s, demo "
                f"{setup['demo']['seconds']:.1f} s ({' '.join(setup['demo']['out'])}); "
                f"server ready in {startup_s:.1f} s\n"
            )
            # Check one answer properly before timing.
            conn = http.client.HTTPConnection(HOST, port, timeout=10)
            conn.request("GET", paths[0])
            resp = conn.getresponse()
            doc = json.loads(resp.read())
            conn.close()
            assert resp.status == 200 and doc["numberReturned"] == 5, doc
            sequential(port, paths[:100])  # warm up

            cpu0 = proc_cpu_s(proc.pid)
            seq = sequential(port, paths)
            cpu_per_req_ms = (proc_cpu_s(proc.pid) - cpu0) / n_req * 1e3
            seq_new = sequential(port, paths[: max(1, n_req // 4)], keep_alive=False)
            cpu0 = proc_cpu_s(proc.pid)
            conc = closed_loop(port, paths, n_thr, secs)
            conc_cpu_ms = (proc_cpu_s(proc.pid) - cpu0) / max(conc["requests"], 1) * 1e3
            server_rss = proc_rss_mb(proc.pid)

        peer_port = free_port()
        peer_cmd = [PYTHON, "-c", PEER_APP, str(peer_port), str(SERVER_THREADS)]
        with server(peer_cmd, env, peer_port, tmpdir / "peer.log") as peer:
            sequential(peer_port, paths[:100])
            cpu0 = proc_cpu_s(peer.pid)
            p_seq = sequential(peer_port, paths)
            p_cpu_ms = (proc_cpu_s(peer.pid) - cpu0) / n_req * 1e3
            p_conc = closed_loop(peer_port, paths, n_thr, min(secs, 5.0))

        os.environ["YIZHAN_DATABASE_URL"] = db_url
        breakdown = in_process_breakdown(db_url, paths[:500])

    def lrow(label, res, extra=""):
        s = res["latency_ms"]
        return [
            label,
            s["n"],
            s["mean"],
            s["p50"],
            s["p90"],
            s["p99"],
            s["max"],
            res["errors"],
            extra,
        ]

    print_table(
        [
            "sequential (1 client)",
            "requests",
            "mean ms",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "errors",
            "server CPU ms/req",
        ],
        [
            lrow("/api/nearest, keep-alive", seq, f"{cpu_per_req_ms:.2f}"),
            lrow("/api/nearest, new connection each", seq_new),
            lrow("peer: minimal Flask+waitress, keep-alive", p_seq, f"{p_cpu_ms:.2f}"),
        ],
        title="Sequential latency (client-side, includes reading the body; "
        f"body ≈ {seq['mean_body_bytes'] / 1024:.1f} KiB)",
    )
    print(
        f"ratio ours/peer (mean, keep-alive): "
        f"{seq['latency_ms']['mean'] / p_seq['latency_ms']['mean']:.2f}x\n"
    )

    def crow(label, res, extra=""):
        s = res["latency_ms"]
        return [
            label,
            res["threads"],
            res["seconds"],
            res["requests"],
            res["requests_per_s"],
            s["mean"],
            s["p50"],
            s["p99"],
            res["errors"],
            extra,
        ]

    print_table(
        [
            "closed loop",
            "threads",
            "seconds",
            "requests",
            "req/s",
            "mean ms",
            "p50 ms",
            "p99 ms",
            "errors",
            "server CPU ms/req",
        ],
        [
            crow("/api/nearest", conc, f"{conc_cpu_ms:.2f}"),
            crow("peer: minimal Flask+waitress", p_conc),
        ],
        title="Concurrent closed-loop run (client threads share the 2 CPUs with the server)",
    )
    print_table(
        ["in-process step", "n", "mean ms", "p50 ms", "p99 ms"],
        [[k, v["n"], v["mean"], v["p50"], v["p99"]] for k, v in breakdown.items()],
        title="In-process breakdown of one /api/nearest request (same DB, no sockets)",
    )
    print(f"server RSS after the runs: {server_rss:.0f} MB")

    ok = seq["errors"] == 0 and seq_new["errors"] == 0 and conc["errors"] == 0
    print(f"errors: {'none' if ok else 'SOME (see tables)'}")
    write_json(
        "bench_http",
        {
            "benchmark": "http",
            "machine": machine(),
            "versions": libs,
            "inputs": {
                "stations": health.get("stations"),
                "sequential_requests": n_req,
                "concurrent_threads": n_thr,
                "concurrent_seconds": secs,
                "server_threads": SERVER_THREADS,
                "query_box": QUERY_BOX,
                "seed": 42,
            },
            "setup": setup,
            "server_startup_s": startup_s,
            "sequential_keepalive": seq,
            "sequential_new_connection": seq_new,
            "server_cpu_ms_per_request": {"sequential": cpu_per_req_ms, "concurrent": conc_cpu_ms},
            "concurrent": conc,
            "peer": {
                "sequential_keepalive": p_seq,
                "concurrent": p_conc,
                "server_cpu_ms_per_request": p_cpu_ms,
            },
            "in_process_ms": breakdown,
            "server_rss_mb": server_rss,
            "ok": ok,
        },
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
