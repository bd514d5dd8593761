"""Files the product writes, tried with hostile text in every text field.

* Maps (``map.html`` of a coverage run and of a plan) with every :data:`PAYLOADS` string as a
  station name, union and address and in candidate names, opened from disk in Chromium with
  the network blocked: no dialog, no page error, and the text shown as text.
* Spreadsheets (registry export CSV/XLSX, ``coverage.xlsx``/``plan.xlsx``, geocode batch
  output) with every :data:`FORMULAS` string: no formula cell, a leading ``'`` in CSV, and the
  export imports back to the original text.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from pathlib import Path

import openpyxl
import pytest

from geo.records import read_registry
from geo.records.export import export_stations
from geo.settings import DATA_DIR
from geo.spreadsheet import FORMULA_TRIGGERS
from security.payloads import CONTROL_TEXTS, FORMULAS, LAYOUT_TEXTS, PAYLOADS
from support import in_fresh_thread

COUNTY = "450225"  # 融水苗族自治县
DEMO = DATA_DIR / "demo" / "stations.csv"
CHROMIUM = Path("/usr/bin/chromium")
TEXT_FIELDS = ("name", "address", "union", "phone", "notes")


def _words(text: str) -> str:
    return " ".join(text.split())


def _hostile_stations(texts: list[str]):
    """The demo registry plus, in 融水, one legal-aid post per hostile text (in every text
    field), spread around the county seat."""
    stations = read_registry(DEMO)[0]
    seed = next(s for s in stations if s.county_code == COUNTY and s.kind == "legal_aid")
    extra = []
    for i, text in enumerate(texts):
        fields = {f: text for f in ("name", "address", "union")}
        extra.append(
            dataclasses.replace(
                seed,
                id=f"HOSTILE-{i:02d}",
                lon=seed.lon + 0.03 * (i % 5 - 2),
                lat=seed.lat + 0.03 * (i // 5 - 1),
                **fields,
            )
        )
    return stations + extra


def _gap_points(result) -> list[tuple[float, float]]:
    """Three demand units beyond 15 minutes, the heaviest first (plan candidates with gains)."""
    cells = result.cells[result.cells["minutes"] > 15].sort_values("demand", ascending=False)
    return [(float(r.lon), float(r.lat)) for r in cells.head(3).itertuples()]


# -- maps ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def maps(tmp_path_factory):
    """map.html of a coverage run and of a plan whose stations and candidates carry payloads."""
    from geo.workflows import (
        CoverageParams,
        PlanParams,
        run_coverage,
        run_plan,
        write_coverage_outputs,
        write_plan_outputs,
    )

    out = tmp_path_factory.mktemp("maps")
    stations = _hostile_stations(PAYLOADS)
    cov = run_coverage(
        CoverageParams(kinds=["legal_aid"], region=COUNTY, max_minutes=[15]), stations
    )
    cov_files = write_coverage_outputs(cov, out / "coverage")
    sites = out / "sites.csv"
    with sites.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "name", "lon", "lat"])
        everything = " ".join(PAYLOADS)
        for i, (lon, lat) in enumerate(_gap_points(cov.result)):
            w.writerow([f"S{i}", f"C{i} {everything}", lon, lat])
    plan = run_plan(
        PlanParams(kind="legal_aid", region=COUNTY, add=2, max_minutes=15, candidates=str(sites)),
        stations,
    )
    plan_files = write_plan_outputs(plan, out / "plan")
    return {"coverage": cov_files["map"], "plan": plan_files["map"]}


def _open_in_chromium(path: Path) -> tuple[list[str], list[str], list[str]]:
    """(tooltip texts, dialogs, page errors) of ``path`` opened from disk, network blocked.

    Runs Playwright in a fresh thread (``in_fresh_thread``): the browser tests keep a
    session-wide Playwright loop in the main thread.
    """
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `scripts/install_chromium.sh`")
    from browser.conftest import CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    dialogs: list[str] = []
    errors: list[str] = []

    def route(r):
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            r.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context()
            ctx.route("**/*", route)
            page = ctx.new_page()
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            texts = page.evaluate(_OPEN_TOOLTIPS)
            page.wait_for_timeout(500)  # let any injected image fail and its onerror run
            ctx.close()
        finally:
            browser.close()
    return texts, dialogs, errors


#: Opens every marker's tooltip (and every point's of a GeoJSON layer) and returns the texts.
_OPEN_TOOLTIPS = """() => {
  const maps = Object.keys(window).filter(k => k.startsWith('map_') && window[k] instanceof L.Map);
  const texts = [];
  for (const k of maps) {
    window[k].eachLayer(l => {
      if ((l instanceof L.CircleMarker || l instanceof L.Marker) && l.getTooltip()) {
        l.openTooltip(l.getLatLng());
        texts.push(l.getTooltip().getElement().textContent);
      } else if (l instanceof L.GeoJSON && l.getTooltip()) {
        // a layer of many points with one tooltip (stations): hover each point in turn
        l.eachLayer(c => {
          if (!c.getLatLng) return;
          c.fire('mouseover', {latlng: c.getLatLng()}, true);
          const el = l.getTooltip().getElement();
          if (el) texts.push(el.textContent);
          c.fire('mouseout', {latlng: c.getLatLng()}, true);
        });
      }
    });
  }
  return texts;
}"""


@pytest.mark.parametrize("which", ["coverage", "plan"])
def test_map_shows_hostile_names_as_text(maps, which):
    texts, dialogs, errors = in_fresh_thread(_open_in_chromium, maps[which])
    assert not dialogs, dialogs
    assert not errors, errors
    shown = _words(" ".join(texts))
    for p in PAYLOADS:
        assert _words(p) in shown, p
    if which == "plan":
        ranks = {m for t in texts for m in re.findall(r"#(\d+) C\d ", _words(t))}
        assert ranks == {"1", "2"}, texts  # the two chosen sites, named by their candidates


# -- spreadsheets --------------------------------------------------------------------------


def _formula_stations(tmp_path: Path):
    """Stations as `yizhan import` reads them from a union's XLSX registry whose text fields
    hold :data:`FORMULAS` (typed as text)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["编号", "名称", "类型", "经度", "纬度", "地址", "所属工会", "联系电话", "备注"])
    for i, f in enumerate(FORMULAS):
        ws.append([f"F{i:02d}", f, "法律援助服务站", 109.2 + i / 100, 25.0, f, f, f, f])
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"
    path = tmp_path / "registry.xlsx"
    wb.save(path)
    stations, report = read_registry(path)[:2]
    assert not report.rejected, report.rejected
    assert len(stations) == len(FORMULAS)
    return stations


