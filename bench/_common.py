"""Shared helpers for the benchmark scripts: machine header, tables, JSON output, timing.

Not a benchmark itself (``make bench`` runs only ``bench/bench_*.py``).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def versions(*packages: str) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:  # pragma: no cover - not Linux
        return "?"


def machine() -> dict[str, object]:
    return {
        "nproc": nproc(),
        "cpu": cpu_model(),
        "platform": platform.platform(),
        "loadavg_at_start": loadavg(),
    }


def print_header(title: str, libs: dict[str, str], sizes: dict[str, object]) -> None:
    m = machine()
    print("=" * 78)
    print(title)
    print("=" * 78)
    print(f"machine : {m['nproc']} CPU(s), {m['cpu']}  [{m['platform']}]")
    print(
        f"load    : {m['loadavg_at_start']} (1/5/15-min load average at start; other "
        "processes share the CPUs)"
    )
    print("versions: " + ", ".join(f"{k} {v}" for k, v in libs.items()))
    print("inputs  : " + ", ".join(f"{k}={v}" for k, v in sizes.items()))
    print()


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]], title: str = "") -> None:
    rows = [[_fmt(c) for c in r] for r in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    if title:
        print(title)
    line = "  ".join(
        h.ljust(w) if i == 0 else h.rjust(w)
        for i, (h, w) in enumerate(zip(headers, widths, strict=True))
    )
    print(line)
    print("-" * len(line))
    for r in rows:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    print()


def _fmt(v: object) -> str:
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 100:
            return f"{v:.1f}"
        if abs(v) >= 1:
            return f"{v:.2f}"
        return f"{v:.3f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def write_json(name: str, payload: dict) -> Path:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{name}.json"
    path.write_text(
        json.dumps(payload, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )
    print(f"wrote {path.relative_to(REPO_ROOT)}")
    return path


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def latency_summary(samples: Sequence[float], scale: float = 1e6) -> dict[str, float]:
    """mean/p50/p90/p99/max of samples in seconds, scaled (default: to µs)."""
    s = sorted(x * scale for x in samples)
    return {
        "n": len(s),
        "mean": statistics.fmean(s),
        "p50": percentile(s, 50),
        "p90": percentile(s, 90),
        "p99": percentile(s, 99),
        "max": s[-1],
    }


class Timer:
    """``with Timer() as t: ...`` then ``t.s`` is the wall time in seconds."""

    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.s = time.perf_counter() - self.t0
