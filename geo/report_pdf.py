"""The one file a leader can read: ``report.pdf`` of a coverage run or a plan (A4).

One module, not split: the document class, the map figure and the two page layouts share
one set of fonts, margins and text rules, and are read together when the layout changes.

:func:`coverage_pdf` and :func:`plan_pdf` write, in Chinese by default (``lang="en"`` for
English): a title with the region, the headline figures (each with its unit and a one-line
explanation), a map (the region's county outlines, demand coloured by travel-time band, gaps,
stations, chosen sites, a legend, north arrow and scale bar, and under it the attribution
with the data sources, 审图号 and ICP record the report maps state), the table by county
(every unit, including those 位置未知, with a total row that adds up to the run's totals),
findings (worst-served counties, gaps, counties with nothing covered) and caveats (the
travel model, unplaced units, demo data; the same rows as the XLSX 说明 sheet).

The document is laid out with fpdf2, which embeds the CFF outlines of the bundled Noto Sans
CJK (``noto-cjk-sans-otc``, an OpenType collection) correctly as a subset CIDFontType0C font;
DejaVu Sans (shipped with matplotlib) is the fallback for glyphs outside CJK fonts. The map
is drawn with matplotlib (same font, :func:`geo.report.register_cjk_font`) and placed as an
image. Every text from the registry, uploads or the record is placed as plain text
(:func:`pdf_text`): never interpreted, control and bidi-override characters removed, very
long values cut with a note of their length.
"""

from __future__ import annotations

import datetime
import io
import math
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from fpdf import FPDF

from geo.maps import DATA_SOURCES, band_colour
from geo.report import (
    chart_style,
    chosen_sites,
    kind_text,
    model_text,
    region_name,
    region_text,
    report_notes,
)

#: Family names the PDF registers: the CJK font and the fallback for other scripts.
CJK, FALLBACK = "noto-cjk", "dejavu"
#: Longest text a table cell or line shows; longer values are cut with their length noted.
MAX_TEXT_CHARS = 600
#: Colours of the map's marks (the HTML map's colours): gaps, stations, chosen sites.
GAP_COLOUR, STATION_COLOUR, CHOSEN_COLOUR = "#7b0000", "#08306b", "#b2182b"
#: Page text colours: headings and explanations.
HEADING_RGB, MUTED_RGB = (8, 48, 107), (90, 90, 90)


