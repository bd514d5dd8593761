"""CPU per ``/api/nearest`` request in one process: Yizhan's app against the Flask floor.

No sockets and no load generator: both apps answer the same seeded queries through
Werkzeug's test client in this process, interleaved in rounds, and ``time.process_time`` is
taken per round. What is left between the two is what Yizhan's request handling adds on top
of a minimal Flask + ``cKDTree`` view (``bench_serving.py``'s floor app): session opening,
``before``/``after_request`` hooks, parameter parsing and the richer answer.

``--http`` measures the same over HTTP instead: ``yizhan serve`` (waitress, as
``bench_serving.py`` starts it) and the floor app (``bench_serving.FLOOR_APP``, waitress with
the same threads) run side by side on 127.0.0.1; one keep-alive client sends each server a
round of requests in turn, and the server's CPU time (``/proc/<pid>/stat``, its whole process
tree) per round gives its CPU per request: the sockets, waitress and the WSGI stack are in
the figure, the load generator is not.

Run: ``.venv/bin/python bench/bench_request_cpu.py [--stations 20000] [--requests 4000]
[--http]``.
The registry is the seeded one of ``bench_load.py`` (``bench/out/load_<n>.sqlite``).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import tempfile
import time
from pathlib import Path

from _common import OUT_DIR, REPO_ROOT, loadavg, print_header, print_table, versions, write_json
from bench_http import PYTHON, free_port, proc_cpu_s, server
from bench_load import build_registry, make_paths


def floor_app(db_url: str):
    """``bench_serving.py``'s floor app, built in this process."""
    from flask import Flask, jsonify, request
    from scipy.spatial import cKDTree

    from geo.index import chord_to_m, lonlat_to_xyz
    from geo.store import StationRepository

    stations = [s for s in StationRepository.from_url(db_url).all() if s.lon is not None]
    tree = cKDTree(lonlat_to_xyz([s.lon for s in stations], [s.lat for s in stations]))
    app = Flask("floor")

    @app.get("/api/nearest")
    def nearest():
        lon = float(request.args["lon"])
        lat = float(request.args["lat"])
        k = int(request.args.get("k", 5))
        chord, idx = tree.query(lonlat_to_xyz(lon, lat), k=k)
        feats = []
        for d, i in zip(chord_to_m(chord).tolist(), idx.tolist(), strict=True):
            s = stations[i]
            feats.append(
                {
                    "type": "Feature",
                    "id": s.id,
                    "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
                    "properties": {"name": s.name, "kind": s.kind, "distance_m": d},
                }
            )
        return jsonify({"type": "FeatureCollection", "features": feats})

    return app


def yizhan_app(db_url: str):
    from webapp import create_app
    from webapp.settings import WebSettings

    settings = WebSettings.from_env({}, database_url=db_url)
    return create_app({"DATABASE_URL": db_url, "SETTINGS": settings})


