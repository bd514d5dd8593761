"""Registry import/export throughput on a realistic 100,000-row Guangxi registry CSV.

Measures, on one generated file (Chinese headers, mixed coordinate systems, ~1 % bad rows):

(a) ``read_registry``: read + validate, nothing stored;
(b) ``import_registry`` into a fresh SQLite file (one transaction);
(c) the same import again (every row unchanged);
(d) ``export_stations`` to CSV (English and Chinese headers) and GeoJSON.

Peer reference: ``pandas.read_csv`` of the same file (parse only, no validation) is the floor;
the stdlib ``csv.reader`` (what ``read_raw`` uses) is shown too.

Run: ``.venv/bin/python bench/bench_import.py [--rows N]`` from the repository root.
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from _common import REPO_ROOT, Timer, print_header, print_table, versions, write_json

from geo.models import SERVICES as SERVICE_TERMS

HEADER = [
    "编号",
    "名称",
    "类型",
    "地址",
    "经度",
    "纬度",
    "坐标系",
    "服务项目",
    "开放时间",
    "联系电话",
    "所属工会",
]

#: Bundled county outlines: positions are drawn inside Guangxi's counties (province 45).
COUNTIES = REPO_ROOT / "data" / "admin" / "counties.geojson"
GUANGXI_BOX = (104.5, 21.5, 112.0, 26.4)
ROADS = [
    "民族大道",
    "友爱路",
    "朝阳路",
    "人民路",
    "解放路",
    "中山路",
    "建设路",
    "新华路",
    "东环路",
    "西环大道",
    "桂春路",
    "文化路",
    "长堤路",
    "北京路",
    "五一路",
    "园湖路",
]
#: (label as written in registries, weight): the built-in kinds and some aliases.
KIND_LABELS = [
    ("工会爱心驿站", 40),
    ("户外劳动者服务站点", 15),
    ("爱心驿站", 8),
    ("法律援助服务站", 8),
    ("职工之家", 10),
    ("村级工会服务点", 8),
    ("农民工工作站", 4),
    ("帮扶服务站", 4),
    ("困难职工帮扶中心", 2),
    ("代表联络站", 1),
]
SERVICES = [t.zh for t in SERVICE_TERMS.values()]  # the model's labels, one source
HOURS = [
    ("周一至周五 09:00-17:00", 30),
    ("24小时", 25),
    ("每天 08:00-20:00", 20),
    ("周一至周五 08:30-12:00,14:30-17:30", 15),
    ("周一至周五 09:00-17:00; 周六 09:00-12:00", 8),
    ("", 2),
]
CRS = [("wgs84", 50), ("gcj02", 35), ("bd09", 10), ("GCJ-02", 3), ("百度", 2)]
UNKNOWN_KINDS = ["志愿者服务站", "工会小家", "暖心小屋", "便民服务中心"]
BAD_COORDS = ["一百零八点三", "108,3", "N/A", "待补充", "108.3.1"]
BAD_KINDS = ("missing_name", "unknown_kind", "non_numeric_coord", "swapped_lat_lon")


def _weighted(rng: random.Random, items: list[tuple[str, int]]) -> str:
    return rng.choices([i for i, _ in items], weights=[w for _, w in items])[0]


def guangxi_positions(
    n: int, seed: int = 42
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
    """``n`` uniform random WGS-84 points inside Guangxi's counties (within GUANGXI_BOX),
    with the index of the county each falls in, and the counties' properties."""
    import shapely

    doc = json.loads(COUNTIES.read_text(encoding="utf-8"))
    feats = [f for f in doc["features"] if str(f["properties"].get("code", "")).startswith("45")]
    geoms = np.array([shapely.geometry.shape(f["geometry"]) for f in feats])
    tree = shapely.STRtree(geoms)
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = GUANGXI_BOX
    lons, lats, which = [], [], []
    have = 0
    while have < n:
        x = rng.uniform(x0, x1, 2 * n)
        y = rng.uniform(y0, y1, 2 * n)
        pt_i, county_i = tree.query(shapely.points(x, y), predicate="within")
        first = np.unique(pt_i, return_index=True)[1]  # a point on a shared edge: once
        pt_i, county_i = pt_i[first], county_i[first]
        lons.append(x[pt_i])
        lats.append(y[pt_i])
        which.append(county_i)
        have += len(pt_i)
    return (
        np.concatenate(lons)[:n],
        np.concatenate(lats)[:n],
        np.concatenate(which)[:n],
        [f["properties"] for f in feats],
    )


