"""Report files as people open them: ``map.html`` from disk in Chromium with the network
blocked, the XLSX read back with openpyxl, the charts rendered with the project's CJK font."""

from __future__ import annotations

import itertools
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
def plan_run(stations):
    return run_plan(PlanParams(kind="legal_aid", region=COUNTY, add=2, max_minutes=30), stations)


@pytest.fixture(scope="module")
def plan_dir(plan_run, tmp_path_factory):
    return write_plan_outputs(plan_run, tmp_path_factory.mktemp("plan"))


# -- map.html ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium(browser):
    """The session's Chromium (tests/conftest.py)."""
    return browser


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
    seen["pins"] = page.locator("img.leaflet-marker-icon").count()
    seen["labels"] = page.locator(".county-label").all_inner_texts()
    seen["attribution"] = page.locator(".leaflet-control-attribution").inner_text()
    from support import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"report_{path.parent.name}_map.png"))
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
    assert seen["pins"] == 0  # cells and gaps are drawn as coloured dots and rings, not pins
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


# -- XLSX ----------------------------------------------------------------------------------


def _sheet(path: Path, name: str):
    import openpyxl

    return openpyxl.load_workbook(path)[name]


def _header(ws) -> list:
    return [c.value for c in ws[1]]


def _column(ws, header: str) -> list:
    j = _header(ws).index(header) + 1
    return [ws.cell(row=i, column=j) for i in range(2, ws.max_row + 1)]


def _assert_table_sheet(ws, rows: int) -> None:
    """Frozen header, one row per table row (no empty row), widths set to the content."""
    assert ws.freeze_panes == "A2"
    assert ws.max_row == rows + 1
    for row in ws.iter_rows(min_row=1, max_row=ws.max_row, values_only=True):
        assert any(v not in (None, "") for v in row)
    from openpyxl.utils import get_column_letter

    for j, head in enumerate(_header(ws), start=1):
        width = ws.column_dimensions[get_column_letter(j)].width
        assert width >= len(str(head)), (ws.title, head, width)


def test_coverage_xlsx_chinese_formats_and_notes(coverage_dir):
    import openpyxl
    import pandas as pd

    path = coverage_dir["xlsx"]
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["说明", "汇总", "按县区", "按乡镇"]
    townships = pd.read_csv(coverage_dir["by_township"], dtype={"code": str})
    ws = wb["按乡镇"]
    _assert_table_sheet(ws, len(townships))
    _assert_table_sheet(wb["按县区"], 1)
    assert {"代码", "名称", "覆盖率", "平均出行时间（分钟）", "位置未知单元数"} <= set(_header(ws))
    shares = _column(ws, "覆盖率")
    assert {c.number_format for c in shares if c.value is not None} == {"0.0%"}
    expected = [None if v != v else pytest.approx(v) for v in townships["share"]]
    assert [c.value for c in shares] == expected  # NaN (位置未知) as an empty cell
    minutes = [c for c in _column(ws, "平均出行时间（分钟）") if c.value is not None]
    assert minutes and {c.number_format for c in minutes} == {"0.0"}
    assert {c.number_format for c in _column(ws, "已定位单元数")} == {"#,##0"}
    summary = wb["汇总"]
    assert {c.number_format for c in _column(summary, "覆盖率")} == {"0.0%"}
    notes = {r[0]: r[1] for r in wb["说明"].iter_rows(min_row=2, values_only=True)}
    assert "融水苗族自治县" in notes["地区"] and "450225" in notes["地区"]
    assert "直线估算" in notes["出行模型"]
    assert "30、60 分钟" in notes["参数"] and "法律援助服务站" in notes["参数"]
    assert "生成日期" in notes and "数据来源" in notes
    caveats = [
        r[1] for r in wb["说明"].iter_rows(min_row=2, values_only=True) if r[0] == "注意事项"
    ]
    assert any("4 个需求单元位置未知" in c for c in caveats)  # summary units_unplaced
    assert any("演示数据" in c for c in caveats)


