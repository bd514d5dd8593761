"""有地图可查 on paper: a station's door sign (A5) and a county's poster (A3), as PDF.

:func:`sign_pdf` writes one A5 portrait page for a station's door: the union, the station's
name (large, wrapped, smaller type for long names), its kind and status, opening hours (the
weekly schedule of :func:`geo.hours.week_lines`), services, phone and address, and a QR code
to its public station page ``<base URL>/stations/<id>`` with that URL printed under it;
demo stations carry 示意 (illustrative). :func:`poster_pdf` writes an A3 portrait poster of a
county: its title, a map of the county (outline, neighbours, numbered markers, legend, north
arrow, scale bar), the numbered list with the same numbers (name, address, hours, phone;
continued on further A3 pages when long), data date, sources and the demo label.

Layout and text rules are :mod:`geo.report_pdf`'s: :func:`geo.report_pdf.new_pdf` (bundled Noto
Sans CJK, DejaVu fallback), :func:`geo.report_pdf.pdf_text` (plain text, controls and bidi
overrides removed, long values cut with their length noted). The QR code (segno) is drawn as
vector squares: crisp at any print size. Nothing here cuts text silently: a field that does
not fit at the smallest type is cut by :func:`~geo.report_pdf.pdf_text` with its length noted.
"""

from __future__ import annotations

import datetime
import io
import math
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from geo.errors import ValidationError
from geo.hours import week_lines
from geo.models import SERVICES, Station, Status
from geo.report import chart_style, kind_text
from geo.report_pdf import (
    CJK,
    HEADING_RGB,
    MUTED_RGB,
    STATION_COLOUR,
    attribution_text,
    label_units,
    new_pdf,
    north_arrow_and_scale,
    pdf_text,
)

#: Page sizes (mm, portrait): the door sign and the poster.
A5_MM, A3_MM = (148.0, 210.0), (297.0, 420.0)
#: Red of the 示意 (demo) label and of closed/planned notes.
WARN_RGB = (178, 24, 43)
#: Type sizes (pt) the sign tries for the name, largest first, and for its fields.
NAME_SIZES_PT = (28.0, 24.0, 20.0, 16.0, 13.0, 11.0)
FIELD_SIZES_PT = (12.0, 11.0, 10.0, 9.0, 8.0, 7.0, 6.0)


def station_url(base_url: str, station_id: str) -> str:
    """The public page of a station: ``<base_url>/stations/<id>`` (the id percent-encoded).

    Raises
    ------
    ValidationError
        If ``base_url`` is not an absolute ``http(s)://`` URL.
    """
    base = (base_url or "").strip().rstrip("/")
    if not base.startswith(("http://", "https://")) or len(base) < 10:
        raise ValidationError(
            f"base URL {base_url!r} must be an absolute http(s) URL, e.g. "
            "https://yizhan.example.org.cn (YIZHAN_PUBLIC_URL or --base-url)",
            field="base_url",
        )
    return f"{base}/stations/{quote(station_id, safe='')}"


def qr_matrix(url: str) -> list[list[bool]]:
    """The QR code of ``url`` (error correction M, no quiet zone) as rows of dark modules."""
    import segno

    qr = segno.make_qr(url, error="m", boost_error=False)
    return [[bool(v) for v in row] for row in qr.matrix]


def _draw_qr(pdf, url: str, x_mm: float, y_mm: float, size_mm: float) -> None:
    """``url``'s QR code as filled squares (runs of a row merged) in a ``size_mm`` square."""
    rows = qr_matrix(url)
    module = size_mm / len(rows)
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(rows):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            # a hair wider so neighbouring squares leave no white seam when rasterised
            pdf.rect(
                x_mm + start * module,
                y_mm + r * module,
                (c - start) * module + 0.01,
                module + 0.01,
                style="F",
            )