def pdf_text(value: object, limit: int = MAX_TEXT_CHARS) -> str:
    """``value`` as the PDF shows it: plain text, line and paragraph separators, tabs and
    newlines as spaces, other control, format (bidi overrides, zero-width) and private-use
    characters removed, missing values as "—", cut at ``limit`` characters."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    out = []
    for ch in str(value):
        cat = unicodedata.category(ch)
        if cat in ("Zl", "Zp") or ch in "\t\n\r":
            out.append(" ")
        elif cat not in ("Cc", "Cf", "Co", "Cs"):
            out.append(ch)
    text = "".join(out)
    if len(text) > limit:
        text = f"{text[:limit]}…（{len(text)}）"
    return text


@lru_cache(maxsize=1)
def _cjk_face() -> tuple[str, int]:
    """The bundled collection and the index of its Simplified Chinese face."""
    from fontTools.ttLib import TTCollection
    from noto_cjk_sans_otc import FONT_PATH

    from geo.report import CJK_FAMILY

    with TTCollection(str(FONT_PATH), lazy=True) as collection:
        for i, font in enumerate(collection.fonts):
            if font["name"].getDebugName(1) == CJK_FAMILY:
                return str(FONT_PATH), i
    return str(FONT_PATH), 0  # pragma: no cover - the package ships the SC face


def _fallback_path() -> str:
    import matplotlib

    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")


def _percent(x: Any) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{float(x):.1%}"


def _number(x: Any, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{float(x):,.{digits}f}"


def new_pdf(
    title: str,
    lang: str = "zh",
    page_format: str | tuple[float, float] = "A4",
    orientation: str = "P",
) -> FPDF:
    """An empty ``fpdf.FPDF`` (millimetres) with the bundled CJK font (family :data:`CJK`)
    and the DejaVu fallback registered, its title (plain text, :func:`pdf_text`), language
    and creator set: every PDF Yizhan writes starts here."""
    from fpdf import FPDF

    pdf = FPDF(orientation=orientation, unit="mm", format=page_format)
    path, index = _cjk_face()
    pdf.add_font(CJK, fname=path, collection_font_number=index)
    pdf.add_font(FALLBACK, fname=_fallback_path())
    pdf.set_fallback_fonts([FALLBACK], exact_match=False)
    pdf.set_title(pdf_text(title, 200))
    pdf.set_lang("en" if lang == "en" else "zh-CN")
    pdf.set_creator("Yizhan")
    return pdf


class _Document:
    """An A4 page flow in one language: headings, paragraphs, figure rows, tables, images."""

    def __init__(self, title: str, lang: str) -> None:
        self.en = lang == "en"
        self.title = title
        pdf = new_pdf(title, lang)
        pdf.set_margins(15, 14, 15)
        pdf.set_auto_page_break(True, margin=16)
        footer = self._footer
        pdf.footer = footer  # type: ignore[method-assign]
        self.pdf = pdf
        pdf.add_page()

    def t(self, zh: str, en: str) -> str:
        return en if self.en else zh

    def _footer(self) -> None:
        pdf = self.pdf
        pdf.set_y(-12)
        pdf.set_font(CJK, size=8)
        pdf.set_text_color(*MUTED_RGB)
        page = (
            f"page {pdf.page_no()} of {{nb}}" if self.en else f"第 {pdf.page_no()} 页，共 {{nb}} 页"
        )
        pdf.cell(0, 5, f"{pdf_text(self.title, 80)} · {page}", align="C")
        pdf.set_text_color(0, 0, 0)

    def heading(self, text: str, size: float = 13) -> None:
        from fpdf.enums import XPos, YPos

        pdf = self.pdf
        if pdf.will_page_break(32):  # a heading never ends a page alone
            pdf.add_page()
        pdf.ln(2)
        pdf.set_font(CJK, size=size)
        pdf.set_text_color(*HEADING_RGB)
        pdf.multi_cell(0, size * 0.5, pdf_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_draw_color(*HEADING_RGB)
        pdf.set_line_width(0.3)
        pdf.line(pdf.l_margin, pdf.get_y() + 0.5, pdf.w - pdf.r_margin, pdf.get_y() + 0.5)
        pdf.ln(2.5)
        pdf.set_text_color(0, 0, 0)

    def paragraph(self, text: str, size: float = 9.5, muted: bool = False) -> None:
        from fpdf.enums import WrapMode, XPos, YPos

        pdf = self.pdf
        pdf.set_font(CJK, size=size)
        pdf.set_text_color(*(MUTED_RGB if muted else (0, 0, 0)))
        pdf.multi_cell(
            0,
            size * 0.5,
            pdf_text(text, 4 * MAX_TEXT_CHARS),
            align="L",
            wrapmode=WrapMode.WORD,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        pdf.set_text_color(0, 0, 0)
        pdf.ln(0.8)

    def bullets(self, items: list[str]) -> None:
        for item in items:
            self.paragraph(f"• {item}")

    def table(
        self,
        header: list[str],
        rows: list[list[Any]],
        widths: tuple[float, ...],
        align: tuple[str, ...] | None = None,
        size: float = 8,
    ) -> None:
        """A table that wraps long cells by character and repeats its header on each page."""
        from fpdf.enums import TableCellFillMode, WrapMode
        from fpdf.fonts import FontFace

        pdf = self.pdf
        pdf.set_font(CJK, size=size)
        head = FontFace(family=CJK, emphasis="", color=(255, 255, 255), fill_color=HEADING_RGB)
        with pdf.table(
            col_widths=widths,
            text_align=align or "LEFT",
            headings_style=head,
            line_height=size * 0.5,
            padding=(0.8, 1.2),
            wrapmode=WrapMode.WORD,
            repeat_headings=1,
            cell_fill_color=(240, 244, 250),
            cell_fill_mode=TableCellFillMode.ROWS,
            borders_layout="SINGLE_TOP_LINE",
        ) as table:
            for row in [header, *rows]:
                cells = table.row()
                for value in row:
                    cells.cell(pdf_text(value))
        pdf.ln(2)

    def image(self, png: bytes, width_mm: float, max_height_mm: float, heading: str) -> None:
        """``png`` under ``heading``, centred, at most ``width_mm`` wide and ``max_height_mm``
        tall; heading and image start a new page together when they do not fit."""
        from PIL import Image

        pdf = self.pdf
        with Image.open(io.BytesIO(png)) as im:
            ratio = im.height / im.width
        width_mm = min(width_mm, max_height_mm / ratio)
        height_mm = width_mm * ratio
        if pdf.will_page_break(height_mm + 14):
            pdf.add_page()
        self.heading(heading)
        pdf.image(io.BytesIO(png), x=(pdf.w - width_mm) / 2, y=pdf.get_y(), w=width_mm)
        pdf.set_y(pdf.get_y() + height_mm + 1)

    def save(self, path: Path) -> Path:
        self.pdf.output(str(path))
        return path


# -- the map ---------------------------------------------------------------------------------


def _bands(result) -> list[float]:
    """The travel-time bands the map colours (the HTML map's: the thresholds, or quarters of
    the one threshold)."""
    if len(result.thresholds) > 1:
        return list(result.thresholds)
    return [result.max_minutes * f for f in (0.25, 0.5, 0.75, 1.0)]


def scale_km(width_km: float) -> float:
    """A round scale-bar length near a fifth of the map's width."""
    target = width_km / 5
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500):
        if step >= target * 0.7:
            return float(step)
    return 1000.0


