"""SQLite vs PostgreSQL + PostGIS for the repository's spatial questions, over 1,000,000 seeded
stations in one province (Guangxi's bounds): a bbox query (a city-sized box, every matching
station decoded), and KNN (``StationRepository.nearest``: the k nearest with great-circle
metres). On SQLite the bbox uses the ``(lon, lat)`` B-tree index and KNN scans with numpy; on
PostGIS both use the GiST index on the generated ``geom`` column.

Peer for KNN: a bare ``SELECT id FROM stations ORDER BY geom <-> point LIMIT k`` on the same
database (the floor of index-assisted KNN; it returns ids in planar-degree order, without exact
distances or rows). Target (issue 14): Yizhan's PostGIS KNN within 2× of it.

The PostgreSQL server is a throwaway cluster (tests/pg.py: initdb/pg_ctl in a temporary
directory, removed at the end), or ``--url postgresql+psycopg://…`` for an existing one (the
bench creates and drops its own tables there: use an empty database).

Run: .venv/bin/python bench/bench_postgis.py [--n 1000000] [--queries 200] [--url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import latency_summary, print_header, print_table, versions, write_json

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # tests/pg.py: the throwaway cluster

import sqlalchemy as sa  # noqa: E402

from geo.store import StationQuery, StationRepository  # noqa: E402
from geo.store.schema import stations  # noqa: E402

GUANGXI = (104.5, 21.0, 112.0, 26.4)
BOX_DEG = 0.1  # a city-sized query box (≈ 10 × 11 km): ≈ 250 stations at 1,000,000


def synthetic(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    lon = rng.uniform(GUANGXI[0], GUANGXI[2], n).round(6)
    lat = rng.uniform(GUANGXI[1], GUANGXI[3], n).round(6)
    return lon, lat


def load_sqlite(repo: StationRepository, lon: np.ndarray, lat: np.ndarray) -> float:
    t = time.perf_counter()
    chunk = 50_000
    with repo.engine.begin() as conn:
        for i in range(0, len(lon), chunk):
            conn.execute(
                stations.insert(),
                [
                    {
                        "id": f"S{j:07d}",
                        "name": f"站{j}",
                        "kind": "rest_stop",
                        "services": "drinking_water",
                        "lon": float(lon[j]),
                        "lat": float(lat[j]),
                        "precision": "exact",
                        "status": "open",
                        "demo": False,
                    }
                    for j in range(i, min(i + chunk, len(lon)))
                ],
            )
        conn.execute(sa.text("ANALYZE"))
    return time.perf_counter() - t


def load_postgres(repo: StationRepository, lon: np.ndarray, lat: np.ndarray) -> float:
    """COPY (the fastest path into PostgreSQL); PostGIS computes ``geom`` per row."""
    t = time.perf_counter()
    buf = io.StringIO()
    for j in range(len(lon)):
        buf.write(
            f"S{j:07d}\t站{j}\trest_stop\tdrinking_water\t{lon[j]}\t{lat[j]}\texact\topen\tf\n"
        )
    raw = repo.engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(
            "COPY stations (id, name, kind, services, lon, lat, precision, status, demo) FROM STDIN"
        ) as copy:
            copy.write(buf.getvalue())
        raw.commit()
    finally:
        raw.close()
    with repo.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE stations"))
    return time.perf_counter() - t


@contextlib.contextmanager
def pytest_like_patch(obj, name: str, value):
    """``obj.name = value`` inside the block, restored after (as pytest's monkeypatch)."""
    before = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, before)