def _services_text(station: Station, en: bool) -> str:
    names = [
        (SERVICES[c].en if en else SERVICES[c].zh) if c in SERVICES else c for c in station.services
    ]
    return (", " if en else "、").join(names)


def hours_lines(station: Station, lang: str = "zh") -> list[str]:
    """The hours as printed: the weekly schedule, else the text as registered, else 未知."""
    lines = week_lines(station.opening_hours, lang)
    if lines:
        return lines
    if station.hours and station.hours.strip():
        return [station.hours]
    return ["unknown" if lang == "en" else "未知"]


def _status_note(station: Station, en: bool) -> str:
    if station.status is Status.CLOSED:
        return "Closed" if en else "已关闭"
    if station.status is Status.PLANNED:
        return "Planned, not yet open" if en else "筹建中，尚未开放"
    return ""


def _station_address(station: Station) -> str:
    return station.address or "".join(
        x for x in (station.province, station.prefecture, station.county, station.township) if x
    )


def _sign_fields(station: Station, en: bool) -> list[tuple[str, str]]:
    """(label, text) rows of the sign, in order. Facilities (六有, ``Station.facilities``
    when the registry has them) go after services."""
    t = (lambda zh, e: e) if en else (lambda zh, e: zh)
    rows = [
        (t("开放时间", "Hours"), "\n".join(hours_lines(station, "en" if en else "zh"))),
        (t("服务项目", "Services"), _services_text(station, en) or "—"),
    ]
    if station.facilities:  # 六有 健全设施 (issue 15 item 7): codes of geo.liuyou.FACILITIES
        from geo.liuyou import FACILITIES

        names = [
            (term.en if en else term.zh) if (term := FACILITIES.get(code)) else code
            for code in station.facilities
        ]
        rows.append((t("设施", "Facilities"), (", " if en else "、").join(names)))
    rows.append((t("联系电话", "Phone"), station.phone or "—"))
    rows.append((t("地址", "Address"), _station_address(station) or "—"))
    return rows


def _line_count(pdf, width_mm: float, height_mm: float, text: str) -> int:
    """Lines ``text`` takes in a ``multi_cell`` of ``width_mm`` in the current font."""
    lines = pdf.multi_cell(width_mm, height_mm, text, dry_run=True, output="LINES")
    return len(lines)


def _fields_height(pdf, rows, width_mm: float, size: float, limit: int) -> float:
    pdf.set_font(CJK, size=size)
    height = 0.0
    for label, text in rows:
        for part in [label, *text.split("\n")]:
            lines = _line_count(pdf, width_mm, size * 0.5, pdf_text(part, limit))
            height += lines * size * 0.5
        height += size * 0.35
    return height


