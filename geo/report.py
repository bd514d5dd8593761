"""Result folders: the files a coverage run or a plan leaves behind.

:func:`coverage_report` writes a coverage run's ``summary.json``, ``by_county.csv`` /
``by_township.csv``, ``coverage.xlsx``, ``gaps.geojson``, ``service_areas.geojson``,
``cells.gpkg`` and ``map.html`` (offline). :func:`write_layers` writes the light GeoJSON layers
the planner pages draw (``layer_cells``, ``layer_gaps``, ``layer_stations``).

:func:`plan_report` writes, for a :class:`geo.plan.Plan` and the coverage before and after it:
``plan.json`` (the plan, its bound and gap, and how it was produced), ``plan.xlsx`` (sheets
summary, by_county, by_township, chosen_sites with marginal gains and costs),
``chosen_sites.geojson`` and ``.gpkg``, ``map.html`` (coverage after the plan, chosen sites
marked; offline) and two PNG charts: the coverage curve (share covered against the number of
sites added, in the order the plan adds them) and the travel-time histogram before/after.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.coverage import json_default, minutes_text
from geo.maps import DATA_SOURCES, html_text
from geo.spreadsheet import csv_frame, neutralise_workbook, write_notes, write_table

#: Legend swatch of a chosen site: a red star (CSS clip-path).
STAR_SWATCH = (
    "background:#b2182b;clip-path:polygon(50% 0,61% 35%,98% 35%,68% 57%,79% 91%,"
    "50% 70%,21% 91%,32% 57%,2% 35%,39% 35%)"
)

#: Report sheets by language: notes first, then the tables.
SHEETS = {
    "zh": {
        "notes": "说明",
        "summary": "汇总",
        "county": "按县区",
        "township": "按乡镇",
        "chosen_sites": "新增站点",
    },
    "en": {
        "notes": "notes",
        "summary": "summary",
        "county": "by_county",
        "township": "by_township",
        "chosen_sites": "chosen_sites",
    },
}

#: Column headers of the report sheets: column name -> (Chinese, English).
COLUMN_LABELS: dict[str, tuple[str, str]] = {
    "max_minutes": ("时间阈值（分钟）", "Threshold (minutes)"),
    "demand": ("需求", "Demand"),
    "covered": ("已覆盖需求", "Demand covered"),
    "share": ("覆盖率", "Share covered"),
    "units_covered": ("已覆盖单元数", "Units covered"),
    "units_placed": ("已定位单元数", "Units placed"),
    "units_unplaced": ("位置未知单元数", "Units without position"),
    "demand_unplaced": ("位置未知需求", "Demand without position"),
    "headline": ("结论", "Headline"),
    "code": ("代码", "Code"),
    "name": ("名称", "Name"),
    "state": ("状态", "State"),
    "reached_share": ("计算上限内可达比例", "Share reached within the cap"),
    "mean_minutes": ("平均出行时间（分钟）", "Mean travel time (minutes)"),
    "p90_minutes": ("90% 出行时间（分钟）", "90th percentile time (minutes)"),
    "beyond_cap_share": ("超出计算上限比例", "Share beyond the cap"),
    "minutes_text": ("出行时间（文字）", "Travel time (text)"),
    "nearest_station": ("最近站点", "Nearest station"),
    "nearest_station_id": ("最近站点编号", "Nearest station ID"),
    "covered_before": ("规划前已覆盖需求", "Demand covered before"),
    "share_before": ("规划前覆盖率", "Share covered before"),
    "mean_minutes_before": ("规划前平均出行时间（分钟）", "Mean time before (minutes)"),
    "covered_after": ("规划后已覆盖需求", "Demand covered after"),
    "share_after": ("规划后覆盖率", "Share covered after"),
    "mean_minutes_after": ("规划后平均出行时间（分钟）", "Mean time after (minutes)"),
    "gain": ("新增覆盖需求", "Demand gained"),
    "rank": ("加入顺序", "Order added"),
    "id": ("编号", "ID"),
    "lon": ("经度", "Longitude"),
    "lat": ("纬度", "Latitude"),
    "cost": ("一次性费用（元）", "One-off cost (yuan)"),
    "yearly_cost": ("年费用（元）", "Yearly cost (yuan)"),
    "source": ("来源", "Source"),
    "capacity": ("容量", "Capacity"),
    "item": ("项目", "Item"),
    "value": ("数值", "Value"),
}

#: Excel number formats by column: shares as percentages, minutes to 0.1, counts grouped.
PERCENT, MINUTES, COUNT, DEGREES = "0.0%", "0.0", "#,##0", "0.000000"
COLUMN_FORMATS: dict[str, str] = {
    **dict.fromkeys(
        ("share", "reached_share", "beyond_cap_share", "share_before", "share_after"), PERCENT
    ),
    **dict.fromkeys(
        (
            "max_minutes",
            "mean_minutes",
            "p90_minutes",
            "mean_minutes_before",
            "mean_minutes_after",
        ),
        MINUTES,
    ),
    **dict.fromkeys(
        (
            "demand",
            "covered",
            "units_covered",
            "units_placed",
            "units_unplaced",
            "demand_unplaced",
            "covered_before",
            "covered_after",
            "gain",
            "rank",
            "cost",
            "yearly_cost",
            "capacity",
        ),
        COUNT,
    ),
    "lon": DEGREES,
    "lat": DEGREES,
}


def _headers(lang: str) -> dict[str, str]:
    i = 1 if lang == "en" else 0
    return {k: v[i] for k, v in COLUMN_LABELS.items()}


def region_text(code: str) -> str:
    """``code`` with the division's full name when the gazetteer knows it."""
    from geo.gazetteer import default_gazetteer
    from geo.regions import full_name

    gaz = default_gazetteer()
    division = gaz.get(str(code)) if code else None
    return f"{code} {full_name(division, gaz)}" if division else str(code or "")


