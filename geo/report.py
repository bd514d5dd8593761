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
from geo.maps import html_text
from geo.spreadsheet import csv_frame, neutralise_workbook

#: Legend swatch of a chosen site: a red star (CSS clip-path).
STAR_SWATCH = (
    "background:#b2182b;clip-path:polygon(50% 0,61% 35%,98% 35%,68% 57%,79% 91%,"
    "50% 70%,21% 91%,32% 57%,2% 35%,39% 35%)"
)

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
    with pd.ExcelWriter(out / "coverage.xlsx") as xl:
        sheet = pd.DataFrame(summary["thresholds"])
        sheet["units_placed"] = summary["units_placed"]
        sheet["units_unplaced"] = summary["units_unplaced"]
        sheet["demand_unplaced"] = summary["demand_unplaced"]
        sheet["headline"] = [
            summary["headline"] if t == sheet.index[-1] else "" for t in sheet.index
        ]
        sheet.to_excel(xl, sheet_name="summary", index=False)
        for level, table in tables.items():
            table.to_excel(xl, sheet_name=f"by_{level}", index=False)
        neutralise_workbook(xl.book)
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


def _compare(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
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
    import matplotlib.ticker

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

    summary = pd.DataFrame(
        [
            {"item": "problem", "value": plan.problem},
            {"item": "solver", "value": plan.solver},
            {"item": "status", "value": plan.status},
            {"item": "sites added", "value": len(plan.chosen)},
            {"item": "share before", "value": plan.share_before},
            {"item": "share after", "value": plan.share_after},
            {"item": "headline (after)", "value": after.summary()["headline"]},
            {"item": "units placed", "value": len(after.cells)},
            {"item": "units without position (位置未知)", "value": len(after.unplaced_units())},
            {
                "item": "demand without position",
                "value": float(after.unplaced_units()["demand"].sum()),
            },
            {"item": "proven bound", "value": plan.bound},
            {"item": "optimality gap", "value": plan.gap},
            {"item": "cost (one-off, yuan)", "value": float(np.nansum(sites["cost"]))},
            {"item": "yearly cost (yuan)", "value": float(np.nansum(sites["yearly_cost"]))},
            {
                "item": "travel model",
                "value": str(
                    before.record.get("model", {}).get("label")
                    or before.record.get("model", {}).get("model")
                ),
            },
            *({"item": "note", "value": m} for m in plan.messages),
        ]
    )
    with pd.ExcelWriter(out / "plan.xlsx") as xl:
        summary.to_excel(xl, sheet_name="summary", index=False)
        for level in ("county", "township"):
            _compare(before.by_admin(level), after.by_admin(level)).to_excel(
                xl, sheet_name=f"by_{level}", index=False
            )
        sites.drop(columns="geometry").to_excel(xl, sheet_name="chosen_sites", index=False)
        neutralise_workbook(xl.book)
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

    total = plan.total_weight or 1.0
    shares = [plan.covered_before / total, *sites["share_after"]]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot(range(len(shares)), shares, marker="o", ms=3)
    ax.set_xlabel("sites added")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylabel(f"share covered (≤ {after.max_minutes:g} min)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "coverage_curve.png")
    plt.close(fig)
    files["curve"] = out / "coverage_curve.png"

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    cap = after.cap_minutes
    for result, label in ((before, "before"), (after, "after")):
        edges, counts, beyond = travel_time_histogram(result)
        width = edges[1] - edges[0]
        ax.bar(edges[:-1], counts, width=width, align="edge", alpha=0.5, label=label)
        ax.bar([cap + width], [beyond], width=width, align="edge", alpha=0.5, color="grey")
    ticks = [*np.linspace(0.0, cap, 5), cap + 1.5 * width]
    ax.set_xticks(ticks, [*(f"{t:g}" for t in ticks[:-1]), f"> {cap:g}"])
    ax.axvline(after.max_minutes, color="k", lw=1)
    ax.set_xlabel(f"minutes to the nearest station (computed up to {cap:g}; last bar > {cap:g})")
    ax.set_ylabel("demand")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "travel_time_hist.png")
    plt.close(fig)
    files["hist"] = out / "travel_time_hist.png"
    return files