def north_arrow_and_scale(ax, box: tuple[float, float, float, float], en: bool) -> None:
    """A north arrow in the upper right corner of ``ax`` and a scale bar of a round length
    (:func:`scale_km`) in its lower left; ``box`` is the axes' (west, south, east, north)."""
    mid_lat = (box[1] + box[3]) / 2
    ax.annotate(
        "N",
        xy=(0.96, 0.97),
        xytext=(0.96, 0.87),
        xycoords="axes fraction",
        ha="center",
        va="center",
        fontsize=10,
        arrowprops={"arrowstyle": "-|>", "color": "#333333", "lw": 1.2},
    )
    width_km = (box[2] - box[0]) * 111.32 * math.cos(math.radians(mid_lat))
    km = scale_km(width_km)
    x0 = box[0] + (box[2] - box[0]) * 0.04
    y0 = box[1] + (box[3] - box[1]) * 0.04
    x1 = x0 + km / (111.32 * math.cos(math.radians(mid_lat)))
    ax.plot([x0, x1], [y0, y0], color="#222222", linewidth=2.5, solid_capstyle="butt")
    ax.text(
        (x0 + x1) / 2,
        y0 + (box[3] - box[1]) * 0.015,
        f"{km:g} km" if en else f"{km:g} 公里",
        ha="center",
        va="bottom",
        fontsize=8,
        zorder=8,
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1},
    )


def label_units(ax, units, box, **style) -> None:
    """Write each unit's name (``units["name"]``, cut to 20 characters) at a point inside its
    outline, for the units whose point lies inside ``box`` (lon/lat bounds of the map)."""
    import shapely

    points = shapely.point_on_surface(units.geometry.values)
    for name, point in zip(units["name"], points, strict=True):
        if box[0] < point.x < box[2] and box[1] < point.y < box[3]:
            ax.text(point.x, point.y, pdf_text(name, 20), ha="center", va="center", **style)


