"""What counting a demand signal adds to ``/api/nearest`` (issue 15 item 8).

Three apps on copies of the same seeded SQLite registry answer the same seeded points through
Werkzeug's test client in this process, interleaved in rounds (``time.process_time`` per
round): signals **on** with ``origin=search`` (counted: H3 cell, buffer), signals **off** with
the same ``origin`` (the switch), and no ``origin`` (not counted). The difference on − off is
the per-request cost of recording; the buffered counts are then written by one ``flush()``,
timed separately (the background thread's work, off the request path), and checked: every
counted request is in ``demand_signals``.

Also timed: a direct upsert per request (one transaction of ``add_counts``), the alternative
the buffer avoids.

Run: ``.venv/bin/python bench/bench_signals.py [--requests 3000] [--rounds 6]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO_ROOT, print_header, print_table, versions, write_json

sys.path.insert(0, str(REPO_ROOT))


def make_app(db: Path, on: bool):
    from geo.records import import_registry
    from webapp import create_app
    from webapp.settings import WebSettings

    url = f"sqlite:///{db}"
    s = WebSettings.from_env({}, database_url=url, demand_signals=on, tile_url="")
    app = create_app({"DATABASE_URL": url, "SETTINGS": s, "TESTING": True})
    import_registry(app.extensions["yizhan"].repo, REPO_ROOT / "data" / "demo" / "stations.csv")
    return app


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000, help="per app and round set")
    ap.add_argument("--rounds", type=int, default=6)
    args = ap.parse_args()
    import sqlalchemy as sa

    from geo.demand import signals
    from webapp.services import services

    rng = random.Random(42)
    points = [(rng.uniform(108.5, 110.5), rng.uniform(24.0, 26.0)) for _ in range(args.requests)]
    per_round = max(1, args.requests // args.rounds)
    tmp = Path(tempfile.mkdtemp())
    apps = {
        "on, origin=search": (make_app(tmp / "on.db", True), "search"),
        "off, origin=search": (make_app(tmp / "off.db", False), "search"),
        "no origin": (make_app(tmp / "none.db", True), None),
    }
    # the background thread would flush during the timing: make it wait until the end
    for app, _ in apps.values():
        services(app).signals.flush_every_s = 3600.0
        services(app).signals.flush_events = 10**9
    clients = {k: (a.test_client(), o) for k, (a, o) in apps.items()}
    for c, _o in clients.values():  # warm-up: index build, caches
        for lon, lat in points[:50]:
            c.get("/api/nearest", query_string={"lon": lon, "lat": lat, "mode": "car"})
    cpu: dict[str, list[float]] = {k: [] for k in clients}
    for r in range(args.rounds):
        chunk = points[r * per_round : (r + 1) * per_round]
        for name, (c, origin) in clients.items():
            q = {"mode": "car"} | ({"origin": origin} if origin else {})
            t0 = time.process_time()
            for lon, lat in chunk:
                rv = c.get("/api/nearest", query_string={**q, "lon": lon, "lat": lat})
                assert rv.status_code == 200
            cpu[name].append((time.process_time() - t0) / len(chunk) * 1e6)
    on_app = apps["on, origin=search"][0]
    rec = services(on_app).signals
    pending = rec.pending
    t0 = time.perf_counter()
    written = rec.flush()
    flush_ms = (time.perf_counter() - t0) * 1e3
    with services(on_app).repo.engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.sum(signals.demand_signals.c.count))).scalar()
    ok = written == pending == stored == per_round * args.rounds
    # the alternative: one upsert transaction per request
    engine = services(on_app).repo.engine
    t0 = time.perf_counter()
    n_direct = 300
    for lon, lat in points[:n_direct]:
        key = (signals.today(), signals.cell_of(lon, lat), "search_unserved")
        with engine.begin() as conn:
            signals.add_counts(conn, {key: 1})
    direct_us = (time.perf_counter() - t0) / n_direct * 1e6
    cell_t0 = time.perf_counter()
    for lon, lat in points:
        signals.cell_of(lon, lat)
    cell_us = (time.perf_counter() - cell_t0) / len(points) * 1e6
    # record_point itself (cell, day, buffer increment under the lock), on a spare recorder
    spare = signals.SignalRecorder(engine, flush_every_s=3600.0, flush_events=10**9)
    rec_t0 = time.perf_counter()
    for lon, lat in points:
        spare.record_point("search", lon, lat, False)
    record_us = (time.perf_counter() - rec_t0) / len(points) * 1e6
    spare.close()

    print_header(
        "Demand signals: cost per /api/nearest request",
        versions("h3", "sqlalchemy", "flask"),
        {"requests per app": per_round * args.rounds, "rounds": args.rounds},
    )
    med = {k: statistics.median(v) for k, v in cpu.items()}
    print_table(
        ["app", "CPU µs/request (median of rounds)", "min", "max"],
        [[k, med[k], min(v), max(v)] for k, v in cpu.items()],
        "/api/nearest through the test client (interleaved rounds)",
    )
    print_table(
        ["figure", "value"],
        [
            [
                "recording cost (on − off), µs/request",
                med["on, origin=search"] - med["off, origin=search"],
            ],
            ["h3 cell of a point, µs", cell_us],
            ["record_point (cell, day, buffer), µs", record_us],
            [f"flush of {pending} buffered events, ms", flush_ms],
            ["direct upsert per request (SQLite, own transaction), µs", direct_us],
            ["all counted events stored", ok],
        ],
    )
    for app, _ in apps.values():
        services(app).close()
    write_json(
        "signals",
        {
            "cpu_us": cpu,
            "median_us": med,
            "flush_ms": flush_ms,
            "direct_us": direct_us,
            "cell_us": cell_us,
            "record_us": record_us,
            "ok": ok,
        },
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