def _assert_no_formula(path: Path) -> int:
    """No cell of the workbook is a formula; returns how many text cells start like one."""
    wb = openpyxl.load_workbook(path)
    risky = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and cell.value.startswith(FORMULA_TRIGGERS):
                    assert cell.quotePrefix, (ws.title, cell.coordinate, cell.value)
                    risky += 1
    return risky


def _assert_csv_quoted(path: Path) -> int:
    """Every CSV cell that would be a formula starts with ``'``; returns how many there are."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    for c in cells:
        assert not c.startswith(FORMULA_TRIGGERS), c
    return sum(c.startswith("'") for c in cells)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_export_writes_formulas_as_text_and_imports_back(tmp_path, fmt, lang):
    original = _formula_stations(tmp_path)
    out = export_stations(original, tmp_path / f"out.{fmt}", lang=lang)
    if fmt == "xlsx":
        assert _assert_no_formula(out) >= len(FORMULAS)
    else:
        assert _assert_csv_quoted(out) >= len(FORMULAS)
    back, report = read_registry(out)[:2]
    assert not report.rejected, report.rejected
    for a, b in zip(original, back, strict=True):
        for f in TEXT_FIELDS:
            assert getattr(b, f) == getattr(a, f), (f, getattr(a, f))


def test_csv_without_a_formula_is_unchanged(tmp_path):
    """Negative numbers stay numbers; ordinary text gets no quote."""
    from geo.spreadsheet import csv_cell, unquote_cell

    assert csv_cell(-1.5) == -1.5 and csv_cell("站点") == "站点" and csv_cell("a'=b") == "a'=b"
    for text in [*FORMULAS, "'", "''", "'abc", "''=x"]:
        assert unquote_cell(csv_cell(text)) == text


def test_report_spreadsheets_have_no_formulas(tmp_path):
    """coverage.xlsx / plan.xlsx and the by_<level>.csv tables with formula-like names."""
    from geo.workflows import (
        CoverageParams,
        PlanParams,
        run_coverage,
        run_plan,
        write_plan_outputs,
    )

    stations = _hostile_stations(FORMULAS)
    cov = run_coverage(
        CoverageParams(kinds=["legal_aid"], region=COUNTY, max_minutes=[15]), stations
    )
    sites = tmp_path / "sites.csv"
    with sites.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "name", "lon", "lat"])
        for i, (lon, lat) in enumerate(_gap_points(cov.result)):
            w.writerow([f"S{i}", FORMULAS[i], lon, lat])
    plan = run_plan(
        PlanParams(kind="legal_aid", region=COUNTY, add=2, max_minutes=15, candidates=str(sites)),
        stations,
    )
    files = write_plan_outputs(plan, tmp_path / "plan")
    assert _assert_no_formula(files["xlsx"]) >= 2  # the chosen sites' names
    from geo.report import coverage_report

    cov = coverage_report(plan.after, tmp_path / "cov")
    _assert_no_formula(cov["xlsx"])
    for level in ("county", "township"):
        _assert_csv_quoted(cov[f"by_{level}"])


def test_geocode_batch_output_has_no_formulas(tmp_path):
    """The batch geocoder's CSV/XLSX output keeps formula-like input cells as text."""
    from geo.geocode.batch import geocode_file

    src = tmp_path / "in.csv"
    with src.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["名称", "地址"])
        for f in FORMULAS:
            w.writerow([f, f])

    class Nothing:
        name = "none"

        def geocode(self, address, city=None):
            return None

    for suffix in (".csv", ".xlsx"):
        out = tmp_path / f"out{suffix}"
        geocode_file(Nothing(), src, out)
        if suffix == ".xlsx":
            assert _assert_no_formula(out) >= len(FORMULAS)
        else:
            assert _assert_csv_quoted(out) >= len(FORMULAS)


