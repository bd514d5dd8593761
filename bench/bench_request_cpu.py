"""CPU per ``/api/nearest`` request in one process: Yizhan's app against the Flask floor.

No sockets and no load generator: both apps answer the same seeded queries through
Werkzeug's test client in this process, interleaved in rounds, and ``time.process_time`` is
taken per round. What is left between the two is what Yizhan's request handling adds on top
of a minimal Flask + ``cKDTree`` view (``bench_serving.py``'s floor app): session opening,
``before``/``after_request`` hooks, parameter parsing and the richer answer.

Run: ``.venv/bin/python bench/bench_request_cpu.py [--stations 20000] [--requests 4000]``.
The registry is the seeded one of ``bench_load.py`` (``bench/out/load_<n>.sqlite``).
"""

from __future__ import annotations

import argparse
import time

from _common import loadavg, print_header, print_table, versions, write_json
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--stations", type=int, default=20_000)
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    print_header(
        "CPU per /api/nearest request, in process (test client)",
        versions("flask", "werkzeug"),
        {"stations": args.stations, "requests": args.requests},
    )
    db_url = f"sqlite:///{build_registry(args.stations)}"
    apps = {"yizhan": yizhan_app(db_url), "floor": floor_app(db_url)}
    paths = make_paths("nearest", args.requests)
    rows, out = [], {}
    for label, headers in (
        ("no Accept-Encoding, no Origin", {}),
        ("browser: gzip + Origin", {"Accept-Encoding": "gzip", "Origin": "https://x.example"}),
    ):
        ms = cpu_per_request_ms(apps, paths, args.rounds, headers)
        out[label] = ms
        ratio = ms["floor"] / ms["yizhan"]
        rows.append([label, f"{ms['yizhan']:.3f}", f"{ms['floor']:.3f}", f"{ratio:.2f}"])
    print_table(["client", "yizhan ms", "floor ms", "floor ÷ yizhan"], rows)
    print(f"load average at end: {loadavg()}")
    write_json("bench_request_cpu", {"args": vars(args), "cpu_ms": out})


if __name__ == "__main__":
    main()