def generate_registry(
    path: Path, n_rows: int, bad_fraction: float = 0.01, seed: int = 42
) -> Counter:
    """Write the registry CSV (UTF-8 with BOM, as Excel saves it); return bad-row counts.

    Positions are true WGS-84 points inside Guangxi, written in each row's declared system
    (GCJ-02 and BD-09 rows carry the shifted coordinates, as Amap/Baidu exports do).
    """
    from geo.crs import from_wgs84

    rng = random.Random(seed)
    lon, lat, county_i, counties = guangxi_positions(n_rows, seed)
    systems = [_weighted(rng, CRS) for _ in range(n_rows)]
    file_lon, file_lat = lon.copy(), lat.copy()
    for label in set(systems):
        mask = np.array([s == label for s in systems])
        file_lon[mask], file_lat[mask] = from_wgs84(lon[mask], lat[mask], label)
    bad = Counter()
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for n, (x, y, ci, system) in enumerate(
            zip(file_lon.tolist(), file_lat.tolist(), county_i.tolist(), systems, strict=True),
            start=1,
        ):
            county = counties[ci]
            city, district = county["prefecture"], county["name"]
            road = rng.choice(ROADS)
            kind = _weighted(rng, KIND_LABELS)
            services = "、".join(rng.sample(SERVICES, rng.randint(2, 6)))
            phone = (
                f"0{rng.randint(770, 779)}-{rng.randint(2000000, 8999999)}"
                if rng.random() < 0.7
                else "12351"
            )
            row = [
                f"GX-{county['code']}-{n:06d}",
                f"{city}{district}{road}{kind}（{n}号）",
                kind,
                f"{county['province']}{city}{district}{road}{rng.randint(1, 999)}号",
                f"{x:.6f}",
                f"{y:.6f}",
                system,
                services,
                _weighted(rng, HOURS),
                phone,
                f"{city}{district}总工会",
            ]
            if rng.random() < bad_fraction:
                what = rng.choice(BAD_KINDS)
                bad[what] += 1
                if what == "missing_name":
                    row[1] = ""
                elif what == "unknown_kind":
                    row[2] = rng.choice(UNKNOWN_KINDS)
                elif what == "non_numeric_coord":
                    row[rng.choice((4, 5))] = rng.choice(BAD_COORDS)
                else:
                    row[4], row[5] = row[5], row[4]
            w.writerow(row)
    return bad


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        with Timer() as t:
            fn()
        times.append(t.s)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000, help="rows in the generated registry")
    args = ap.parse_args(argv)

    import pandas as pd

    from geo.records import export_stations, import_registry, read_registry
    from geo.store import StationRepository

    libs = versions("yizhan", "numpy", "pandas", "sqlalchemy", "pyproj")
    import sqlite3

    libs["sqlite"] = sqlite3.sqlite_version

    with tempfile.TemporaryDirectory(prefix="yizhan-bench-import-") as tmp:
        tmpdir = Path(tmp)
        src = tmpdir / "registry.csv"
        with Timer() as t_gen:
            bad = generate_registry(src, args.rows)
        size_mb = src.stat().st_size / 1e6
        bad_text = ", ".join(f"{k}={v}" for k, v in sorted(bad.items()))
        print_header(
            "bench_import: registry read/validate, SQLite import, re-import, export",
            libs,
            {
                "rows": args.rows,
                "file": f"{size_mb:.1f} MB CSV (UTF-8 BOM, 11 Chinese columns)",
                "bad rows": f"{sum(bad.values())} ({bad_text})",
                "seed": 42,
            },
        )
        print(f"generated in {t_gen.s:.1f} s\n")
        n = args.rows
        results: list[dict] = []

        def add(step: str, seconds: float, rows: int, note: str = "") -> None:
            results.append(
                {
                    "step": step,
                    "seconds": seconds,
                    "rows": rows,
                    "rows_per_s": rows / seconds if seconds else float("inf"),
                    "note": note,
                }
            )

        # -- peers: parse only ------------------------------------------------------------
        t_pd = best_of(lambda: pd.read_csv(src, dtype=str, keep_default_na=False), 3)
        add("pandas.read_csv (peer floor, parse only)", t_pd, n, "dtype=str, best of 3")

        def stdlib_parse() -> None:
            text = src.read_bytes().decode("utf-8-sig")
            for _ in csv.reader(io.StringIO(text, newline="")):
                pass

        t_csv = best_of(stdlib_parse, 3)
        add("csv.reader (stdlib parse only)", t_csv, n, "best of 3")

        # -- (a) read + validate -------------------------------------------------------------
        gc.collect()
        with Timer() as t_read:
            stations, report = read_registry(src)
        add(
            "(a) read_registry (read+validate)",
            t_read.s,
            n,
            f"{len(stations)} valid, {len(report.rejected_lines)} rejected, "
            f"{len(report.warnings)} warnings",
        )
        expected_rejects = bad["missing_name"] + bad["unknown_kind"] + bad["non_numeric_coord"]
        reasons = Counter(r.field for r in report.rejected)
        warn_fields = Counter(w.field for w in report.warnings)
        del stations

        # -- (b) import into a fresh SQLite file --------------------------------------------
        repo = StationRepository.from_url(f"sqlite:///{tmpdir / 'import.db'}")
        repo.init_schema()
        marks: list[float] = []

        save = repo.save

        def timed_save(items, conn=None):  # marks the end of validation, then writes
            marks.append(time.perf_counter())
            return save(items, conn)

        repo.save = timed_save

        gc.collect()
        with Timer() as t_imp:
            rep_b = import_registry(repo, src)
        c_b = rep_b.to_dict()["counts"]
        add(
            "(b) import_registry, fresh SQLite",
            t_imp.s,
            n,
            f"{c_b['imported']} inserted, {c_b['rejected_rows']} rejected",
        )
        write_b = t_imp.t0 + t_imp.s - marks[-1]
        add(
            "  of which repo.save (insert, 1 transaction)",
            write_b,
            n,
            f"validation {t_imp.s - write_b:.1f} s",
        )

        # -- (c) re-import (all unchanged) ---------------------------------------------------
        gc.collect()
        with Timer() as t_re:
            rep_c = import_registry(repo, src)
        c_c = rep_c.to_dict()["counts"]
        add(
            "(c) import_registry, re-import",
            t_re.s,
            n,
            f"{c_c['unchanged']} unchanged, {c_c['updated']} updated, {c_c['imported']} inserted",
        )
        write_c = t_re.t0 + t_re.s - marks[-1]
        add(
            "  of which repo.save (compare, no writes)",
            write_c,
            n,
            f"validation {t_re.s - write_c:.1f} s",
        )

        # -- (d) export ----------------------------------------------------------------------
        gc.collect()
        with Timer() as t_all:
            stored = repo.all()
        m = len(stored)
        add("(d0) repo.all() (load for export)", t_all.s, m)
        sizes = {}
        for label, name, fmt, lang in (
            ("(d1) export CSV (en headers)", "out_en.csv", "csv", "en"),
            ("(d2) export CSV (zh headers)", "out_zh.csv", "csv", "zh"),
            ("(d3) export GeoJSON", "out.geojson", "geojson", "en"),
        ):
            gc.collect()
            with Timer() as t_ex:
                path = export_stations(stored, tmpdir / name, fmt, lang)
            sizes[name] = path.stat().st_size / 1e6
            add(label, t_ex.s, m, f"{sizes[name]:.1f} MB")

        rows = []
        for r in results:
            ratio = r["seconds"] / t_pd
            rows.append([r["step"], r["seconds"], r["rows_per_s"], f"{ratio:.1f}x", r["note"]])
        print_table(
            ["step", "seconds", "rows/s", "vs pandas", "note"],
            rows,
            title=f"Throughput ({n:,} input rows; 'vs pandas' = time / pandas.read_csv time)",
        )

        checks = [
            (
                "rejected rows == missing_name + unknown_kind + non_numeric_coord",
                len(report.rejected_lines) == expected_rejects,
                f"{len(report.rejected_lines)} vs {expected_rejects}",
            ),
            (
                "swapped lat/lon fixed with a warning",
                warn_fields.get("lon", 0) == bad["swapped_lat_lon"],
                f"{warn_fields.get('lon', 0)} vs {bad['swapped_lat_lon']}",
            ),
            (
                "import stored every valid row",
                c_b["imported"] == n - expected_rejects,
                f"{c_b['imported']}",
            ),
            (
                "re-import: all unchanged",
                c_c["unchanged"] == c_b["imported"] and not c_c["updated"] and not c_c["imported"],
                f"{c_c['unchanged']}",
            ),
        ]
        print_table(
            ["check", "ok", "detail"],
            [[c, "OK" if ok else "FAIL", d] for c, ok, d in checks],
            title="Correctness checks",
        )
        print("rejections by field:", dict(reasons), " warnings by field:", dict(warn_fields))

        payload = {
            "benchmark": "import",
            "machine": __import__("_common").machine(),
            "versions": libs,
            "inputs": {"rows": n, "file_mb": size_mb, "bad_rows": dict(bad), "seed": 42},
            "results": results,
            "reference": {"pandas_read_csv_s": t_pd, "stdlib_csv_s": t_csv},
            "checks": [{"check": c, "ok": ok, "detail": d} for c, ok, d in checks],
            "rejections_by_field": dict(reasons),
            "warnings_by_field": dict(warn_fields),
        }
        write_json("bench_import", payload)
        return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