def kind_text(kind: object, lang: str) -> str:
    from geo.models import KINDS

    term = KINDS.get(str(getattr(kind, "value", kind)))
    if term is None:
        return str(kind)
    return term.en if lang == "en" else term.zh


def model_text(model: dict, lang: str) -> str:
    """The travel model named for a reader: a crow-fly estimate or the road network."""
    en = lang == "en"
    if model.get("model") == "crowfly":
        speed, circuity = model.get("speed_kph"), model.get("circuity")
        return (
            f"crow-fly estimate (straight-line distance × detour factor {circuity:g} at "
            f"{speed:g} km/h), not the road network"
            if en
            else f"直线估算：直线距离 × 绕行系数 {circuity:g}，按 {speed:g} 公里/小时计，"
            "不是道路网络的实际路程"
        )
    label = str(model.get("label") or model.get("model") or "")
    return (
        f"road network ({label}, mode {model.get('mode', '')})"
        if en
        else f"道路网络（{label}，出行方式 {model.get('mode', '')}）"
    )


def report_notes(
    result, lang: str, parameters: list[str], units_unplaced: int, what: str
) -> list[tuple[str, str]]:
    """The rows of the 说明/notes sheet: region, date, parameters, model, sources, caveats."""
    import datetime

    en = lang == "en"
    record = result.record
    stations = result.stations
    demo = bool(len(stations)) and bool(
        stations["id"].astype(str).str.upper().str.startswith("DEMO").any()
    )
    caveats = []
    if units_unplaced:
        caveats.append(
            f"{units_unplaced} units have no known position: neither covered nor uncovered, "
            "shares are over the placed units only"
            if en
            else f"{units_unplaced} 个需求单元位置未知（位置未知）：既不算覆盖也不算未覆盖，"
            "覆盖率只按已定位的单元计算"
        )
    if demo:
        caveats.append(
            "demo data: stations whose ID starts with DEMO are invented examples, not real stations"
            if en
            else "含演示数据：编号以 DEMO 开头的站点是示例，不是真实站点"
        )
    if record.get("model", {}).get("model") == "crowfly":
        caveats.append(
            "travel times are estimates from straight-line distance; rivers and mountains "
            "can make real trips longer"
            if en
            else "出行时间按直线距离估算；河流、山地可能使实际路程更长"
        )
    caveats.extend(str(w) for w in record.get("warnings", []))
    rows = [
        ("Report" if en else "报告", what),
        ("Region" if en else "地区", region_text(str(record.get("region", "")))),
        ("Date" if en else "生成日期", datetime.date.today().isoformat()),
        ("Parameters" if en else "参数", "; ".join(parameters) if en else "；".join(parameters)),
        ("Travel model" if en else "出行模型", model_text(record.get("model", {}), lang)),
        ("Demand" if en else "需求", str(record.get("demand_source", ""))),
        (
            "Data sources" if en else "数据来源",
            ("stations: the registry; " if en else "站点：站点名录；") + DATA_SOURCES,
        ),
    ]
    rows += [("Caveat" if en else "注意事项", c) for c in caveats]
    return rows