# -- report.pdf ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory):
    """report.pdf of a coverage run and of a plan whose stations and chosen sites carry every
    hostile text (script, formulas, control characters, bidi overrides, very long names)."""
    from geo.workflows import (
        CoverageParams,
        PlanParams,
        run_coverage,
        run_plan,
        write_coverage_outputs,
        write_plan_outputs,
    )

    out = tmp_path_factory.mktemp("pdfs")
    stations = _hostile_stations(PAYLOADS + FORMULAS + CONTROL_TEXTS + LAYOUT_TEXTS)
    cov = run_coverage(
        CoverageParams(kinds=["legal_aid"], region=COUNTY, max_minutes=[15]), stations
    )
    cov_files = write_coverage_outputs(cov, out / "coverage")
    names = [
        " ".join(PAYLOADS),
        " ".join(FORMULAS + CONTROL_TEXTS),
        " ".join(LAYOUT_TEXTS[:-1]),
        LAYOUT_TEXTS[-1],
    ]
    cells = cov.result.cells[cov.result.cells["minutes"] > 15]
    cells = cells.sort_values("demand", ascending=False).head(len(names))
    assert len(cells) == len(names)
    sites = out / "sites.csv"
    with sites.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "name", "lon", "lat"])
        for i, (name, row) in enumerate(zip(names, cells.itertuples(), strict=True)):
            w.writerow([f"S{i}", f"C{i} {name}", row.lon, row.lat])
    plan = run_plan(
        PlanParams(
            kind="legal_aid", region=COUNTY, add=len(names), max_minutes=15, candidates=str(sites)
        ),
        stations,
    )
    plan_files = write_plan_outputs(plan, out / "plan")
    return {"coverage": (cov_files["pdf"], cov), "plan": (plan_files["pdf"], plan)}


def _pdf_pages_text(path: Path) -> str:
    """Every page rendered (it must not fail) and its text as pdfium extracts it."""
    import pypdfium2 as pdfium
    from pypdf import PdfReader

    assert len(PdfReader(str(path)).pages) >= 1  # a well-formed file for a second reader
    doc = pdfium.PdfDocument(str(path))
    try:
        texts = []
        for i in range(len(doc)):
            page = doc[i]
            assert page.get_size() == pytest.approx((595.28, 841.89), abs=1)
            page.render(scale=0.5)
            texts.append(page.get_textpage().get_text_range())
        return "\n".join(texts)
    finally:
        doc.close()


def _bare(text: str) -> str:
    """``text`` without whitespace: a table wraps long cells at any character, and a
    line break in extracted text says nothing about the name."""
    return "".join(text.split())


def test_pdf_shows_hostile_names_as_plain_text(pdfs):
    from geo.report_pdf import pdf_text

    assert LAYOUT_TEXTS[0].startswith("\u202eevil.exe")
    path, _ = pdfs["plan"]
    text = _pdf_pages_text(path)
    shown = _bare(text)
    for p in [*PAYLOADS, *FORMULAS]:  # script and formulas: shown as typed
        assert _bare(p) in shown, p
    assert "站点" in shown and "删除" in shown and "[31m红[0m" in shown  # controls removed
    assert "\u202e" not in text and "evil.exe站点" in shown  # no reversed run
    assert "超长站点名称" * 90 in shown and "…（3003）" in shown  # "C3 " + 3000: cut, noted
    # right-to-left scripts are placed unshaped in logical order (a viewer's text layer
    # reads them back in visual order): every letter is there
    assert set(_bare(LAYOUT_TEXTS[1])) <= set(shown)
    assert "零宽字符" in shown and "algo站" in shown and "工会驿站" in shown
    path, cov = pdfs["coverage"]
    shown = _bare(_pdf_pages_text(path))
    for name in cov.result.by_admin("county")["nearest_station"]:
        assert _bare(pdf_text(name)) in shown