def cpu_per_request_ms(
    apps: dict[str, object], paths: list[str], rounds: int, headers: dict[str, str]
) -> dict[str, float]:
    """Median over ``rounds`` of each app's CPU ms per request, apps interleaved per round."""
    clients = {name: app.test_client() for name, app in apps.items()}  # type: ignore[attr-defined]
    for c in clients.values():  # warm: index built, encodings cached
        for p in paths:
            assert c.get(p, headers=headers).status_code == 200
    per: dict[str, list[float]] = {name: [] for name in apps}
    chunk = max(1, len(paths) // rounds)
    for r in range(rounds):
        part = paths[r * chunk : (r + 1) * chunk]
        for name, c in clients.items():
            t0 = time.process_time()
            for p in part:
                c.get(p, headers=headers)
            per[name].append((time.process_time() - t0) / len(part) * 1e3)
    return {name: sorted(v)[len(v) // 2] for name, v in per.items()}


def http_cpu_per_request_ms(
    servers: dict[str, tuple[int, int]], paths: list[str], rounds: int, headers: dict[str, str]
) -> dict[str, float]:
    """Median over ``rounds`` of each server's CPU ms per request over HTTP (keep-alive).

    ``servers`` maps a name to ``(port, pid)``; the servers take turns, one round each.
    """
    conns = {
        n: http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for n, (port, _) in servers.items()
    }

    def get(name: str, path: str) -> None:
        conns[name].request("GET", path, headers=headers)
        resp = conns[name].getresponse()
        resp.read()
        assert resp.status == 200, (name, path, resp.status)

    for name in servers:  # warm: encodings cached, code paths hot
        for p in paths:
            get(name, p)
    per: dict[str, list[float]] = {name: [] for name in servers}
    chunk = max(1, len(paths) // rounds)
    for r in range(rounds):
        part = paths[r * chunk : (r + 1) * chunk]
        for name, (_, pid) in servers.items():
            c0 = proc_cpu_s(pid)
            for p in part:
                get(name, p)
            per[name].append((proc_cpu_s(pid) - c0) / len(part) * 1e3)
    for c in conns.values():
        c.close()
    return {name: sorted(v)[len(v) // 2] for name, v in per.items()}


@contextlib.contextmanager
def http_servers(db: Path):
    """``yizhan serve`` and the floor app on free ports: ``{name: (port, pid)}``."""
    from bench_load import THREADS
    from bench_serving import FLOOR_APP

    env = dict(os.environ, YIZHAN_DATABASE_URL=f"sqlite:///{db}", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = str(REPO_ROOT)
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        script = Path(tmp) / "floor.py"
        script.write_text(FLOOR_APP, encoding="utf-8")
        p1, p2 = free_port(), free_port()
        ours = [PYTHON, "-m", "webapp.cli", "serve", "--host", "127.0.0.1", "--port", str(p1)]
        ours += ["--threads", str(THREADS)]
        floor = [PYTHON, str(script), str(p2), str(THREADS), f"sqlite:///{db}"]
        a = stack.enter_context(
            server(ours, env, p1, OUT_DIR / "bench_request_cpu_yizhan.log", 240)
        )
        b = stack.enter_context(
            server(floor, env, p2, OUT_DIR / "bench_request_cpu_floor.log", 240)
        )
        yield {"yizhan": (p1, a.pid), "floor": (p2, b.pid)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--stations", type=int, default=20_000)
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--http", action="store_true", help="over HTTP (two served processes)")
    args = ap.parse_args()
    print_header(
        "CPU per /api/nearest request: " + ("over HTTP" if args.http else "in process"),
        versions("flask", "werkzeug"),
        {"stations": args.stations, "requests": args.requests},
    )
    db = build_registry(args.stations)
    db_url = f"sqlite:///{db}"
    paths = make_paths("nearest", args.requests)
    rows, out = [], {}
    print(f"load average at start: {loadavg()}; {'HTTP' if args.http else 'in process'}")
    with contextlib.ExitStack() as stack:
        if args.http:
            servers = stack.enter_context(http_servers(db))
        else:
            apps = {"yizhan": yizhan_app(db_url), "floor": floor_app(db_url)}
        for label, headers in (
            ("no Accept-Encoding, no Origin", {}),
            ("browser: gzip + Origin", {"Accept-Encoding": "gzip", "Origin": "https://x.example"}),
        ):
            if args.http:
                ms = http_cpu_per_request_ms(servers, paths, args.rounds, headers)
            else:
                ms = cpu_per_request_ms(apps, paths, args.rounds, headers)
            out[label] = ms
            ratio = ms["floor"] / ms["yizhan"]
            rows.append([label, f"{ms['yizhan']:.3f}", f"{ms['floor']:.3f}", f"{ratio:.2f}"])
    print_table(["client", "yizhan ms", "floor ms", "floor ÷ yizhan"], rows)
    print(f"load average at end: {loadavg()}")
    write_json(
        "bench_request_cpu_http" if args.http else "bench_request_cpu",
        {"args": vars(args), "cpu_ms": out},
    )


if __name__ == "__main__":
    main()