def map_png(result, lang: str = "zh", sites=None) -> bytes:
    """The report map as PNG: county outlines and names around the demand, demand coloured by
    travel-time band (grey beyond the last), gaps outlined, stations as dots, ``sites`` (the
    chosen sites, optional) as numbered red stars; legend below, north arrow and scale bar."""
    import geopandas as gpd
    import matplotlib
    import shapely
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from geo.gazetteer import default_gazetteer

    en = lang == "en"
    cells = result.cells
    west, south, east, north = (float(v) for v in cells.total_bounds)
    pad_x, pad_y = max((east - west) * 0.08, 0.03), max((north - south) * 0.08, 0.03)
    box = (west - pad_x, south - pad_y, east + pad_x, north + pad_y)
    mid_lat = (south + north) / 2
    bands = _bands(result)
    unit = "min" if en else "分钟"
    with matplotlib.rc_context(chart_style()):
        fig = Figure(figsize=(7.2, 6.4), dpi=170)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.01, 0.01, 0.98, 0.98))
        counties = default_gazetteer().counties
        near = counties.iloc[sorted(counties.sindex.query(shapely.box(*box), "intersects"))]
        outlines = shapely.clip_by_rect(shapely.boundary(near.geometry.values), *box)
        gpd.GeoSeries(outlines).plot(ax=ax, color="#6b6b6b", linewidth=0.7, linestyle="--")
        colours = [band_colour(m, bands) for m in cells["minutes"]]
        points = cells.geom_type.eq("Point").to_numpy()
        if (~points).any():
            polys = cells.loc[~points]
            polys.plot(
                ax=ax,
                color=[c for c, p in zip(colours, points, strict=True) if not p],
                alpha=0.6,
                linewidth=0,
            )
        if points.any():
            ax.scatter(
                cells.geometry.x[points],
                cells.geometry.y[points],
                s=22,
                c=[c for c, p in zip(colours, points, strict=True) if p],
                edgecolors="#555555",
                linewidths=0.4,
                zorder=3,
            )
        gaps = result.gaps()
        if len(gaps):
            gap_points = gaps.geom_type.eq("Point").to_numpy()
            if (~gap_points).any():
                gaps.loc[~gap_points].boundary.plot(ax=ax, color=GAP_COLOUR, linewidth=1.4)
            if gap_points.any():
                ax.scatter(
                    gaps.geometry.x[gap_points],
                    gaps.geometry.y[gap_points],
                    s=70,
                    facecolors="none",
                    edgecolors=GAP_COLOUR,
                    linewidths=1.1,
                    zorder=4,
                )
        stations = result.stations
        if len(stations):
            ax.scatter(
                stations["lon"], stations["lat"], s=14, c=STATION_COLOUR, zorder=5, linewidths=0
            )
        if sites is not None and len(sites):
            ax.scatter(sites["lon"], sites["lat"], s=150, marker="*", c=CHOSEN_COLOUR, zorder=6)
            for rank, lon, lat in zip(sites["rank"], sites["lon"], sites["lat"], strict=True):
                ax.annotate(
                    str(rank),
                    (float(lon), float(lat)),
                    xytext=(5, 4),
                    textcoords="offset points",
                    fontsize=8,
                    color=CHOSEN_COLOUR,
                    zorder=7,
                )
        label_units(ax, near, box, fontsize=7.5, color="#333333", alpha=0.85, zorder=2)
        ax.set_xlim(box[0], box[2])
        ax.set_ylim(box[1], box[3])
        ax.set_aspect(1 / math.cos(math.radians(mid_lat)))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("")
        ax.set_ylabel("")
        for spine in ax.spines.values():
            spine.set_color("#999999")
        north_arrow_and_scale(ax, box, en)
        handles: list = []
        low = 0.0
        for b in bands:
            handles.append(
                Patch(color=band_colour(b, bands), alpha=0.7, label=f"{low:g}–{b:g} {unit}")
            )
            low = b
        beyond = f"> {bands[-1]:g} {unit}" if en else f"超过 {bands[-1]:g} {unit}"
        handles.append(Patch(color="#bdbdbd", alpha=0.7, label=beyond))
        handles.append(
            Patch(facecolor="none", edgecolor=GAP_COLOUR, label="gap" if en else "服务空白")
        )
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                ls="",
                color=STATION_COLOUR,
                label="station" if en else "现有站点",
            )
        )
        if sites is not None:
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="*",
                    ms=11,
                    ls="",
                    color=CHOSEN_COLOUR,
                    label="new site (order added)" if en else "新增站点（序号为加入顺序）",
                )
            )
        handles.append(
            Line2D([], [], ls="--", color="#6b6b6b", label="county boundary" if en else "县界")
        )
        title = "travel time to the nearest station" if en else "到最近站点的出行时间"
        ax.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.01),
            ncol=4,
            fontsize=8,
            title=title,
            title_fontsize=8.5,
            frameon=False,
        )
        buf = io.BytesIO()
        fig.savefig(buf, format="png", facecolor="white", bbox_inches="tight", pad_inches=0.05)
    return buf.getvalue()


def attribution_text(map_approval: str = "", icp: str = "", lang: str = "zh") -> str:
    """The attribution under the PDF map as plain text: the data sources, the 审图号 and the
    ICP record when configured (the same parts as :func:`geo.maps.attribution_html`)."""
    en = lang == "en"
    lead = "Data: stations from the registry; " if en else "数据来源：站点名录；"
    parts = [lead + DATA_SOURCES]
    if map_approval:
        parts.append("审图号：" + map_approval)
    if icp:
        parts.append(icp)
    return " | ".join(parts)


# -- shared sections ------------------------------------------------------------------------


def _county_totals(result, table: pd.DataFrame) -> tuple[int, int]:
    """Units the county table misses against the run's totals: (placed, unplaced)."""
    summary = result.summary()
    return (
        int(summary["units_placed"]) - int(table["units_placed"].sum()),
        int(summary["units_unplaced"]) - int(table["units_unplaced"].sum()),
    )


