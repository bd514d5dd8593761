"""Report files as people open them: ``map.html`` from disk in Chromium with the network
blocked, the XLSX read back with openpyxl, the charts rendered with the project's CJK font."""

from __future__ import annotations

from pathlib import Path

import pytest

from geo.records import read_registry
from geo.settings import DATA_DIR
from geo.workflows import (
    CoverageParams,
    PlanParams,
    run_coverage,
    run_plan,
    write_coverage_outputs,
    write_plan_outputs,
)

COUNTY = "450225"  # 融水苗族自治县
DEMO = DATA_DIR / "demo" / "stations.csv"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def stations():
    return read_registry(DEMO)[0]


@pytest.fixture(scope="module")
def coverage_dir(stations, tmp_path_factory):
    params = CoverageParams(kinds=["legal_aid"], region=COUNTY, max_minutes=[30, 60])
    out = tmp_path_factory.mktemp("coverage")
    files = write_coverage_outputs(
        run_coverage(params, stations), out, map_approval="GS(2024)1234号", icp="桂ICP备00000000号"
    )
    return files


@pytest.fixture(scope="module")
def plan_dir(stations, tmp_path_factory):
    params = PlanParams(kind="legal_aid", region=COUNTY, add=2, max_minutes=30)
    out = tmp_path_factory.mktemp("plan")
    return write_plan_outputs(run_plan(params, stations), out)


# -- map.html ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `scripts/install_chromium.sh`")
    from browser.conftest import CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open_offline(browser, path: Path) -> dict:
    """Open ``path`` from disk with every network request aborted; what the page did."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    seen: dict = {"requests": [], "failed": [], "errors": []}

    def route(r):
        url = r.request.url
        if url.startswith(("file:", "data:")):
            r.continue_()
        else:
            seen["requests"].append(url)
            r.abort()

    page.route("**/*", route)
    page.on("requestfailed", lambda req: seen["failed"].append(req.url[:120]))
    page.on("console", lambda msg: msg.type == "error" and seen["errors"].append(msg.text[:200]))
    page.on("pageerror", lambda exc: seen["errors"].append(str(exc)[:200]))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    page.wait_for_timeout(500)
    seen["legend"] = page.locator(".map-legend .map-legend-entry").all_inner_texts()
    seen["base"] = page.locator(".leaflet-control-layers-base label").all_inner_texts()
    seen["overlays"] = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    seen["paths"] = page.locator(".leaflet-overlay-pane svg path").count()
    seen["outline_paths"] = page.locator(".leaflet-overlay-pane svg path[stroke-dasharray]").count()
    seen["labels"] = page.locator(".county-label").all_inner_texts()
    seen["attribution"] = page.locator(".leaflet-control-attribution").inner_text()
    seen["broken_images"] = page.evaluate(
        "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length"
    )
    context.close()
    return seen


@pytest.mark.parametrize("which", ["coverage", "plan"])
def test_map_html_works_offline_with_legend_layers_and_outlines(
    which, coverage_dir, plan_dir, chromium
):
    files = coverage_dir if which == "coverage" else plan_dir
    seen = _open_offline(chromium, files["map"])
    assert seen["requests"] == [] and seen["failed"] == []
    assert seen["errors"] == []
    assert seen["broken_images"] == 0
    legend = " ".join(seen["legend"])
    for text in ("0–", "分钟", "服务空白", "现有站点"):
        assert text in legend
    assert seen["base"] and "县界" in seen["base"][0]
    assert any("出行时间" in t for t in seen["overlays"])
    assert any("现有站点" in t for t in seen["overlays"])
    assert seen["outline_paths"] > 0 and seen["paths"] > seen["outline_paths"]
    assert any("融水" in t for t in seen["labels"])
    assert "行政区划" in seen["attribution"]
    if which == "plan":
        assert "新增站点" in legend
        assert any("新增站点" in t for t in seen["overlays"])
    else:
        assert "审图号：GS(2024)1234号" in seen["attribution"]
        assert "桂ICP备00000000号" in seen["attribution"]


def test_map_html_references_no_file_or_url(coverage_dir):
    text = coverage_dir["map"].read_text(encoding="utf-8")
    assert "images/" not in text
    assert 'src="http' not in text and 'href="http' not in text
