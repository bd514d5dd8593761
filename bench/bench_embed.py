"""Weight and first-marker time of ``/embed`` in headless Chromium, on the demo registry.

Starts ``python -m webapp.cli serve`` (waitress) on 127.0.0.1 with a fresh SQLite database
(``init-db``, ``demo``), then loads ``/embed`` in Debian's Chromium (Playwright, the same
browser as the tests) in a fresh browser context for each load (a cold cache), and measures:

* **bytes transferred**: the sum of ``encodedDataLength`` of every response
  (Chrome DevTools Protocol ``Network.loadingFinished``: headers + body as sent, i.e. gzip
  where the server compressed it) until the page is idle, split by kind of resource; the
  decoded body sizes are summed too (what the same page weighs without compression). Map
  tiles are not counted; the simplified county outlines (``/data/basemap.geojson``), which
  *are* the offline basemap, are shown on their own line;
* **time to the first marker**: from ``page.goto`` to the first ``.leaflet-marker-icon``
  (a station or a cluster bubble) in the DOM; median of ``--loads`` cold loads.

Two basemap configurations: ``offline`` (the default: the outlines are the basemap) and
``osm`` (tiles; their requests are aborted, nothing leaves the machine, and not counted).
Target: < 300 KB gzip before map tiles. The script exits 1 only if the page fails to show a
marker; a missed target is printed as MISSED.

Run: ``.venv/bin/python bench/bench_embed.py [--loads 5]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from _common import machine, print_header, print_table, versions, write_json
from bench_http import HOST, free_port, server

PYTHON = sys.executable
CHROMIUM = Path("/usr/bin/chromium")
TARGET_KB = 300
OUTLINES = "/data/basemap.geojson"
MARKER = ".leaflet-marker-icon"


def kind_of(path: str, mime: str) -> str:
    if path == OUTLINES:
        return "outlines (offline basemap)"
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/static/vendor/"):
        return "vendor js/css/img"
    if path.startswith("/static/"):
        return "own js/css"
    if "html" in mime:
        return "html"
    return "other"


def load_once(browser, url: str) -> dict:
    """One cold load: bytes per response (CDP), time to the first marker."""
    context = browser.new_context(viewport={"width": 800, "height": 600}, locale="zh-CN")
    blocked: list[str] = []

    def _route(route):
        if urlsplit(route.request.url).hostname == HOST:
            route.continue_()
        else:  # map tiles (osm): never fetched, not counted
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", _route)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    info: dict[str, dict] = {}

    def on_response(ev):
        r = ev["response"]
        info.setdefault(ev["requestId"], {}).update(
            url=r["url"],
            mime=r.get("mimeType", ""),
            encoding=(r.get("headers") or {}).get("Content-Encoding")
            or (r.get("headers") or {}).get("content-encoding")
            or "",
        )

    def on_data(ev):
        rec = info.setdefault(ev["requestId"], {})
        rec["decoded"] = rec.get("decoded", 0) + ev["dataLength"]

    def on_finished(ev):
        info.setdefault(ev["requestId"], {})["encoded"] = ev["encodedDataLength"]

    cdp.on("Network.responseReceived", on_response)
    cdp.on("Network.dataReceived", on_data)
    cdp.on("Network.loadingFinished", on_finished)
    t0 = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_selector(MARKER, state="attached", timeout=60_000)
    first_marker_s = time.perf_counter() - t0
    page.wait_for_load_state("networkidle")
    time.sleep(0.3)  # the last loadingFinished events
    context.close()
    rows = [
        {
            "path": urlsplit(r["url"]).path,
            "kind": kind_of(urlsplit(r["url"]).path, r.get("mime", "")),
            "encoded": r.get("encoded", 0),
            "decoded": r.get("decoded", 0),
            "gzip": r.get("encoding", "") == "gzip",
        }
        for r in info.values()
        if r.get("url", "").startswith("http") and urlsplit(r["url"]).hostname == HOST
    ]
    return {"first_marker_s": first_marker_s, "responses": rows, "blocked": len(blocked)}


def measure(browser, url: str, loads: int) -> dict:
    runs = [load_once(browser, url) for _ in range(loads)]
    last = runs[-1]["responses"]
    by_kind: dict[str, dict[str, int]] = {}
    for r in last:
        k = by_kind.setdefault(r["kind"], {"n": 0, "encoded": 0, "decoded": 0})
        k["n"] += 1
        k["encoded"] += r["encoded"]
        k["decoded"] += r["decoded"]
    enc = sum(r["encoded"] for r in last)
    dec = sum(r["decoded"] for r in last)
    outl = by_kind.get("outlines (offline basemap)", {"encoded": 0, "decoded": 0})
    times = [r["first_marker_s"] for r in runs]
    return {
        "url": url,
        "loads": loads,
        "first_marker_ms": [round(t * 1000, 1) for t in times],
        "first_marker_ms_median": round(statistics.median(times) * 1000, 1),
        "total_encoded_bytes": enc,
        "total_decoded_bytes": dec,
        "without_outlines_encoded_bytes": enc - outl["encoded"],
        "without_outlines_decoded_bytes": dec - outl["decoded"],
        "by_kind": by_kind,
        "responses": sorted(last, key=lambda r: -r["encoded"]),
        "blocked_tile_requests": runs[-1]["blocked"],
        "uncompressed_text_responses": [
            r["path"]
            for r in last
            if not r["gzip"] and r["decoded"] > 1000 and not r["path"].endswith(".png")
        ],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loads", type=int, default=5, help="cold loads per configuration")
    args = ap.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: run scripts/install_chromium.sh")
        return 1
    from playwright.sync_api import sync_playwright

    libs = versions("yizhan", "flask", "waitress", "playwright")
    print_header(
        "bench_embed: /embed weight and time to first marker (headless Chromium)",
        libs,
        {"registry": "demo", "loads": args.loads, "viewport": "800x600"},
    )
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="yizhan-bench-embed-") as tmp:
        tmpdir = Path(tmp)
        env = {**os.environ, "YIZHAN_DATABASE_URL": f"sqlite:///{tmpdir / 'b.db'}"}
        env.pop("PORT", None)
        for verb in ("init-db", "demo"):
            subprocess.run(
                [PYTHON, "-m", "webapp.cli", verb], env=env, check=True, capture_output=True
            )
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                for basemaps in ("offline", "osm"):
                    port = free_port()
                    cmd = [PYTHON, "-m", "webapp.cli", "serve", "--host", HOST, "--port", str(port)]
                    log = tmpdir / f"serve-{basemaps}.log"
                    with server(cmd, {**env, "YIZHAN_BASEMAPS": basemaps}, port, log):
                        url = f"http://{HOST}:{port}/embed"
                        results[basemaps] = measure(browser, url, args.loads)
            finally:
                browser.close()

    ok = True
    for name, res in results.items():
        rows = [
            (kind, v["n"], v["encoded"] / 1024, v["decoded"] / 1024)
            for kind, v in sorted(res["by_kind"].items())
        ]
        rows.append(
            ("total", "", res["total_encoded_bytes"] / 1024, res["total_decoded_bytes"] / 1024)
        )
        print_table(
            ["resources", "n", "KB sent (gzip)", "KB uncompressed"],
            rows,
            title=f"basemap {name}: bytes of one cold load of /embed (tiles not counted)",
        )
        before_tiles = res["without_outlines_encoded_bytes"] / 1024
        verdict = "ok" if before_tiles < TARGET_KB else "MISSED"
        print(
            f"before map tiles/basemap data: {before_tiles:.1f} KB sent "
            f"({res['without_outlines_decoded_bytes'] / 1024:.1f} KB uncompressed); "
            f"target < {TARGET_KB} KB gzip: {verdict}"
        )
        if name == "offline":
            total = res["total_encoded_bytes"] / 1024
            print(f"with the offline basemap's outlines: {total:.1f} KB sent")
        print(
            f"time to first marker: median {res['first_marker_ms_median']:.0f} ms of "
            f"{res['loads']} cold loads {res['first_marker_ms']}"
        )
        if res["uncompressed_text_responses"]:
            print("sent uncompressed: " + ", ".join(res["uncompressed_text_responses"]))
        print()
        ok = ok and res["first_marker_ms_median"] > 0
    write_json(
        "bench_embed",
        {"machine": machine(), "versions": libs, "target_kb": TARGET_KB, "results": results},
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