def _findings(doc: _Document, result, table: pd.DataFrame) -> list[str]:
    """Worst-served counties, counties with nothing covered, gaps, unplaced units."""
    t = doc.t
    items = []
    placed = table[table["units_placed"] > 0].copy()
    placed["share"] = placed["share"].astype(float)
    worst = placed[placed["share"] < 1].sort_values("share").head(3)
    if len(worst):
        names = t("、", ", ").join(
            t(
                f"{pdf_text(r.name, 40)}（{_percent(r.share)}）",
                f"{pdf_text(r.name, 40)} ({_percent(r.share)})",
            )
            for r in worst.itertuples()
        )
        items.append(
            t(f"覆盖率最低的县区：{names}。", f"Counties with the lowest share covered: {names}.")
        )
    elif len(placed):
        items.append(
            t(
                "每个县区已定位的需求都在时间阈值内。",
                "All placed demand of every county is within the threshold.",
            )
        )
    none = placed[placed["units_covered"] == 0]
    if len(none):
        names = t("、", ", ").join(pdf_text(n, 40) for n in none["name"])
        items.append(
            t(f"完全没有覆盖的县区：{names}。", f"Counties with nothing covered: {names}.")
        )
    gaps = result.gaps()
    minutes = f"{result.max_minutes:g}"
    if len(gaps):
        demand = float(gaps["demand"].sum()) if "demand" in gaps else float("nan")
        items.append(
            t(
                f"服务空白 {len(gaps)} 处：共 {_number(demand)} 需求单位不能在 {minutes} 分钟内"
                "到达站点（地图上深红色轮廓）。",
                f"{len(gaps)} gaps: {_number(demand)} demand cannot reach a station within "
                f"{minutes} min (dark red outlines on the map).",
            )
        )
    else:
        items.append(t(f"{minutes} 分钟内没有服务空白。", f"No gaps within {minutes} min."))
    unplaced = int(table["units_unplaced"].sum())
    if unplaced:
        items.append(
            t(
                f"{unplaced} 个需求单元位置未知，不计入覆盖率；补全其位置后结论可能改变。",
                f"{unplaced} units have no known position and are not in the shares; "
                "placing them may change the findings.",
            )
        )
    return items


def _caveats(doc: _Document, notes: list[tuple[str, str]]) -> None:
    """The caveats first (as a list), then the remaining notes rows as a two-column table."""
    caveat = doc.t("注意事项", "Caveat")
    doc.heading(doc.t("注意事项", "Caveats"))
    doc.bullets([v for k, v in notes if k == caveat])
    doc.heading(doc.t("关于本报告", "About this report"))
    doc.table(
        [doc.t("项目", "Item"), doc.t("内容", "Text")],
        [[k, v] for k, v in notes if k != caveat],
        (30, 150),
    )