#: Bars of the travel-time histogram up to the minutes cap (one more bar holds "> cap").
HIST_BINS = 24


def coverage_report(
    result,
    out_dir: str | Path,
    by: tuple[str, ...] | list[str] = ("county", "township"),
    lang: str = "zh",
    map_approval: str = "",
    icp: str = "",
) -> dict[str, Path]:
    """Write a :class:`geo.coverage.CoverageResult`'s folder (see the module docstring).

    Returns the files by name: ``summary``, ``by_<level>``, ``xlsx``, ``gaps``,
    ``service_areas``, ``cells``, ``map``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    summary = result.summary()
    (out / "summary.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2, default=json_default),
        encoding="utf-8",
    )
    files["summary"] = out / "summary.json"
    tables = {}
    for level in by:
        table = result.by_admin(level)
        csv_frame(table).to_csv(out / f"by_{level}.csv", index=False, encoding="utf-8-sig")
        files[f"by_{level}"] = out / f"by_{level}.csv"
        tables[level] = table
    _coverage_workbook(result, summary, tables, lang).save(out / "coverage.xlsx")
    files["xlsx"] = out / "coverage.xlsx"
    for name, gdf in (("gaps", result.gaps()), ("service_areas", result.service_areas())):
        (out / f"{name}.geojson").write_text(gdf.to_json(drop_id=True), encoding="utf-8")
        files[name] = out / f"{name}.geojson"
    cells = _cells_export(result)
    cells.to_file(out / "cells.gpkg", layer="cells", driver="GPKG", engine="pyogrio")
    files["cells"] = out / "cells.gpkg"
    result.to_folium(map_approval=map_approval, icp=icp, lang=lang).save(str(out / "map.html"))
    files["map"] = out / "map.html"
    return files


def _coverage_workbook(result, summary: dict, tables: dict, lang: str):
    """coverage.xlsx: 说明 (notes), 汇总 (per threshold), then one sheet per table level."""
    from openpyxl import Workbook

    en = lang == "en"
    names = SHEETS["en" if en else "zh"]
    headers = _headers(lang)
    wb = Workbook()
    wb.remove(wb.worksheets[0])
    sheet = pd.DataFrame(summary["thresholds"])
    sheet["units_placed"] = summary["units_placed"]
    sheet["units_unplaced"] = summary["units_unplaced"]
    sheet["demand_unplaced"] = summary["demand_unplaced"]
    sheet["headline"] = [summary["headline"] if t == sheet.index[-1] else "" for t in sheet.index]
    write_table(wb, names["summary"], sheet, headers, COLUMN_FORMATS)
    for level, table in tables.items():
        write_table(wb, names.get(level, level), table, headers, COLUMN_FORMATS)
    record = result.record
    minutes = "、".join(f"{m:g}" for m in record.get("max_minutes", []))
    kinds = ", ".join(kind_text(k, lang) for k in record.get("kinds", []))
    parameters = (
        [
            f"kinds: {kinds}",
            f"thresholds: {minutes.replace('、', ', ')} min",
            f"times computed up to {record.get('minutes_cap', 0):g} min",
        ]
        if en
        else [
            f"站点类型：{kinds}",
            f"时间阈值：{minutes} 分钟",
            f"计算上限：{record.get('minutes_cap', 0):g} 分钟",
        ]
    )
    write_notes(
        wb,
        names["notes"],
        report_notes(
            result,
            lang,
            parameters,
            int(summary["units_unplaced"]),
            "coverage: share of demand within reach of a station"
            if en
            else "服务覆盖：多少需求在站点的可达时间内",
        ),
        (headers["item"], "Text" if en else "内容"),
    )
    neutralise_workbook(wb)
    return wb


def _cells_export(result) -> gpd.GeoDataFrame:
    """The cells as exported: ``minutes`` empty beyond the cap, ``beyond_cap`` flags those
    and ``minutes_text`` says ``> N 分钟`` for them."""
    cells = result.cells.copy()
    cap = result.cap_minutes
    cells["beyond_cap"] = result.beyond_cap()
    cells["minutes_text"] = [
        "" if u else minutes_text(m, cap)
        for m, u in zip(cells["minutes"], cells["unsnapped"], strict=True)
    ]
    cells["minutes"] = cells["minutes"].replace(np.inf, np.nan)
    return cells


def travel_time_histogram(result, bins: int = HIST_BINS) -> tuple[np.ndarray, np.ndarray, float]:
    """Demand by travel time: ``bins`` bars from 0 to the minutes cap and the demand beyond.

    Returns ``(edges, demand per bar, demand beyond the cap)``; cells off the road network
    (``unsnapped``) are in neither.
    """
    cap = result.cap_minutes
    minutes = result.cells["minutes"].to_numpy(dtype=float)
    weights = result.cells["demand"].to_numpy(dtype=float)
    edges = np.linspace(0.0, cap, bins + 1)
    finite = np.isfinite(minutes)
    counts, _ = np.histogram(minutes[finite], bins=edges, weights=weights[finite])
    return edges, counts, float(weights[result.beyond_cap()].sum())


def write_layers(result, out_dir: str | Path) -> dict[str, Path]:
    """The map layers the planner pages draw: cells (minutes, demand), gaps, stations.

    Writes ``layer_<name>.geojson`` (coordinates to 1e-5°) and returns the files by layer
    name.
    """
    import shapely

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cells = result.cells[["cell_id", "demand", "minutes", "geometry"]].copy()
    cells["minutes"] = cells["minutes"].replace(np.inf, np.nan).round(1)
    cells["beyond_cap"] = result.beyond_cap()
    cells["geometry"] = shapely.set_precision(cells.geometry.to_numpy(), 1e-5)
    layers = {
        "cells": cells,
        "gaps": result.gaps(),
        "stations": result.stations[["id", "name", "kind", "geometry"]],
    }
    names = {}
    for name, gdf in layers.items():
        path = out / f"layer_{name}.geojson"
        path.write_text(gdf.to_json(drop_id=True, na="null"), encoding="utf-8")
        names[name] = path
    return names


def chosen_sites(plan, candidates: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The chosen candidates in the plan's order, with rank, marginal gain and costs."""
    rows = candidates.iloc[list(plan.chosen)].copy()
    rows.insert(0, "rank", range(1, len(rows) + 1))
    rows["gain"] = list(plan.gains)
    total = plan.total_weight or 1.0
    rows["share_after"] = (plan.covered_before + np.cumsum(rows["gain"])) / total
    return rows.reset_index(drop=True)