def test_plan_xlsx_chinese_formats(plan_dir):
    import openpyxl

    wb = openpyxl.load_workbook(plan_dir["xlsx"])
    assert wb.sheetnames == ["说明", "汇总", "按县区", "按乡镇", "新增站点"]
    sites = wb["新增站点"]
    _assert_table_sheet(sites, 2)
    assert [c.value for c in _column(sites, "加入顺序")] == [1, 2]
    assert {c.number_format for c in _column(sites, "规划后覆盖率")} == {"0.0%"}
    summary = {r[0].value: r[1] for r in wb["汇总"].iter_rows(min_row=2)}
    assert summary["规划后覆盖率"].number_format == "0.0%"
    assert 0 < summary["规划后覆盖率"].value <= 1
    notes = {r[0]: r[1] for r in wb["说明"].iter_rows(min_row=2, values_only=True)}
    assert "融水" in notes["地区"] and "新增站点：2 个" in notes["参数"]


def test_xlsx_in_english_on_request(stations, tmp_path):
    import openpyxl

    params = CoverageParams(kinds=["legal_aid"], region=COUNTY, max_minutes=[30])
    files = write_coverage_outputs(run_coverage(params, stations), tmp_path, lang="en")
    wb = openpyxl.load_workbook(files["xlsx"])
    assert wb.sheetnames == ["notes", "summary", "by_county", "by_township"]
    assert "Share covered" in _header(wb["by_township"])
    notes = {r[0]: r[1] for r in wb["notes"].iter_rows(min_row=2, values_only=True)}
    assert "crow-fly estimate" in notes["Travel model"]


# -- charts --------------------------------------------------------------------------------


def _chart_font_checks(title: str) -> None:
    """The registered CJK family is found without falling back and has every title glyph."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    from geo.report import CJK_FAMILY

    path = font_manager.findfont(
        font_manager.FontProperties(family=CJK_FAMILY), fallback_to_default=False
    )
    assert "noto_cjk_sans_otc" in path
    font = FT2Font(path)
    assert all(font.get_char_index(ord(ch)) for ch in title if not ch.isspace())


@pytest.mark.parametrize("which", ["curve", "hist"])
def test_charts_chinese_with_region_percent_and_no_overlap(which, plan_run, tmp_path):
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from geo.report import chosen_sites, coverage_curve_figure, travel_time_figure

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph … missing from font(s)" would raise here
        if which == "curve":
            sites = chosen_sites(plan_run.plan, plan_run.candidates)
            fig, title = coverage_curve_figure(
                plan_run.plan, sites, plan_run.after, "融水苗族自治县"
            )
        else:
            fig, title = travel_time_figure(plan_run.before, plan_run.after, "融水苗族自治县")
        fig.savefig(tmp_path / "chart.png")
    ax = fig.axes[0]
    assert ax.get_title() == title and title.startswith("融水苗族自治县：")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in ax.get_xlabel() + ax.get_ylabel())
    _chart_font_checks(title + ax.get_xlabel() + ax.get_ylabel())
    legend = ax.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    if which == "curve":
        ticks = [t.get_text() for t in ax.get_yticklabels()]
        assert any(t.endswith("%") for t in ticks)
        assert ax.get_ylim()[1] > 1.0
    else:
        assert {"规划前", "规划后"} <= set(labels)
        bars = [p for p in ax.patches if p.get_width() > 0]
        legend_colours = {
            matplotlib.colors.to_hex(h.get_facecolor())
            for h in legend.legend_handles
            if hasattr(h, "get_facecolor")
        }
        for bar in bars:  # every bar's colour is one the legend names
            assert matplotlib.colors.to_hex(bar.get_facecolor()) in legend_colours
        spans = sorted((b.get_x(), b.get_x() + b.get_width()) for b in bars)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end - 1e-9  # no two bars overlap
    plt.close(fig)


def test_plan_report_writes_both_charts(plan_dir):
    from PIL import Image

    for name in ("curve", "hist"):
        with Image.open(plan_dir[name]) as img:
            assert img.size[0] >= 700