def _title_block(doc: _Document, title: str, subtitle: str) -> None:
    from fpdf.enums import XPos, YPos

    pdf = doc.pdf
    pdf.set_font(CJK, size=19)
    pdf.set_text_color(*HEADING_RGB)
    pdf.multi_cell(0, 9, pdf_text(title, 120), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    doc.paragraph(subtitle, size=9, muted=True)


def _figures(doc: _Document, rows: list[tuple[str, str, str]]) -> None:
    """Headline figures: name, value with its unit, one-line explanation."""
    doc.table(
        [doc.t("指标", "Figure"), doc.t("数值", "Value"), doc.t("说明", "What it means")],
        [list(r) for r in rows],
        (38, 42, 100),
        size=8.5,
    )


def _map_section(doc: _Document, result, sites, attribution: str, note: str) -> None:
    """The map with its note and attribution; without placed demand, a sentence saying so."""
    if len(result.cells):
        doc.image(map_png(result, "en" if doc.en else "zh", sites), 170, 150, doc.t("地图", "Map"))
        doc.paragraph(note, size=7.5, muted=True)
    else:
        doc.heading(doc.t("地图", "Map"))
        doc.paragraph(
            doc.t(
                "没有已定位的需求单元，无法绘制地图。",
                "No demand unit has a position: there is nothing to map.",
            )
        )
    doc.paragraph(attribution, size=7.5, muted=True)


# -- coverage --------------------------------------------------------------------------------


def coverage_pdf(
    result,
    path: str | Path,
    lang: str = "zh",
    map_approval: str = "",
    icp: str = "",
) -> Path:
    """Write ``report.pdf`` of a :class:`geo.coverage.CoverageResult` to ``path``."""
    record = result.record
    summary = result.summary()
    region = region_name(str(record.get("region", "")))
    en = lang == "en"
    title = f"{region}: service coverage" if en else f"{region}服务覆盖报告"
    doc = _Document(title, lang)
    t = doc.t
    unit = t("个单元", "units")
    kinds = t("、", ", ").join(kind_text(k, lang) for k in record.get("kinds", []))
    model = model_text(record.get("model", {}), lang)
    minutes = t("、", ", ").join(f"{m:g}" for m in record.get("max_minutes", []))
    today = datetime.date.today().isoformat()
    _title_block(
        doc,
        title,
        t(
            f"{region_text(str(record.get('region', '')))} · {today} · 站点类型：{kinds} · "
            f"时间阈值：{minutes} 分钟 · 出行模型：{model}",
            f"{region_text(str(record.get('region', '')))} · {today} · kinds: {kinds} · "
            f"thresholds: {minutes} min · travel model: {model}",
        ),
    )
    doc.heading(t("主要数字", "Headline figures"))
    doc.paragraph(pdf_text(summary["headline"]))
    rows: list[tuple[str, str, str]] = []
    for th in summary["thresholds"]:
        m = f"{th['max_minutes']:g}"
        rows.append(
            (
                t(f"覆盖率（{m} 分钟）", f"Share covered ({m} min)"),
                _percent(th["share"]),
                t(
                    f"已定位的需求中，{m} 分钟内能到达最近站点的比例",
                    f"of the placed demand, the share within {m} min of the nearest station",
                ),
            )
        )
        rows.append(
            (
                t(f"已覆盖需求（{m} 分钟）", f"Demand covered ({m} min)"),
                f"{_number(th['covered'])} / {_number(th['demand'])} {unit}",
                t("已覆盖 / 已定位的需求", "covered / placed demand"),
            )
        )
    rows.append(
        (
            t("平均出行时间", "Mean travel time"),
            f"{_number(summary['mean_minutes_reached'], 1)} {t('分钟', 'min')}",
            t(
                f"能在 {summary['minutes_cap']:g} 分钟（计算上限）内到达站点的需求的平均时间",
                f"mean over the demand reaching a station within {summary['minutes_cap']:g} "
                "min (the computation cap)",
            ),
        )
    )
    rows.append(
        (
            t("参与计算的站点", "Stations used"),
            f"{summary['stations']} {t('个', '')}".strip(),
            t(
                "可达范围内的现有站点，含区域外的邻近站点",
                "existing stations within reach, including nearby ones outside the region",
            ),
        )
    )
    rows.append(
        (
            t("位置未知的单元", "Units without position"),
            f"{summary['units_unplaced']} {t('个', '')}".strip(),
            t("没有位置，既不算覆盖也不算未覆盖", "no position: neither covered nor uncovered"),
        )
    )
    _figures(doc, rows)
    _map_section(
        doc,
        result,
        None,
        attribution_text(map_approval, icp, lang),
        t(
            f"颜色为到最近站点的出行时间（{model}）；上方为北。",
            f"Colours: travel time to the nearest station ({model}); north is up.",
        ),
    )
    table = result.by_admin("county")
    doc.heading(t("按县区", "By county"))
    body = [
        [
            r.code,
            r.name,
            r.state if not en else _state_en(r.state),
            _number(r.demand),
            _number(r.covered),
            _percent(r.share),
            _number(r.mean_minutes, 1),
            str(r.units_unplaced),
            r.nearest_station,
        ]
        for r in table.itertuples()
    ]
    body += _total_rows(doc, result, table)
    doc.table(
        [
            t("代码", "Code"),
            t("名称", "Name"),
            t("状态", "State"),
            t("需求", "Demand"),
            t("已覆盖", "Covered"),
            t(f"覆盖率（{result.max_minutes:g} 分钟）", f"Share ({result.max_minutes:g} min)"),
            t("平均时间（分钟）", "Mean (min)"),
            t("位置未知", "No position"),
            t("服务需求最多的站点", "Main station"),
        ],
        body,
        (15, 24, 16, 16, 16, 18, 16, 15, 44),
        ("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "LEFT"),
    )
    doc.heading(t("发现", "Findings"))
    doc.bullets(_findings(doc, result, table))
    parameters = [
        t(f"站点类型：{kinds}", f"kinds: {kinds}"),
        t(f"时间阈值：{minutes} 分钟", f"thresholds: {minutes} min"),
        t(
            f"计算上限：{record.get('minutes_cap', 0):g} 分钟",
            f"times computed up to {record.get('minutes_cap', 0):g} min",
        ),
    ]
    what = t("服务覆盖：多少需求在站点的可达时间内", "coverage: demand within reach of a station")
    _caveats(doc, report_notes(result, lang, parameters, int(summary["units_unplaced"]), what))
    return doc.save(Path(path))


_STATES_EN = {
    "已覆盖": "covered",
    "部分覆盖": "partly covered",
    "未覆盖": "not covered",
    "位置未知": "no position",
}


def _state_en(state: object) -> str:
    return _STATES_EN.get(str(state), str(state))


def _total_rows(doc: _Document, result, table: pd.DataFrame) -> list[list[str]]:
    """The total row, and a 县区未知 row for units the county table could not place in a
    county (so the table adds up to the run's totals: no unit is dropped)."""
    t = doc.t
    rows = []
    placed, unplaced = _county_totals(result, table)
    if placed or unplaced:
        rows.append(
            [
                "",
                t("县区未知", "County unknown"),
                "",
                "",
                "",
                "",
                "",
                str(unplaced),
                t(f"另有 {placed} 个已定位单元", f"{placed} more placed units"),
            ]
        )
    summary = result.summary()
    last = summary["thresholds"][-1]
    rows.append(
        [
            "",
            t("合计", "Total"),
            "",
            _number(last["demand"]),
            _number(last["covered"]),
            _percent(last["share"]),
            _number(summary["mean_minutes_reached"], 1),
            str(summary["units_unplaced"]),
            "",
        ]
    )
    return rows


# -- plan ------------------------------------------------------------------------------------


def plan_pdf(
    plan,
    candidates,
    before,
    after,
    path: str | Path,
    record: dict | None = None,
    lang: str = "zh",
    map_approval: str = "",
    icp: str = "",
) -> Path:
    """Write ``report.pdf`` of a :class:`geo.plan.Plan` with the coverage before and after."""
    from geo.report import compare_coverage

    record = record or {}
    en = lang == "en"
    region_code = str(after.record.get("region", ""))
    region = region_name(region_code)
    title = f"{region}: where to add stations" if en else f"{region}选址规划报告"
    doc = _Document(title, lang)
    t = doc.t
    sites = chosen_sites(plan, candidates)
    params = record.get("params", {})
    kind = kind_text(params.get("kind", ""), lang)
    model = model_text(before.record.get("model", {}), lang)
    minutes = f"{after.max_minutes:g}"
    today = datetime.date.today().isoformat()
    _title_block(
        doc,
        title,
        t(
            f"{region_text(region_code)} · {today} · 站点类型：{kind} · 时间阈值：{minutes} 分钟"
            f" · 出行模型：{model}",
            f"{region_text(region_code)} · {today} · kind: {kind} · threshold: {minutes} min"
            f" · travel model: {model}",
        ),
    )
    summary = after.summary()
    unit = t("个单元", "units")
    doc.heading(t("主要数字", "Headline figures"))
    doc.paragraph(
        t(
            f"新增 {len(plan.chosen)} 个站点后，{minutes} 分钟内的覆盖率从 "
            f"{_percent(plan.share_before)} 提高到 {_percent(plan.share_after)}。",
            f"With {len(plan.chosen)} new sites the share covered within {minutes} min goes "
            f"from {_percent(plan.share_before)} to {_percent(plan.share_after)}.",
        )
    )
    gained = float(np.sum(plan.gains)) if len(plan.gains) else 0.0
    cost = float(np.nansum(sites["cost"])) if len(sites) else 0.0
    yearly = float(np.nansum(sites["yearly_cost"])) if len(sites) else 0.0
    has_cost = bool(len(sites)) and bool(sites["cost"].notna().any())
    rows: list[tuple[str, str, str]] = [
        (
            t("新增站点", "Sites added"),
            f"{len(plan.chosen)} {t('个', '')}".strip(),
            t("按加入顺序列在下方和地图上（★）", "listed below and on the map (★), in order"),
        ),
        (
            t("规划前覆盖率", "Share before"),
            _percent(plan.share_before),
            t(
                f"已定位的需求中，{minutes} 分钟内能到达现有站点的比例",
                f"placed demand within {minutes} min of an existing station",
            ),
        ),
        (
            t("规划后覆盖率", "Share after"),
            _percent(plan.share_after),
            t("加上新增站点后的同一比例", "the same share with the new sites"),
        ),
        (
            t("新增覆盖需求", "Demand gained"),
            f"{_number(gained)} {unit}",
            t("新增站点带来的已覆盖需求", "demand newly covered by the new sites"),
        ),
        (
            t("一次性费用", "One-off cost"),
            f"{_number(cost)} {t('元', 'yuan')}" if has_cost else t("未提供", "not given"),
            t("新增站点的建设费用合计", "total building cost of the new sites"),
        ),
    ]
    if has_cost and yearly:
        rows.append(
            (
                t("年费用", "Yearly cost"),
                f"{_number(yearly)} {t('元', 'yuan')}",
                t("新增站点每年的运营费用合计", "total yearly running cost of the new sites"),
            )
        )
    if plan.gap is not None:
        rows.append(
            (
                t("与最优方案的差距", "Gap to the best possible"),
                t(f"最多 {_percent(plan.gap)}", f"at most {_percent(plan.gap)}"),
                t(
                    "求解器证明：任何方案最多比本方案多覆盖这么多（占已定位需求）",
                    "proven by the solver: no plan covers more than this much more",
                ),
            )
        )
    rows.append(
        (
            t("位置未知的单元", "Units without position"),
            f"{summary['units_unplaced']} {t('个', '')}".strip(),
            t("没有位置，规划无法计入", "no position: the plan cannot count them"),
        )
    )
    _figures(doc, rows)
    _map_section(
        doc,
        after,
        sites,
        attribution_text(map_approval, icp, lang),
        t(
            f"颜色为新增站点后到最近站点的出行时间（{model}）；★ 为新增站点，数字为加入顺序；"
            "上方为北。",
            f"Colours: travel time to the nearest station after the plan ({model}); ★ new "
            "sites, numbered in the order added; north is up.",
        ),
    )
    doc.heading(t("新增站点", "New sites"))
    doc.table(
        [
            t("顺序", "Order"),
            t("名称", "Name"),
            t("经度", "Lon"),
            t("纬度", "Lat"),
            t("新增覆盖需求", "Gain"),
            t("加入后覆盖率", "Share after"),
            t("一次性费用（元）", "Cost (yuan)"),
        ],
        [
            [
                str(r.rank),
                r.name,
                _number(r.lon, 5),
                _number(r.lat, 5),
                _number(r.gain),
                _percent(r.share_after),
                _number(r.cost),
            ]
            for r in sites.itertuples()
        ],
        (13, 50, 20, 20, 22, 22, 33),
        ("RIGHT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
    )
    table = compare_coverage(before.by_admin("county"), after.by_admin("county"))
    doc.heading(t("按县区（规划前后）", "By county, before and after"))
    body = [
        [
            r.code,
            r.name,
            r.state if not en else _state_en(r.state),
            _number(r.demand),
            _percent(r.share_before),
            _percent(r.share_after),
            _number(r.gain),
            str(r.units_unplaced),
            r.nearest_station,
        ]
        for r in table.itertuples()
    ]
    body += _plan_total_rows(doc, plan, after, table, gained)
    doc.table(
        [
            t("代码", "Code"),
            t("名称", "Name"),
            t("规划后状态", "State after"),
            t("需求", "Demand"),
            t("规划前覆盖率", "Share before"),
            t("规划后覆盖率", "Share after"),
            t("新增覆盖", "Gain"),
            t("位置未知", "No position"),
            t("服务需求最多的站点", "Main station"),
        ],
        body,
        (14, 24, 20, 15, 19, 19, 15, 15, 39),
        ("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "LEFT"),
    )
    doc.heading(t("发现", "Findings"))
    after_table = after.by_admin("county")
    items = _findings(doc, after, after_table)
    items += [pdf_text(m) for m in plan.messages]
    doc.bullets(items)
    parameters = [
        t(f"站点类型：{kind}", f"kind: {kind}"),
        t(f"时间阈值：{minutes} 分钟", f"threshold: {minutes} min"),
        t(f"新增站点：{len(plan.chosen)} 个", f"sites to add: {len(plan.chosen)}"),
        t(
            f"候选点：{params.get('candidate_source', '')}",
            f"candidates: {params.get('candidate_source', '')}",
        ),
    ]
    what = t("选址规划：在哪里新增站点", "plan: where to add stations")
    _caveats(doc, report_notes(after, lang, parameters, int(summary["units_unplaced"]), what))
    return doc.save(Path(path))


def _plan_total_rows(doc: _Document, plan, after, table: pd.DataFrame, gained: float):
    t = doc.t
    rows = []
    placed, unplaced = _county_totals(after, table.assign(units_placed=table["units_placed"]))
    if placed or unplaced:
        rows.append(
            [
                "",
                t("县区未知", "County unknown"),
                "",
                "",
                "",
                "",
                "",
                str(unplaced),
                t(f"另有 {placed} 个已定位单元", f"{placed} more placed units"),
            ]
        )
    rows.append(
        [
            "",
            t("合计", "Total"),
            "",
            _number(plan.total_weight),
            _percent(plan.share_before),
            _percent(plan.share_after),
            _number(gained),
            str(int(table["units_unplaced"].sum()) + unplaced),
            "",
        ]
    )
    return rows


__all__ = [
    "attribution_text",
    "coverage_pdf",
    "map_png",
    "new_pdf",
    "north_arrow_and_scale",
    "pdf_text",
    "plan_pdf",
    "scale_km",
]