def timed(fn, args_list) -> tuple[list[float], list]:
    out, samples = [], []
    for args in args_list:
        t = time.perf_counter()
        out.append(fn(*args))
        samples.append(time.perf_counter() - t)
    return samples, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--sqlite-knn-queries", type=int, default=20, help="numpy scans are slow")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--url", default=None, help="an existing PostgreSQL database")
    a = ap.parse_args()

    print_header(
        "SQLite vs PostGIS: bbox and KNN",
        versions("sqlalchemy", "psycopg", "geoalchemy2", "numpy"),
        {"stations": a.n, "queries": a.queries, "k": a.k, "box_deg": BOX_DEG},
    )
    lon, lat = synthetic(a.n)
    rng = np.random.default_rng(7)
    qlon = rng.uniform(GUANGXI[0], GUANGXI[2] - BOX_DEG, a.queries)
    qlat = rng.uniform(GUANGXI[1], GUANGXI[3] - BOX_DEG, a.queries)
    boxes = [
        (StationQuery(bbox=(x, y, x + BOX_DEG, y + BOX_DEG)),)
        for x, y in zip(qlon.tolist(), qlat.tolist(), strict=True)
    ]
    points = list(zip(qlon.tolist(), qlat.tolist(), strict=True))

    cluster = None
    tmp = Path(tempfile.mkdtemp(prefix="yizhan-bench-"))
    ok = True
    try:
        if a.url is None:
            from pg import Cluster, missing

            from support import free_port

            reason = missing()
            if reason:
                print(reason, file=sys.stderr)
                return 1
            cluster = Cluster(free_port()).init()
            cluster.start()
            cluster.make_template()
            url = cluster.url(cluster.create_database())
        else:
            url = a.url
        sq = StationRepository.from_url(f"sqlite:///{tmp / 'bench.db'}")
        sq.init_schema()
        pgr = StationRepository.from_url(url)
        pgr.init_schema()
        load_rows = [
            ("SQLite", f"{load_sqlite(sq, lon, lat):.1f}"),
            ("PostGIS (COPY)", f"{load_postgres(pgr, lon, lat):.1f}"),
        ]
        print_table(["backend", "load s"], load_rows, title=f"loading {a.n:,} stations")

        res: dict[str, dict] = {}
        # bbox: every matching station decoded into Station objects
        for name, repo in (("sqlite", sq), ("postgis", pgr)):
            repo.query(*boxes[0])  # warm the connection pool and caches
            samples, got = timed(lambda q, r=repo: r.query(q), boxes)
            res[f"bbox_{name}"] = latency_summary(samples, 1e3)
            res[f"bbox_{name}_counts"] = [t for _, t in got]
        if res["bbox_sqlite_counts"] != res["bbox_postgis_counts"]:
            print("FAIL: bbox counts differ between SQLite and PostGIS", file=sys.stderr)
            ok = False
        mean_hits = float(np.mean(res["bbox_postgis_counts"]))

        # KNN through the repository
        knn_pts = [(x, y, a.k) for x, y in points]
        pgr.nearest(*knn_pts[0])
        samples, pg_knn = timed(pgr.nearest, knn_pts)
        res["knn_postgis"] = latency_summary(samples, 1e3)
        few = knn_pts[: a.sqlite_knn_queries]
        samples, sq_knn = timed(sq.nearest, few)
        res["knn_sqlite"] = latency_summary(samples, 1e3)
        for g, s in zip(pg_knn, sq_knn, strict=False):
            if [n.station.id for n in g] != [n.station.id for n in s]:
                print("FAIL: PostGIS and SQLite KNN disagree", file=sys.stderr)
                ok = False
                break

        # the peer: a bare index-assisted KNN returning ids only
        bare = sa.text(
            "SELECT id FROM stations ORDER BY geom <-> ST_SetSRID(ST_MakePoint(:x, :y), 4326) "
            "LIMIT :k"
        )
        with pgr.engine.connect() as conn:

            def run_bare(x, y, k):
                return conn.execute(bare, {"x": x, "y": y, "k": k}).scalars().all()

            run_bare(*knn_pts[0])
            samples, _ = timed(run_bare, knn_pts)
        res["knn_bare_held"] = latency_summary(samples, 1e3)

        def run_bare_checkout(x, y, k):  # as a request runs it: a pooled connection each time
            with pgr.engine.connect() as conn:
                return conn.execute(bare, {"x": x, "y": y, "k": k}).scalars().all()

        samples, _ = timed(run_bare_checkout, knn_pts)
        res["knn_bare"] = latency_summary(samples, 1e3)

        # The same two, interleaved point by point: on a shared machine the load drifts, and
        # the ratio of two runs minutes apart measures the drift as much as the queries.
        # A third, also interleaved: the repository with its statement not prepared (each run
        # sends, parses and analyses the statement's text again), what it did before.
        from geo.store import postgis

        def unprepared(x, y, k):
            with pytest_like_patch(postgis, "prepared", lambda conn: contextlib.nullcontext()):
                return pgr.nearest(x, y, k)

        ours_s, bare_s, unprep_s = [], [], []
        for x, y, k in knn_pts:
            t = time.perf_counter()
            run_bare_checkout(x, y, k)
            bare_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            got = pgr.nearest(x, y, k)
            ours_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            again = unprepared(x, y, k)
            unprep_s.append(time.perf_counter() - t)
            if [(n.station.id, n.distance_m) for n in got] != [
                (n.station.id, n.distance_m) for n in again
            ]:
                print("FAIL: prepared and unprepared KNN disagree", file=sys.stderr)
                ok = False
        res["knn_postgis_interleaved"] = latency_summary(ours_s, 1e3)
        res["knn_bare_interleaved"] = latency_summary(bare_s, 1e3)
        res["knn_unprepared_interleaved"] = latency_summary(unprep_s, 1e3)

        def med(key: str) -> float:
            return res[key]["p50"]

        rows = [
            ("bbox (SQLite)", med("bbox_sqlite"), res["bbox_sqlite"]["p99"], "", ""),
            (
                "bbox (PostGIS)",
                med("bbox_postgis"),
                res["bbox_postgis"]["p99"],
                f"{med('bbox_postgis') / med('bbox_sqlite'):.2f}× SQLite",
                "",
            ),
            ("KNN (SQLite, numpy scan)", med("knn_sqlite"), res["knn_sqlite"]["p99"], "", ""),
            (
                "KNN (PostGIS, repository)",
                med("knn_postgis"),
                res["knn_postgis"]["p99"],
                f"{med('knn_sqlite') / med('knn_postgis'):.0f}× faster than SQLite",
                f"{med('knn_postgis') / med('knn_bare'):.2f}× bare (target ≤ 2×)",
            ),
            (
                "peer: bare ORDER BY geom <-> pt LIMIT k (pooled connection, as a request)",
                med("knn_bare"),
                res["knn_bare"]["p99"],
                "",
                "",
            ),
            (
                "KNN (PostGIS, repository), interleaved with the pooled peer",
                med("knn_postgis_interleaved"),
                res["knn_postgis_interleaved"]["p99"],
                "",
                f"{med('knn_postgis_interleaved') / med('knn_bare_interleaved'):.2f}× bare "
                "(target ≤ 2×)",
            ),
            (
                "KNN (PostGIS, repository, statement not prepared), interleaved",
                med("knn_unprepared_interleaved"),
                res["knn_unprepared_interleaved"]["p99"],
                "",
                f"{med('knn_unprepared_interleaved') / med('knn_bare_interleaved'):.2f}× bare",
            ),
            (
                "peer: bare, pooled, interleaved",
                med("knn_bare_interleaved"),
                res["knn_bare_interleaved"]["p99"],
                "",
                "",
            ),
            (
                "peer: the same on one held connection",
                med("knn_bare_held"),
                res["knn_bare_held"]["p99"],
                f"ours {med('knn_postgis') / med('knn_bare_held'):.2f}× this",
                "",
            ),
        ]
        print_table(
            ["query", "p50 ms", "p99 ms", "ratio", "target"],
            rows,
            title=f"{a.n:,} stations; bbox {BOX_DEG}° boxes (mean {mean_hits:.0f} hits); k={a.k}",
        )
        for key in ("bbox_sqlite_counts", "bbox_postgis_counts"):
            res.pop(key)
        write_json("bench_postgis", {"n": a.n, "k": a.k, "mean_bbox_hits": mean_hits, **res})
        sq.engine.dispose()
        pgr.engine.dispose()
    finally:
        if cluster is not None:
            cluster.destroy()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
