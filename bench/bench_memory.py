"""Memory per server process of ``yizhan serve``: RSS, PSS and USS of the master and each worker.

RSS counts every page a process maps, shared or not, so the RSS of two forked workers
that share an index counts it twice. PSS (proportional set size: each shared page divided
by the number of processes mapping it) adds up to what the server really holds, and USS
(unique set size: pages only this process maps) is what stopping that process would free.
All three are read from ``/proc/<pid>/smaps_rollup``.

For each worker count (1 and 2 by default) it starts ``yizhan serve`` on 127.0.0.1 over the
200,000-station registry of ``bench_load.py`` (``--workers N`` when N > 1: the gunicorn master
and its forked workers; one waitress process otherwise), waits for ``/healthz``, reads the
figures once idle ("started") and again after a bounded warm-up of ``/api/nearest``,
``/api/stations?bbox=`` and cluster tiles (every worker touched, "after traffic"), and stops
the server.

Run: ``.venv/bin/python bench/bench_memory.py [--stations 200000] [--workers 1,2]
[--requests 3000]``. All traffic goes to 127.0.0.1 and every server is stopped.
"""

from __future__ import annotations

import argparse
import http.client
import os
import time
from pathlib import Path

from _common import OUT_DIR, REPO_ROOT, loadavg, print_header, print_table, versions, write_json
from bench_http import PYTHON, free_port, server
from bench_load import THREADS, build_registry, make_paths
from bench_serving import tile_paths


def smaps_mb(pid: int) -> dict[str, float]:
    """RSS, PSS and USS (private clean + dirty) of one process in MB."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[-1] == "kB":
            fields[name] = int(parts[0]) / 1024
    uss = fields.get("Private_Clean", 0.0) + fields.get("Private_Dirty", 0.0)
    return {"rss": fields.get("Rss", 0.0), "pss": fields.get("Pss", 0.0), "uss": uss}


def processes(pid: int) -> list[tuple[str, int]]:
    """``(role, pid)`` of the server and its children (the workers of a pre-fork server)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    workers = [int(c) for c in children if "python" in _cmd(int(c)) or "yizhan" in _cmd(int(c))]
    if not workers:
        return [("single process", pid)]
    return [("master", pid)] + [(f"worker {i + 1}", w) for i, w in enumerate(sorted(workers))]


def _cmd(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def warm(port: int, paths: list[str]) -> None:
    """Send ``paths`` over a few connections (a new connection per 50 requests, so a
    pre-fork server hands them to every worker)."""
    conn = None
    for i, p in enumerate(paths):
        if i % 50 == 0:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        assert conn is not None
        conn.request("GET", p)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200, (p, resp.status)
    if conn is not None:
        conn.close()


def measure(db: Path, workers: int, requests: int) -> list[dict]:
    env = dict(os.environ, YIZHAN_DATABASE_URL=f"sqlite:///{db}", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = str(REPO_ROOT)
    port = free_port()
    cmd = [PYTHON, "-m", "webapp.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--threads", str(THREADS)]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    log = OUT_DIR / f"bench_memory_w{workers}.log"
    rows = []
    with server(cmd, env, port, log, timeout=300) as proc:
        warm(port, ["/api/nearest?lon=108.3&lat=22.8&k=5"] * 4 * workers)  # every worker up
        time.sleep(3.0 if workers > 1 else 1.0)
        for phase in ("started", "after traffic"):
            if phase == "after traffic":
                third = max(1, requests // 3)
                paths = make_paths("nearest", third) + make_paths("bbox", third)
                paths += tile_paths(third)
                warm(port, paths)
            load = loadavg()
            total = {"rss": 0.0, "pss": 0.0, "uss": 0.0}
            for role, pid in processes(proc.pid):
                mb = smaps_mb(pid)
                rows.append(
                    {"workers": workers, "phase": phase, "process": role, **mb, "load": load}
                )
                for k in total:
                    total[k] += mb[k]
            rows.append(
                {"workers": workers, "phase": phase, "process": "all", **total, "load": load}
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stations", type=int, default=200_000)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--label", default="", help="a name for this run in the JSON file")
    args = ap.parse_args(argv)
    print_header(
        "Memory per server process: RSS, PSS, USS",
        versions("flask", "waitress", "gunicorn", "scipy"),
        {"stations": args.stations, "warm-up requests": args.requests},
    )
    db = build_registry(args.stations)
    rows = []
    for w in (int(x) for x in args.workers.split(",")):
        rows += measure(db, w, args.requests)
    print_table(
        ["workers", "phase", "process", "RSS MB", "PSS MB", "USS MB", "load 1/5/15"],
        [
            [
                r["workers"],
                r["phase"],
                r["process"],
                f"{r['rss']:.0f}",
                f"{r['pss']:.0f}",
                f"{r['uss']:.0f}",
                r["load"],
            ]
            for r in rows
        ],
    )
    name = f"bench_memory{'_' + args.label if args.label else ''}"
    write_json(name, {"args": vars(args), "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