def compare_coverage(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """By-admin table before and after a plan; units without a position (``state``
    位置未知, ``units_unplaced``) stay listed: the plan cannot count them."""
    merged = before[
        ["code", "name", "demand", "covered", "share", "mean_minutes", "units_placed"]
    ].merge(
        after[
            [
                "code",
                "state",
                "covered",
                "share",
                "mean_minutes",
                "nearest_station",
                "units_unplaced",
                "demand_unplaced",
            ]
        ],
        on="code",
        suffixes=("_before", "_after"),
    )
    merged["gain"] = merged["covered_after"] - merged["covered_before"]
    return merged


def _plan_workbook(plan, sites, before, after, record: dict, lang: str):
    """plan.xlsx: 说明 (notes), 汇总 (the plan's figures), by county and township before and
    after, and the chosen sites in the order added."""
    from openpyxl import Workbook

    en = lang == "en"
    names = SHEETS["en" if en else "zh"]
    headers = _headers(lang)
    unplaced = after.unplaced_units()
    rows: list[tuple[str, str, object, str | None]] = [
        ("problem", "规划问题", plan.problem, None),
        ("solver", "求解方法", plan.solver, None),
        ("status", "求解状态", plan.status, None),
        ("sites added", "新增站点数", len(plan.chosen), COUNT),
        ("share before", "规划前覆盖率", plan.share_before, PERCENT),
        ("share after", "规划后覆盖率", plan.share_after, PERCENT),
        ("headline (after)", "结论（规划后）", after.summary()["headline"], None),
        ("units placed", "已定位单元数", len(after.cells), COUNT),
        ("units without position (位置未知)", "位置未知单元数", len(unplaced), COUNT),
        ("demand without position", "位置未知需求", float(unplaced["demand"].sum()), COUNT),
        ("proven bound (demand)", "可证明的覆盖上限（需求）", plan.bound, COUNT),
        ("optimality gap", "与上限的差距", plan.gap, PERCENT),
        ("cost (one-off, yuan)", "一次性费用（元）", float(np.nansum(sites["cost"])), COUNT),
        ("yearly cost (yuan)", "年费用（元）", float(np.nansum(sites["yearly_cost"])), COUNT),
        (
            "travel model",
            "出行模型",
            model_text(before.record.get("model", {}), lang),
            None,
        ),
        *(("note", "备注", m, None) for m in plan.messages),
    ]
    frame = pd.DataFrame(
        {"item": [r[0] if en else r[1] for r in rows], "value": [r[2] for r in rows]}
    )
    wb = Workbook()
    wb.remove(wb.worksheets[0])
    ws = write_table(wb, names["summary"], frame, headers)
    for i, (*_, fmt) in enumerate(rows, start=2):
        cell = ws.cell(row=i, column=2)
        if fmt and isinstance(cell.value, int | float):
            cell.number_format = fmt
    ws.column_dimensions["B"].width = 60
    for level in ("county", "township"):
        table = compare_coverage(before.by_admin(level), after.by_admin(level))
        write_table(wb, names[level], table, headers, COLUMN_FORMATS)
    write_table(wb, names["chosen_sites"], sites.drop(columns="geometry"), headers, COLUMN_FORMATS)
    params = record.get("params", {})
    kind = kind_text(params.get("kind", ""), lang)
    parameters = (
        [
            f"kind: {kind}",
            f"threshold: {after.max_minutes:g} min",
            f"sites to add: {len(plan.chosen)}",
            f"candidates: {params.get('candidate_source', '')}",
        ]
        if en
        else [
            f"站点类型：{kind}",
            f"时间阈值：{after.max_minutes:g} 分钟",
            f"新增站点：{len(plan.chosen)} 个",
            f"候选点：{params.get('candidate_source', '')}",
        ]
    )
    write_notes(
        wb,
        names["notes"],
        report_notes(
            after,
            lang,
            parameters,
            len(unplaced),
            "plan: where to add stations" if en else "选址规划：在哪里新增站点",
        ),
        (headers["item"], "Text" if en else "内容"),
    )
    neutralise_workbook(wb)
    return wb


#: The CJK font the charts are set in: Noto Sans CJK SC (SIL Open Font License 1.1), shipped
#: by the ``noto-cjk-sans-otc`` package the project depends on, so no machine shows boxes.
CJK_FAMILY = "Noto Sans CJK SC"
#: Chart colours, named in each chart's legend: before, after, beyond the minutes cap.
BEFORE_COLOUR, AFTER_COLOUR, CURVE_COLOUR = "#9ecae1", "#08519c", "#08519c"


def register_cjk_font() -> str:
    """Register the bundled Noto Sans CJK with matplotlib's font manager (once); return the
    family name (:data:`CJK_FAMILY`) to put first in ``font.family``."""
    from matplotlib import font_manager

    if not any(f.name == CJK_FAMILY for f in font_manager.fontManager.ttflist):
        from noto_cjk_sans_otc import FONT_PATH

        font_manager.fontManager.addfont(str(FONT_PATH))
    return CJK_FAMILY


def chart_style() -> dict:
    """rcParams of the report charts: the CJK font first, DejaVu Sans for other glyphs."""
    return {"font.family": [register_cjk_font(), "DejaVu Sans"], "axes.unicode_minus": False}


def region_name(code: str) -> str:
    """The region's name as a title says it (``融水苗族自治县``), or the code."""
    from geo.gazetteer import default_gazetteer

    division = default_gazetteer().get(code) if code else None
    return division.name if division else code


def coverage_curve_figure(plan, sites, after, region: str, lang: str = "zh"):
    """The coverage curve: share of demand covered against sites added, in the plan's order.

    Returns ``(figure, title)``; shares on a percent axis, every point labelled.
    """
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    en = lang == "en"
    total = plan.total_weight or 1.0
    shares = [plan.covered_before / total, *sites["share_after"]]
    minutes = f"{after.max_minutes:g}"
    title = (
        f"{region}: share covered within {minutes} min as sites are added"
        if en
        else f"{region}：新增站点后 {minutes} 分钟内的覆盖率"
    )
    with plt.rc_context(chart_style()):
        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
        label = f"share covered (≤ {minutes} min)" if en else f"覆盖率（{minutes} 分钟内）"
        ax.plot(range(len(shares)), shares, marker="o", ms=4, color=CURVE_COLOUR, label=label)
        for x, y in enumerate(shares):
            ax.annotate(f"{y:.0%}", (x, y), textcoords="offset points", xytext=(0, 6), ha="center")
        ax.set_title(title)
        ax.set_xlabel("sites added, in the order chosen" if en else "新增站点数（按加入顺序）")
        ax.set_ylabel("share of placed demand" if en else "已定位需求的覆盖率")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.set_ylim(0, 1.08)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
        fig.tight_layout()
    return fig, title


def travel_time_figure(before, after, region: str, lang: str = "zh"):
    """Demand by travel time to the nearest station, before and after the plan.

    Bars side by side (before left, after right in each bin, never overlapping), the last
    pair hatched for "beyond the minutes cap", the threshold as a dashed line; every colour
    is in the legend. Returns ``(figure, title)``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    en = lang == "en"
    cap = after.cap_minutes
    title = (
        f"{region}: travel time to the nearest station, before and after"
        if en
        else f"{region}：到最近站点的出行时间（规划前后）"
    )
    with plt.rc_context(chart_style()):
        fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
        width = cap / HIST_BINS
        for i, (result, label, colour) in enumerate(
            (
                (before, "before" if en else "规划前", BEFORE_COLOUR),
                (after, "after" if en else "规划后", AFTER_COLOUR),
            )
        ):
            edges, counts, beyond = travel_time_histogram(result)
            lefts = edges[:-1] + i * width / 2
            ax.bar(lefts, counts, width=width / 2, align="edge", color=colour, label=label)
            ax.bar(
                [cap + width + i * width / 2],
                [beyond],
                width=width / 2,
                align="edge",
                color=colour,
                hatch="//",
                edgecolor="#333333",
                linewidth=0.5,
            )
        ticks = [*np.linspace(0.0, cap, 5), cap + 1.5 * width]
        ax.set_xticks(ticks, [*(f"{t:g}" for t in ticks[:-1]), f"> {cap:g}"])
        ax.axvline(
            after.max_minutes,
            color="#b2182b",
            lw=1.2,
            ls="--",
            label=(
                f"threshold {after.max_minutes:g} min"
                if en
                else f"时间阈值 {after.max_minutes:g} 分钟"
            ),
        )
        handles, _ = ax.get_legend_handles_labels()
        handles.append(
            Patch(
                facecolor="white",
                hatch="//",
                edgecolor="#333333",
                label=(
                    f"beyond {cap:g} min (not computed further)"
                    if en
                    else f"超过 {cap:g} 分钟（计算上限）"
                ),
            )
        )
        ax.legend(handles=handles)
        ax.set_title(title)
        ax.set_xlabel("minutes to the nearest station" if en else "到最近站点的时间（分钟）")
        ax.set_ylabel("demand" if en else "需求")
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
    return fig, title


def plan_report(
    plan,
    candidates: gpd.GeoDataFrame,
    before,
    after,
    out_dir: str | Path,
    record: dict | None = None,
    lang: str = "zh",
    map_approval: str = "",
    icp: str = "",
) -> dict[str, Path]:
    """Write the report folder (see the module docstring); return the files by name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    sites = chosen_sites(plan, candidates)
    doc = {
        "plan": plan.to_dict(),
        **(record or {}),
        "coverage_before": before.summary(),
        "coverage_after": after.summary(),
        "chosen_sites": json.loads(
            sites.drop(columns="geometry").to_json(orient="records", force_ascii=False)
        ),
    }
    (out / "plan.json").write_text(
        json.dumps(doc, ensure_ascii=False, indent=2, default=json_default), encoding="utf-8"
    )
    files["json"] = out / "plan.json"

    _plan_workbook(plan, sites, before, after, record or {}, lang).save(out / "plan.xlsx")
    files["xlsx"] = out / "plan.xlsx"

    (out / "chosen_sites.geojson").write_text(sites.to_json(drop_id=True), encoding="utf-8")
    files["geojson"] = out / "chosen_sites.geojson"
    sites.to_file(out / "chosen_sites.gpkg", layer="chosen_sites", driver="GPKG", engine="pyogrio")
    files["gpkg"] = out / "chosen_sites.gpkg"

    import folium

    chosen_name = "New sites (★ order added)" if lang == "en" else "新增站点（★ 序号为加入顺序）"
    chosen = folium.FeatureGroup(name=chosen_name)
    lats, lons = sites["lat"].to_numpy(dtype=float), sites["lon"].to_numpy(dtype=float)
    for row, lat, lon in zip(sites.itertuples(), lats, lons, strict=True):
        folium.Marker(
            [float(lat), float(lon)],
            tooltip=folium.Tooltip(html_text(f"#{row.rank} {row.name} (+{row.gain:g})")),
            icon=folium.DivIcon(
                html=f"<b style='color:#b2182b;font-size:16px'>★{html_text(row.rank)}</b>",
                icon_size=(32, 18),
                icon_anchor=(6, 10),
            ),
        ).add_to(chosen)
    m = after.to_folium(
        legend_extra=[(STAR_SWATCH, chosen_name)],
        extra_layers=[chosen],
        map_approval=map_approval,
        icp=icp,
        lang=lang,
    )
    m.save(str(out / "map.html"))
    files["map"] = out / "map.html"

    region = region_name(str(after.record.get("region", "")))
    fig, _ = coverage_curve_figure(plan, sites, after, region, lang)
    fig.savefig(out / "coverage_curve.png")
    plt.close(fig)
    files["curve"] = out / "coverage_curve.png"

    fig, _ = travel_time_figure(before, after, region, lang)
    fig.savefig(out / "travel_time_hist.png")
    plt.close(fig)
    files["hist"] = out / "travel_time_hist.png"
    return files