def sign_pdf(
    station: Station,
    base_url: str,
    path: str | Path | None = None,
    lang: str = "zh",
) -> bytes:
    """A station's door sign: one A5 portrait page; written to ``path`` when given.

    Returns the PDF's bytes. The QR code links to :func:`station_url` of ``base_url``.
    """
    from fpdf.enums import Align, XPos, YPos

    en = lang == "en"
    url = station_url(base_url, station.id)
    pdf = new_pdf(pdf_text(station.name, 120), lang, page_format=A5_MM)
    margin = 12.0
    pdf.set_margins(margin, margin, margin)
    pdf.set_auto_page_break(False)
    pdf.add_page()
    width = pdf.w - 2 * margin
    # union and demo label
    pdf.set_font(CJK, size=10)
    pdf.set_text_color(*MUTED_RGB)
    union = station.union or ("Trade union service station" if en else "工会服务站点")
    demo = ("ILLUSTRATIVE (demo data)" if en else "示意（演示数据）") if station.demo else ""
    pdf.multi_cell(
        width - (40 if demo else 0),
        5,
        pdf_text(union, 80),
        align=Align.L,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    below_union = pdf.get_y()
    if demo:
        pdf.set_xy(pdf.w - margin - 40, margin)
        pdf.set_text_color(*WARN_RGB)
        pdf.set_draw_color(*WARN_RGB)
        pdf.cell(40, 6, demo, border=1, align="C")
        pdf.set_xy(margin, max(below_union, margin + 6))
    pdf.ln(2)
    # the name: the largest type at which it takes at most three lines
    name = pdf_text(station.name, 160)
    size = NAME_SIZES_PT[-1]
    for size in NAME_SIZES_PT:
        pdf.set_font(CJK, size=size)
        if _line_count(pdf, width, size * 0.45, name) <= 3:
            break
    pdf.set_text_color(*HEADING_RGB)
    pdf.set_font(CJK, size=size)
    pdf.multi_cell(width, size * 0.45, name, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(CJK, size=12)
    kind = kind_text(station.kind, lang)
    pdf.multi_cell(width, 6, pdf_text(kind, 80), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    note = _status_note(station, en)
    if note:
        pdf.set_text_color(*WARN_RGB)
        pdf.multi_cell(width, 6, note, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0, 0, 0)
    pdf.set_draw_color(*HEADING_RGB)
    pdf.set_line_width(0.4)
    pdf.line(margin, pdf.get_y() + 1.5, pdf.w - margin, pdf.get_y() + 1.5)
    pdf.ln(4)
    # the QR block at the bottom: code, URL, a line saying what it is
    qr_size = 46.0
    pdf.set_font(CJK, size=7.5)
    url_lines = _line_count(pdf, width, 3.6, url)
    qr_top = pdf.h - margin - 5 - url_lines * 3.6 - 1 - qr_size
    # the fields between the heading and the QR block, at the largest type that fits
    rows = _sign_fields(station, en)
    label_w = 24.0 if en else 20.0
    room = qr_top - 3 - pdf.get_y()
    size, limit = FIELD_SIZES_PT[-1], 120
    for size, limit in [(s, 300) for s in FIELD_SIZES_PT] + [(FIELD_SIZES_PT[-1], 120)]:
        if _fields_height(pdf, rows, width - label_w, size, limit) <= room:
            break
    for label, text in rows:
        y = pdf.get_y()
        pdf.set_font(CJK, size=size)
        pdf.set_text_color(*MUTED_RGB)
        pdf.multi_cell(label_w, size * 0.5, label, align=Align.L)
        pdf.set_text_color(0, 0, 0)
        pdf.set_xy(margin + label_w, y)
        for part in text.split("\n"):
            pdf.multi_cell(
                width - label_w,
                size * 0.5,
                pdf_text(part, limit),
                align=Align.L,
                new_x=XPos.LEFT,
                new_y=YPos.NEXT,
            )
        pdf.set_xy(margin, pdf.get_y() + size * 0.35)
    x_qr = (pdf.w - qr_size) / 2
    _draw_qr(pdf, url, x_qr, qr_top, qr_size)
    pdf.set_xy(margin, qr_top + qr_size + 1)
    pdf.set_font(CJK, size=7.5)
    pdf.set_text_color(*MUTED_RGB)
    pdf.multi_cell(width, 3.6, url, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(CJK, size=9)
    pdf.set_text_color(0, 0, 0)
    scan = (
        "Scan for directions and the latest opening hours"
        if en
        else "扫码查看导航和最新开放时间 · 有地图可查"
    )
    pdf.multi_cell(width, 5, scan, align=Align.C)
    data = bytes(pdf.output())
    if path is not None:
        Path(path).write_bytes(data)
    return data


# -- the county poster -------------------------------------------------------------------


def poster_stations(stations: Sequence[Station]) -> tuple[list[Station], int, int]:
    """The stations a poster numbers, in their order (by township, then name and id), and
    how many were left out: (numbered, closed, without position)."""
    closed = sum(1 for s in stations if s.status is Status.CLOSED)
    unplaced = sum(1 for s in stations if s.status is not Status.CLOSED and s.lon is None)
    shown = [s for s in stations if s.status is not Status.CLOSED and s.lon is not None]
    shown.sort(key=lambda s: (s.township_code or "", s.name, s.id))
    return shown, closed, unplaced


def poster_map_png(county_code: str, stations: Sequence[Station], lang: str = "zh") -> bytes:
    """The poster's map: the county's outline, its neighbours (dashed, named), ``stations`` as
    markers numbered 1, 2, … in the given order; legend, north arrow and scale bar."""
    import geopandas as gpd
    import matplotlib
    import shapely
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from geo.gazetteer import default_gazetteer

    en = lang == "en"
    counties = default_gazetteer().counties
    own = counties[counties["code"] == county_code]
    geoms = list(own.geometry.values) + [
        shapely.Point(s.lon, s.lat) for s in stations if s.lon is not None and s.lat is not None
    ]
    west, south, east, north = shapely.GeometryCollection(geoms).bounds
    pad_x, pad_y = max((east - west) * 0.06, 0.02), max((north - south) * 0.06, 0.02)
    box = (west - pad_x, south - pad_y, east + pad_x, north + pad_y)
    mid_lat = (box[1] + box[3]) / 2
    aspect = 1 / math.cos(math.radians(mid_lat))
    ratio = (box[3] - box[1]) * aspect / (box[2] - box[0])  # height / width on paper
    width_in = 10.5
    height_in = min(max(width_in * ratio, 4.0), 10.5)
    with matplotlib.rc_context(chart_style()):
        fig = Figure(figsize=(width_in, height_in), dpi=200)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.01, 0.01, 0.98, 0.98))
        near = counties.iloc[sorted(counties.sindex.query(shapely.box(*box), "intersects"))]
        others = near[near["code"] != county_code]
        if len(others):
            lines = shapely.clip_by_rect(shapely.boundary(others.geometry.values), *box)
            gpd.GeoSeries(lines).plot(ax=ax, color="#9a9a9a", linewidth=0.6, linestyle="--")
            label_units(ax, others, box, fontsize=8, color="#888888")
        if len(own):
            own.plot(ax=ax, facecolor="#f3f6fb", edgecolor=HEADING_HEX, linewidth=1.6)
        xs = [float(s.lon or 0.0) for s in stations]
        ys = [float(s.lat or 0.0) for s in stations]
        marker = 9 if len(stations) <= 60 else 6.5
        ax.scatter(
            xs,
            ys,
            s=(marker * 2.1) ** 2,
            c=STATION_COLOUR,
            zorder=5,
            linewidths=0.6,
            edgecolors="white",
        )
        for number, (x, y) in enumerate(zip(xs, ys, strict=True), start=1):
            ax.text(
                x,
                y,
                str(number),
                fontsize=marker * 0.75 if number < 100 else marker * 0.6,
                color="white",
                ha="center",
                va="center",
                zorder=6,
            )
        ax.set_xlim(box[0], box[2])
        ax.set_ylim(box[1], box[3])
        ax.set_aspect(aspect)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("")
        ax.set_ylabel("")
        for spine in ax.spines.values():
            spine.set_color("#999999")
        north_arrow_and_scale(ax, box, en)
        handles = [
            Line2D(
                [],
                [],
                marker="o",
                ms=9,
                ls="",
                color=STATION_COLOUR,
                label="station (number as in the list)" if en else "服务站点（序号同下表）",
            ),
            Line2D([], [], color=HEADING_HEX, lw=1.6, label="county boundary" if en else "本县界"),
            Line2D(
                [],
                [],
                color="#9a9a9a",
                lw=0.8,
                ls="--",
                label="neighbouring counties" if en else "相邻县界",
            ),
        ]
        ax.legend(handles=handles, loc="lower right", fontsize=9, framealpha=0.9)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", facecolor="white", bbox_inches="tight", pad_inches=0.04)
    return buf.getvalue()


#: The heading colour as matplotlib writes it.
HEADING_HEX = "#{:02x}{:02x}{:02x}".format(*HEADING_RGB)


def poster_pdf(
    county_code: str,
    stations: Sequence[Station],
    path: str | Path | None = None,
    lang: str = "zh",
    base_url: str = "",
    map_approval: str = "",
    icp: str = "",
) -> bytes:
    """A county's poster: A3 portrait pages; written to ``path`` when given.

    ``stations`` are the county's (:func:`poster_stations` picks and orders those shown).
    With ``base_url`` the poster carries a QR code to the locator showing the county.

    Raises
    ------
    ValidationError
        If ``county_code`` is not a county of the gazetteer.
    """
    from fpdf.enums import Align, TableCellFillMode, WrapMode, XPos, YPos
    from fpdf.fonts import FontFace

    from geo.gazetteer import default_gazetteer

    en = lang == "en"
    division = default_gazetteer().get(county_code)
    if division is None or division.level != "county":
        raise ValidationError(f"{county_code!r} is not a county code", field="area")
    shown, closed, unplaced = poster_stations(stations)
    dates = [s.updated_at.date() for s in stations if s.updated_at]
    data_date = max(dates) if dates else datetime.date.today()
    title = (
        f"{division.name}: trade union service stations"
        if en
        else f"{division.name}工会服务站点分布图"
    )
    pdf = new_pdf(title, lang, page_format=A3_MM)
    margin = 15.0
    pdf.set_margins(margin, margin, margin)
    pdf.set_auto_page_break(True, margin=18)

    def footer() -> None:
        pdf.set_y(-13)
        pdf.set_font(CJK, size=8)
        pdf.set_text_color(*MUTED_RGB)
        page = f"page {pdf.page_no()} of {{nb}}" if en else f"第 {pdf.page_no()} 页，共 {{nb}} 页"
        pdf.cell(0, 5, f"{pdf_text(title, 80)} · {page}", align="C")
        pdf.set_text_color(0, 0, 0)

    pdf.footer = footer  # type: ignore[method-assign]
    pdf.add_page()
    width = pdf.w - 2 * margin
    demo = any(s.demo for s in shown)
    qr_size = 30.0 if base_url else 0.0
    text_w = width - (qr_size + 5 if qr_size else 0)
    pdf.set_font(CJK, size=30)
    pdf.set_text_color(*HEADING_RGB)
    pdf.multi_cell(text_w, 13, pdf_text(title, 120), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*MUTED_RGB)
    pdf.set_font(CJK, size=11)
    region = "".join(
        n
        for n in (
            _division_name(division.province_code),
            _division_name(division.prefecture_code),
        )
        if n
    )
    count = (
        f"{len(shown)} stations · data as of {data_date.isoformat()}"
        if en
        else f"{len(shown)} 个站点 · 数据日期 {data_date.isoformat()}"
    )
    pdf.multi_cell(
        text_w, 6, f"{region} {county_code} · {count}", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    if demo:
        pdf.set_text_color(*WARN_RGB)
        pdf.set_font(CJK, size=12)
        pdf.multi_cell(
            text_w,
            6,
            "ILLUSTRATIVE: demo data, positions approximate"
            if en
            else "示意：含演示数据，位置为近似，不作实际使用",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    if qr_size:
        locator = base_url.strip().rstrip("/") + "/?region=" + quote(county_code, safe="")
        station_url(base_url, "x")  # the same check of the base URL
        _draw_qr(pdf, locator, pdf.w - margin - qr_size, margin, qr_size)
        pdf.set_font(CJK, size=6.5)
        pdf.set_text_color(*MUTED_RGB)
        pdf.set_xy(pdf.w - margin - qr_size - 5, margin + qr_size + 0.5)
        pdf.multi_cell(
            qr_size + 5, 3, "扫码在手机上查找" if not en else "Find on your phone", align=Align.C
        )
        pdf.set_y(max(pdf.get_y(), margin + qr_size + 4))
    pdf.set_text_color(0, 0, 0)
    pdf.ln(2)
    if shown:
        png = poster_map_png(county_code, shown, lang)
        from PIL import Image

        with Image.open(io.BytesIO(png)) as im:
            ratio = im.height / im.width
        w_mm = min(width, 250 / ratio)
        h_mm = w_mm * ratio
        pdf.image(io.BytesIO(png), x=(pdf.w - w_mm) / 2, y=pdf.get_y(), w=w_mm)
        pdf.set_y(pdf.get_y() + h_mm + 2)
    else:
        pdf.set_font(CJK, size=16)
        pdf.ln(20)
        pdf.multi_cell(
            width,
            9,
            "No station of this county is registered with a position yet."
            if en
            else "本县区尚无已登记位置的服务站点。",
            align=Align.C,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        pdf.ln(20)
    pdf.set_font(CJK, size=8)
    pdf.set_text_color(*MUTED_RGB)
    left_out = []
    if closed:
        left_out.append(f"{closed} closed" if en else f"已关闭的 {closed} 个")
    if unplaced:
        left_out.append(f"{unplaced} without position" if en else f"位置未知的 {unplaced} 个")
    if left_out:
        pdf.multi_cell(
            width,
            4,
            ("Not shown: " + ", ".join(left_out) + ".")
            if en
            else "未列出：" + "、".join(left_out) + "站点。",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    pdf.multi_cell(
        width,
        4,
        pdf_text(attribution_text(map_approval, icp, lang), 400)
        + (" · Numbers on the map are those of the list." if en else " · 地图上的序号即下表序号。"),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_text_color(0, 0, 0)
    pdf.ln(2)
    if shown:
        size = 8.5 if len(shown) <= 40 else 7.0
        pdf.set_font(CJK, size=size)
        head = FontFace(family=CJK, emphasis="", color=(255, 255, 255), fill_color=HEADING_RGB)
        header = (
            ["No.", "Station", "Address", "Hours", "Phone"]
            if en
            else ["序号", "站点名称", "地址", "开放时间", "联系电话"]
        )
        with pdf.table(
            col_widths=(10, 64, 82, 78, 33),
            text_align=("RIGHT", "LEFT", "LEFT", "LEFT", "LEFT"),
            headings_style=head,
            line_height=size * 0.48,
            padding=(0.6, 1.0),
            wrapmode=WrapMode.CHAR,
            repeat_headings=1,
            cell_fill_color=(240, 244, 250),
            cell_fill_mode=TableCellFillMode.ROWS,
            borders_layout="SINGLE_TOP_LINE",
        ) as table:
            cells = table.row()
            for h in header:
                cells.cell(h)
            for number, s in enumerate(shown, start=1):
                cells = table.row()
                name = pdf_text(s.name, 200)
                note = _status_note(s, en)
                if s.demo:
                    name += " (demo)" if en else "（示意）"
                if note:
                    name += f" [{note}]" if en else f"【{note}】"
                cells.cell(str(number))
                cells.cell(name)
                cells.cell(pdf_text(_station_address(s) or "—", 300))
                cells.cell(pdf_text("; ".join(hours_lines(s, lang)), 200))
                cells.cell(pdf_text(s.phone or "—", 60))
    data = bytes(pdf.output())
    if path is not None:
        Path(path).write_bytes(data)
    return data


def _division_name(code: str | None) -> str:
    from geo.gazetteer import default_gazetteer

    division = default_gazetteer().get(code) if code else None
    return division.name if division else ""


__all__ = [
    "A3_MM",
    "A5_MM",
    "hours_lines",
    "poster_map_png",
    "poster_pdf",
    "poster_stations",
    "qr_matrix",
    "sign_pdf",
    "station_url",
]
