"""The one-hour service circle: travel time to the nearest station, shares, gaps, service areas.

For every demand cell ``x`` and the stations of the chosen kinds,
``T(x) = min_s t(x, s)`` under a travel model (:mod:`geo.travel`); a cell is covered at
threshold ``m`` when ``T(x) ≤ m``. :func:`compute_coverage` runs one model once and evaluates
every threshold from the same times. Minutes are computed up to a stated cap beyond the
thresholds (``minutes_cap``, default :data:`MINUTES_CAP_FACTOR` × the largest threshold), so a
unit beyond the threshold still has its minutes; beyond the cap it reads "> cap"
(:func:`minutes_text`). Only stations within the model's reach (at the cap) of the demand
cells' bounds are used (:func:`stations_within_reach`, the halo); the result and its map
hold only those. The :class:`CoverageResult` gives the share of demand
covered, tables by county and township, gap polygons (uncovered cells dissolved, with their
demand), per-station service areas (the cells each station is nearest to within the
threshold) and a folium map; :meth:`CoverageResult.covered` says which cells are covered
within a threshold (the one way planning and candidates ask). Every result records the model,
mode, speeds, thresholds and inputs that produced it. Result folders are written by
:mod:`geo.report`.

:func:`compute_coverage_partitioned` runs the same computation on Dask, one partition per
county (or province) with the stations within the model's maximum reach of it (the halo), and
gives exactly the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import distance_m
from geo.errors import ValidationError
from geo.models import Station
from geo.travel.base import NearestTimes, TravelModel

#: Default cap on computed minutes, as a multiple of the largest threshold.
MINUTES_CAP_FACTOR = 4.0


@dataclass
class CoverageResult:
    """Travel times of every demand cell and what follows from them.

    Attributes
    ----------
    cells
        The demand cells (``cell_id, lon, lat, demand, county_code, township_code,
        geometry``) plus ``minutes`` (to the nearest station; ``inf`` if none within
        ``minutes_cap``), ``station_id``, ``unsnapped`` and ``covered_<m>`` per threshold.
    stations
        The stations used: those within the model's reach of the demand (``id, name, kind,
        lon, lat, geometry``).
    thresholds
        The thresholds in minutes, ascending.
    record
        What produced the result: model description, thresholds, minutes cap, kinds,
        region, demand source and unit, counts and warnings.
    minutes_cap
        Minutes are computed up to this many (≥ the largest threshold); ``None``: the
        largest threshold.
    unplaced
        Demand units without a position (``Demand.unplaced``): neither covered nor
        uncovered. Tables and the summary count them as their own state (位置未知); shares
        are over the placed demand.
    """

    cells: gpd.GeoDataFrame
    stations: gpd.GeoDataFrame
    thresholds: list[float]
    record: dict = field(default_factory=dict)
    unplaced: pd.DataFrame | None = None

    def unplaced_units(self) -> pd.DataFrame:
        """The units without a position (an empty table when there are none)."""
        if self.unplaced is None:
            from geo.demand.base import empty_unplaced

            return empty_unplaced()
        return self.unplaced

    minutes_cap: float | None = None

    @property
    def max_minutes(self) -> float:
        return self.thresholds[-1]

    @property
    def cap_minutes(self) -> float:
        """The minutes cap in effect (the largest threshold when none was set)."""
        return self.max_minutes if self.minutes_cap is None else float(self.minutes_cap)

    def beyond_cap(self) -> np.ndarray:
        """Whether each cell's nearest station is farther than :attr:`cap_minutes` (cells
        off the road network, ``unsnapped``, are not counted here)."""
        c = self.cells
        return ~np.isfinite(c["minutes"].to_numpy(dtype=float)) & ~c["unsnapped"].to_numpy(
            dtype=bool
        )

    def _col(self, threshold: float | None) -> str:
        t = self.max_minutes if threshold is None else float(threshold)
        if t not in self.thresholds:
            raise ValidationError(
                f"threshold {t:g} was not computed; have "
                f"{', '.join(f'{x:g}' for x in self.thresholds)}",
                field="threshold",
            )
        return covered_column(t)

    def covered(self, max_minutes: float | None = None) -> np.ndarray:
        """Whether each cell (in ``cells`` order) is covered within ``max_minutes``.

        ``max_minutes`` must be one of the computed thresholds (default: the largest). This is
        the one way to ask; the ``covered_<m>`` columns are an export format.

        Raises
        ------
        ValidationError
            If the threshold was not computed.
        """
        return self.cells[self._col(max_minutes)].to_numpy(dtype=bool)

    def summary(self) -> dict:
        """Totals per threshold, with the record of how they were produced.

        Shares are over the placed demand; ``units_unplaced`` / ``demand_unplaced`` count
        the units without a position (unknown, neither covered nor uncovered) and
        ``headline`` states both in one sentence (Chinese), e.g. "覆盖 55/82 个已定位乡镇；
        另有 36 个乡镇位置未知".
        """
        c = self.cells
        total = float(c["demand"].sum())
        unplaced = self.unplaced_units()
        finite = c.loc[np.isfinite(c["minutes"])]
        shares = []
        for t in self.thresholds:
            mask = self.covered(t)
            covered = float(c.loc[mask, "demand"].sum())
            shares.append(
                {
                    "max_minutes": t,
                    "demand": total,
                    "covered": covered,
                    "share": covered / total if total > 0 else None,
                    "units_covered": int(mask.sum()),
                }
            )
        counts = {
            "units": len(c) + len(unplaced),
            "units_placed": len(c),
            "units_unplaced": len(unplaced),
            "demand_placed": total,
            "demand_unplaced": float(unplaced["demand"].sum()),
        }
        return {
            **self.record,
            "minutes_cap": self.cap_minutes,
            "beyond_cap_demand": float(c.loc[self.beyond_cap(), "demand"].sum()),
            "cells": len(c),
            "stations": len(self.stations),
            "unsnapped_cells": int(c["unsnapped"].sum()),
            "mean_minutes_reached": float(np.average(finite["minutes"], weights=finite["demand"]))
            if len(finite) and finite["demand"].sum() > 0
            else None,
            **counts,
            "headline": _headline(
                shares[-1], counts, self.record.get("demand_unit", ""), c.attrs.get("cells", "")
            ),
            "thresholds": shares,
        }

    def by_admin(self, level: str = "county", threshold: float | None = None) -> pd.DataFrame:
        """Demand, covered demand, share, mean and 90th-percentile minutes per admin unit.

        ``demand``, ``covered`` and ``share`` are over the unit's placed demand;
        ``units_placed``, ``units_covered``, ``units_unplaced`` and ``demand_unplaced`` count
        its demand units (cells, points or seats) and those without a position. ``state`` is
        位置未知 for a unit with nothing placed (its share is unknown, not 0), else 已覆盖,
        部分覆盖 or 未覆盖. ``nearest_station`` is the station serving the most demand of the
        unit. Travel-time statistics are demand-weighted over the unit's cells that reach a
        station within the minutes cap (``reached_share`` says how much of the demand that
        is); ``beyond_cap_share`` is the share of demand farther than the cap, and
        ``minutes_text`` the mean minutes as text, ``> N 分钟`` when nothing of the unit is
        within the cap.
        """
        from geo.gazetteer import default_gazetteer

        key = {"county": "county_code", "township": "township_code"}.get(level)
        if key is None:
            raise ValidationError("level must be county or township", field="by")
        covered_mask = pd.Series(self.covered(threshold), index=self.cells.index)
        beyond_mask = pd.Series(self.beyond_cap(), index=self.cells.index)
        names = {s.id: s.name for s in self._station_rows()}
        unplaced = self.unplaced_units()
        lost = {str(k): part for k, part in unplaced.groupby(key, sort=True)}
        groups = {str(k): part for k, part in self.cells.groupby(key, sort=True)}
        g = default_gazetteer()
        rows = []
        for code in sorted(set(groups) | set(lost)):
            part = groups.get(code, self.cells.iloc[:0])
            missing = lost.get(code, unplaced.iloc[:0])
            demand = float(part["demand"].sum())
            covered = float(part.loc[covered_mask[part.index], "demand"].sum())
            reached = part.loc[np.isfinite(part["minutes"]) & (part["demand"] > 0)]
            w = reached["demand"].to_numpy()
            m = reached["minutes"].to_numpy()
            mean = float(np.average(m, weights=w)) if w.sum() > 0 else None
            p90 = _weighted_quantile(m, w, 0.9) if w.sum() > 0 else None
            served = reached.groupby("station_id")["demand"].sum()
            top = served.idxmax() if len(served) else None
            unit = g.get(str(code)) if code else None
            n_covered = int(covered_mask[part.index].sum())
            if len(part) == 0:
                state = UNPLACED_STATE
            elif n_covered == len(part):
                state = "已覆盖"
            elif n_covered == 0:
                state = "未覆盖"
            else:
                state = "部分覆盖"
            name = unit.name if unit else ""
            if not name and len(missing):
                name = str(missing["name"].iat[0]) if level == "township" else ""
            beyond = float(part.loc[beyond_mask[part.index], "demand"].sum())
            rows.append(
                {
                    "code": code,
                    "name": name,
                    "state": state,
                    "demand": demand,
                    "covered": covered,
                    "share": covered / demand if demand > 0 else None,
                    "units_placed": len(part),
                    "units_covered": n_covered,
                    "units_unplaced": len(missing),
                    "demand_unplaced": float(missing["demand"].sum()),
                    "reached_share": float(w.sum()) / demand if demand > 0 else None,
                    "mean_minutes": mean,
                    "p90_minutes": p90,
                    "beyond_cap_share": beyond / demand if demand > 0 else None,
                    "minutes_text": minutes_text(
                        np.inf if mean is None and beyond > 0 else mean, self.cap_minutes
                    ),
                    "nearest_station": names.get(top, "") if top else "",
                    "nearest_station_id": top or "",
                }
            )
        return pd.DataFrame(rows, columns=BY_ADMIN_COLUMNS)

    def gaps(self, threshold: float | None = None) -> gpd.GeoDataFrame:
        """Uncovered cells dissolved into contiguous gap polygons, with their demand.

        Point demand (factories, seats) has no area: each uncovered point is its own gap.
        """
        open_cells = self.cells.loc[~self.covered(threshold)]
        if open_cells.empty:
            return gpd.GeoDataFrame(
                {"demand": [], "cells": [], "county_code": []}, geometry=[], crs="EPSG:4326"
            )
        polys = open_cells.loc[open_cells.geom_type.isin(["Polygon", "MultiPolygon"])]
        points = open_cells.loc[~open_cells.index.isin(polys.index)]
        parts = []
        if len(polys):
            merged = _dissolve(polys.geometry.to_numpy())
            pieces = gpd.GeoDataFrame(
                geometry=list(getattr(merged, "geoms", [merged])), crs="EPSG:4326"
            )
            # Each cell goes to the gap piece containing its representative point. The pieces
            # are the query geometries so that GEOS prepares each (large) piece once.
            tree = shapely.STRtree(np.asarray(shapely.points(polys["lon"], polys["lat"])))
            idx_piece, idx_cell = tree.query(pieces.geometry.to_numpy(), predicate="contains")
            demand = np.bincount(
                idx_piece, weights=polys["demand"].to_numpy()[idx_cell], minlength=len(pieces)
            )
            count = np.bincount(idx_piece, minlength=len(pieces))
            county = (polys["county_code"].to_numpy()[idx_cell], idx_piece)
            main_county = (
                pd.Series(county[0])
                .groupby(county[1])
                .agg(lambda s: str(s.mode().iat[0]) if len(s) else "")
            )
            pieces["demand"] = demand
            pieces["cells"] = count
            pieces["county_code"] = main_county.reindex(range(len(pieces))).fillna("").values
            parts.append(pieces)
        if len(points):
            parts.append(
                gpd.GeoDataFrame(
                    {
                        "demand": points["demand"].to_numpy(),
                        "cells": 1,
                        "county_code": points["county_code"],
                    },
                    geometry=points.geometry.to_numpy(),
                    crs="EPSG:4326",
                )
            )
        out = pd.concat(parts, ignore_index=True)
        return gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326").sort_values(
            "demand", ascending=False, ignore_index=True
        )

    def service_areas(self, threshold: float | None = None) -> gpd.GeoDataFrame:
        """Per station, the cells it is nearest to within the threshold, dissolved
        (an isochrone clipped to the station's catchment), with the demand it serves."""
        served = self.cells.loc[self.covered(threshold) & (self.cells["station_id"] != "")]
        # Group by sorting once (numpy), not a pandas groupby building a frame per station:
        # each station's cells are one slice, its demand one reduceat.
        ids = served["station_id"].to_numpy(dtype=object)
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        geoms = served.geometry.to_numpy()[order]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.zeros(0, int)
        ends = np.r_[starts[1:], len(ids)][: len(starts)]
        demand = served["demand"].to_numpy(dtype=float)[order]
        rows = {
            "station_id": ids[starts].tolist(),
            "demand": np.add.reduceat(demand, starts).tolist() if len(starts) else [],
            "cells": (ends - starts).tolist(),
            "geometry": [_dissolve(geoms[a:b]) for a, b in zip(starts, ends, strict=True)],
        }
        names = {s.id: (s.name, s.kind) for s in self._station_rows()}
        gdf = gpd.GeoDataFrame(
            rows,
            geometry="geometry",
            crs="EPSG:4326",
        )
        gdf["name"] = [names.get(s, ("", ""))[0] for s in gdf["station_id"]]
        gdf["kind"] = [names.get(s, ("", ""))[1] for s in gdf["station_id"]]
        return gdf

    def _station_rows(self):
        return self.stations.itertuples(index=False)

    def to_folium(
        self,
        threshold: float | None = None,
        tiles: str | None = None,
        legend_extra: list[tuple[str, str]] | None = None,
        extra_layers: list | None = None,
        map_approval: str = "",
        icp: str = "",
        lang: str = "zh",
    ):
        """A folium map: cells coloured by travel-time band, gaps outlined, stations marked.

        Offline and self-contained (see :mod:`geo.maps`): the county outlines around the
        cells are the basemap (``tiles`` adds a tiled one), a layer control lists the layers,
        a legend names every colour (bands with their minute ranges, beyond, gaps,
        stations, plus ``legend_extra`` entries ``(swatch CSS, label)``; ``extra_layers``
        are folium layers added before the layer control so it lists them), and the
        attribution states the data sources, ``map_approval`` (审图号) and ``icp`` when
        given. Every text from the registry or the record is escaped
        (:func:`geo.maps.html_text`). ``lang`` is ``"zh"`` or ``"en"``.
        """
        import folium

        from geo.maps import (
            GeoJsonData,
            add_attribution,
            add_legend,
            attribution_html,
            band_colour,
            frame_geojson_bytes,
            html_text,
            offline_map,
            outlines_layer,
        )

        en = lang == "en"
        c = self.cells
        bands = (
            self.thresholds
            if len(self.thresholds) > 1
            else [self.max_minutes * f for f in (0.25, 0.5, 0.75, 1.0)]
        )
        west, south, east, north = (float(v) for v in c.total_bounds)
        m = offline_map(((south + north) / 2, (west + east) / 2), 9, tiles=tiles)
        outlines_layer(
            (west, south, east, north), name="County outlines" if en else "县界（离线底图）"
        ).add_to(m)
        colours = [band_colour(x, bands) for x in c["minutes"]]
        shown = c[["cell_id", "demand", "minutes", "geometry"]].copy()
        shown["minutes"] = [minutes_text(x, self.cap_minutes) for x in shown["minutes"]]
        shown["colour"] = colours
        # The cells' GeoJSON written once, straight into the page (folium.GeoJson re-encoded
        # it, built a per-cell style table and compiled it all as a template: most of a
        # provincial map's time).
        GeoJsonData(
            frame_geojson_bytes(shown, ["cell_id", "demand", "minutes", "colour"]),
            name="Travel time (minutes)" if en else "出行时间（分钟）",
            style_js="var c = feature.properties.colour; return {fillColor: c, color: c, "
            "weight: 0.3, fill: true, "
            "fillOpacity: feature.geometry.type === 'Point' ? 0.9 : 0.55};",
            # point demand (township seats, demand points) as coloured dots, not pins
            point_radius=7,
            tooltip=[("minutes", "minutes"), ("demand", "demand")]
            if en
            else [("minutes", "分钟"), ("demand", "需求")],
        ).add_to(m)
        gaps = self.gaps(threshold)
        gap_name = "Gaps (not served)" if en else "服务空白"
        if len(gaps):
            folium.GeoJson(
                gaps.to_json(),
                name=gap_name,
                style_function=lambda f: {"color": "#7b0000", "weight": 2, "fillOpacity": 0},
                marker=folium.CircleMarker(radius=11, fill=False),
            ).add_to(m)
        station_name = "Stations" if en else "现有站点"
        # One GeoJSON layer for every station (a folium element per station compiled a
        # template each: most of a provincial run's export time).
        rows = list(self._station_rows())
        if rows:
            stations = gpd.GeoDataFrame(
                {"name": [html_text(s.name) for s in rows]},
                geometry=gpd.points_from_xy(
                    [float(s.lon) for s in rows], [float(s.lat) for s in rows]
                ),
                crs="EPSG:4326",
            )
            GeoJsonData(
                frame_geojson_bytes(stations, ["name"]),
                name=station_name,
                style_js="return {color: '#08306b', fillColor: '#08306b', fill: true, "
                "fillOpacity: 0.9};",
                point_radius=5,
                tooltip=[("name", "")],
                tooltip_escaped=True,
            ).add_to(m)
        else:
            folium.FeatureGroup(name=station_name).add_to(m)
        for layer in extra_layers or []:
            layer.add_to(m)
        m.fit_bounds([[south, west], [north, east]])
        label = self.record.get("model", {}).get(
            "label", self.record.get("model", {}).get("model", "")
        )
        unit = "min" if en else "分钟"
        entries = []
        low = 0.0
        for b in bands:
            entries.append((f"background:{band_colour(b, bands)}", f"{low:g}–{b:g} {unit}"))
            low = b
        entries.append(
            (
                "background:#bdbdbd",
                f"> {bands[-1]:g} {unit} (computed up to {self.cap_minutes:g})"
                if en
                else f"超过 {bands[-1]:g} {unit}（计算至 {self.cap_minutes:g} 分钟）",
            )
        )
        entries.append(("border:2px solid #7b0000", gap_name))
        entries.append(("background:#08306b;border-radius:50%", station_name))
        entries.extend(legend_extra or [])
        title = "Travel time to the nearest station" if en else "到最近站点的出行时间"
        add_legend(m, f"{title} · {label}" if label else title, entries)
        add_attribution(m, attribution_html(map_approval=map_approval, icp=icp))
        folium.LayerControl(collapsed=False).add_to(m)
        return m


#: ``state`` of a table row whose units all lack a position.
UNPLACED_STATE = "位置未知"
#: Columns of :meth:`CoverageResult.by_admin`.
BY_ADMIN_COLUMNS = (
    "code",
    "name",
    "state",
    "demand",
    "covered",
    "share",
    "units_placed",
    "units_covered",
    "units_unplaced",
    "demand_unplaced",
    "reached_share",
    "mean_minutes",
    "p90_minutes",
    "beyond_cap_share",
    "minutes_text",
    "nearest_station",
    "nearest_station_id",
)
_UNIT_NOUNS = {"township seats": "乡镇", "county seats": "县区", "points": "需求点"}


def _headline(share: dict, counts: dict, unit: str, cells: str) -> str:
    """One sentence (Chinese) with the covered share over the placed demand and what is
    unplaced: "60 分钟内覆盖 55/82 个已定位乡镇（67.1%）；另有 36 个乡镇位置未知"."""
    noun = _UNIT_NOUNS.get(cells, "个网格")
    noun = noun if noun.startswith("个") else f"个{noun}"
    pct = "—" if share["share"] is None else f"{share['share']:.1%}"
    within = f"{share['max_minutes']:g} 分钟内"
    if unit == "units":
        text = (
            f"{within}覆盖 {share['covered']:,.0f}/{counts['demand_placed']:,.0f} "
            f"{noun.replace('个', '个已定位', 1)}（{pct}）"
        )
    else:
        what = {"population": "人", "weight": "（权重）"}.get(unit, "")
        text = (
            f"{within}覆盖已定位需求 {share['covered']:,.0f}/{counts['demand_placed']:,.0f}"
            f" {what}（{pct}）"
        )
    if counts["units_unplaced"]:
        text += f"；另有 {counts['units_unplaced']} {noun}位置未知"
        if unit != "units":
            text += f"（需求 {counts['demand_unplaced']:,.0f}）"
    return text


def _dissolve(geoms: np.ndarray):
    """Union of cells. Cells of one grid do not overlap, so the much faster coverage union
    applies; point or mixed input falls back to the general union."""
    if (
        len(geoms)
        and shapely.get_type_id(geoms).max() <= 6
        and shapely.get_type_id(geoms).min() >= 3
    ):
        return shapely.coverage_union_all(geoms)
    return shapely.unary_union(geoms)


def minutes_text(minutes: float | None, cap_minutes: float) -> str:
    """Minutes as a table shows them: ``"37.5"``, ``"> 240 分钟"`` beyond the cap, ``""``
    for none (``None`` or NaN)."""
    if minutes is None or np.isnan(minutes):
        return ""
    if not np.isfinite(minutes) or minutes > cap_minutes:
        return f"> {cap_minutes:g} 分钟"
    return f"{minutes:.1f}"


def default_minutes_cap(thresholds: Sequence[float]) -> float:
    """:data:`MINUTES_CAP_FACTOR` × the largest threshold."""
    return MINUTES_CAP_FACTOR * float(max(thresholds))


def parse_minutes_cap(minutes_cap: float | None, thresholds: Sequence[float]) -> float:
    """The cap for ``thresholds``: ``minutes_cap``, or :func:`default_minutes_cap` if ``None``.

    Raises
    ------
    ValidationError
        A cap below the largest threshold or not finite.
    """
    if minutes_cap is None:
        return default_minutes_cap(thresholds)
    cap = float(minutes_cap)
    if not (np.isfinite(cap) and cap >= max(thresholds)):
        raise ValidationError(
            f"minutes_cap must be finite and ≥ the largest threshold ({max(thresholds):g})",
            field="minutes_cap",
        )
    return cap


def stations_within_reach(
    station_lon: np.ndarray,
    station_lat: np.ndarray,
    bounds: Sequence[float],
    halo_m: float,
) -> np.ndarray:
    """Indices of the stations within ``halo_m`` great-circle metres of a lon/lat box.

    ``bounds`` is ``(min_lon, min_lat, max_lon, max_lat)``: the demand's bounds (a
    partition's, for Dask). A station farther than a model's :meth:`reach_m` from the box
    can reach no demand in it, so leaving it out changes no number.
    """
    x0, y0, x1, y1 = (float(v) for v in bounds)
    slon = np.asarray(station_lon, dtype=float)
    slat = np.asarray(station_lat, dtype=float)
    cx, cy = np.clip(slon, x0, x1), np.clip(slat, y0, y1)
    return np.flatnonzero(distance_m(slon, slat, cx, cy) <= halo_m)


def bbox_with_halo(bounds: Sequence[float], halo_m: float) -> tuple[float, float, float, float]:
    """A lon/lat box containing every point within ``halo_m`` of ``bounds`` (for a store
    query that narrows stations before :func:`stations_within_reach` picks them)."""
    x0, y0, x1, y1 = (float(v) for v in bounds)
    dlat = halo_m / 111_000.0 + 1e-6  # a degree of latitude is ≥ 110.5 km
    top = min(89.0, max(abs(y0), abs(y1)) + dlat)
    dlon = min(180.0, halo_m / (111_320.0 * np.cos(np.radians(top))) + 1e-6)
    return (
        max(-180.0, x0 - dlon),
        max(-90.0, y0 - dlat),
        min(180.0, x1 + dlon),
        min(90.0, y1 + dlat),
    )


def cells_bounds(cells: pd.DataFrame) -> tuple[float, float, float, float]:
    """``(min_lon, min_lat, max_lon, max_lat)`` of the demand cells' points."""
    return (
        float(cells["lon"].min()),
        float(cells["lat"].min()),
        float(cells["lon"].max()),
        float(cells["lat"].max()),
    )


def json_default(value):
    """``json.dumps(default=…)`` for the numpy scalars and arrays and paths in results."""
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value)}")


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cum = np.cumsum(w)
    return float(v[np.searchsorted(cum, q * cum[-1])])


def stations_frame(stations: Sequence[Station]) -> gpd.GeoDataFrame:
    """Stations with positions as a GeoDataFrame (``id, name, kind, lon, lat``)."""
    located = [s for s in stations if s.lon is not None]
    return gpd.GeoDataFrame(
        {
            "id": [s.id for s in located],
            "name": [s.name for s in located],
            "kind": [s.kind for s in located],
            "lon": [s.lon for s in located],
            "lat": [s.lat for s in located],
        },
        geometry=gpd.points_from_xy(
            np.asarray([s.lon for s in located], dtype="float64"),
            np.asarray([s.lat for s in located], dtype="float64"),
        ),
        crs="EPSG:4326",
    )


def covered_column(max_minutes: float) -> str:
    """The name of the ``cells`` column (and export field) flagging coverage within
    ``max_minutes``; read coverage with :meth:`CoverageResult.covered`, not by this name."""
    return f"covered_{float(max_minutes):g}"


def parse_thresholds(max_minutes: float | Sequence[float]) -> list[float]:
    """Thresholds in minutes, ascending and unique; each must be finite and > 0.

    Raises
    ------
    ValidationError
        An empty list or a threshold ≤ 0 or not finite.
    """
    values = sorted({float(m) for m in np.atleast_1d(max_minutes)})
    if not values or values[0] <= 0 or not np.isfinite(values[-1]):
        raise ValidationError("max_minutes must be > 0", field="max_minutes")
    return values


def compute_coverage(
    stations: Sequence[Station],
    demand,
    model: TravelModel,
    max_minutes: float | Sequence[float] = 60.0,
    kinds: Sequence[str] = (),
    region: str | None = None,
    minutes_cap: float | None = None,
) -> CoverageResult:
    """Travel time from every demand cell to its nearest open station of ``kinds``.

    Minutes are computed up to ``minutes_cap`` (default :func:`default_minutes_cap`);
    coverage within each threshold is unaffected by the cap. Only the stations within the
    model's reach (at the cap) of the demand are used and kept in the result.

    Raises
    ------
    ValidationError
        A threshold ≤ 0, a cap below the largest threshold, no demand cells, or no
        operating station of the kinds given.
    """
    thresholds = parse_thresholds(max_minutes)
    cap = parse_minutes_cap(minutes_cap, thresholds)
    cells = demand.cells
    if len(cells) == 0:
        raise ValidationError("no demand cells in the region", field="region")
    frame, dropped = _chosen_frame(stations, kinds, region, cells_bounds(cells), model, cap)
    times = model.time_to_nearest(
        cells["lon"].to_numpy(),
        cells["lat"].to_numpy(),
        frame["lon"].to_numpy(),
        frame["lat"].to_numpy(),
        cap,
    )
    result = _result(cells, frame, times, thresholds, model, demand, kinds, region, cap)
    result.record["stations_beyond_reach"] = dropped
    return result


def _chosen_frame(
    stations: Sequence[Station],
    kinds: Sequence[str],
    region: str | None,
    bounds: Sequence[float] | None,
    model: TravelModel,
    cap: float,
) -> tuple[gpd.GeoDataFrame, int]:
    """Open, positioned stations of ``kinds`` within the model's reach of ``bounds`` (all
    when ``bounds`` is ``None``), and how many others were left out as beyond reach."""
    chosen = [
        s
        for s in stations
        if s.lon is not None and s.status.value == "open" and (not kinds or s.kind in kinds)
    ]
    if not chosen:
        raise ValidationError(
            f"no operating station of kind {', '.join(kinds) or 'any'}"
            + (f" in region {region}" if region else ""),
            field="kind",
        )
    frame = stations_frame(chosen)
    if bounds is None:
        return frame, 0
    near = stations_within_reach(
        frame["lon"].to_numpy(), frame["lat"].to_numpy(), bounds, reach_m(model, cap)
    )
    return frame.iloc[near].reset_index(drop=True), len(frame) - len(near)


def _result(
    cells, frame, times: NearestTimes, thresholds, model, demand, kinds, region, cap
) -> CoverageResult:
    out = cells.copy()
    out["minutes"] = times.minutes
    ids = frame["id"].to_numpy()
    out["station_id"] = (
        np.where(times.station >= 0, ids[np.clip(times.station, 0, None)], "") if len(ids) else ""
    )
    out["unsnapped"] = times.unsnapped if len(times.unsnapped) else False
    for t in thresholds:
        out[covered_column(t)] = out["minutes"] <= t
    warnings = list(getattr(demand, "warnings", []))
    if not (times.minutes <= thresholds[-1]).any():
        warnings.append(
            f"none of the {len(out):,} demand cells reaches a station of kind "
            f"{', '.join(kinds) or 'any'} within {thresholds[-1]:g} minutes: no "
            "station is within reach of the region"
        )
    if out["unsnapped"].any():
        warnings.append(
            f"{int(out['unsnapped'].sum())} demand cells are farther from the road "
            "network than the snapping limit and count as not covered"
        )
    record = {
        "model": model.describe(),
        "max_minutes": thresholds,
        "minutes_cap": cap,
        "kinds": list(kinds),
        "region": region,
        "demand_source": getattr(demand, "source", ""),
        "demand_unit": getattr(demand, "unit", ""),
        "warnings": warnings,
    }
    return CoverageResult(
        out, frame, thresholds, record, getattr(demand, "unplaced", None), minutes_cap=cap
    )


def reach_m(model: TravelModel, max_minutes: float) -> float:
    """Great-circle metres a model can possibly cover in ``max_minutes`` (the halo)."""
    return float(model.reach_m(max_minutes))


def compute_coverage_partitioned(
    stations: Sequence[Station],
    demand,
    model: TravelModel,
    max_minutes: float | Sequence[float] = 60.0,
    kinds: Sequence[str] = (),
    region: str | None = None,
    partition_by: str = "county",
    client=None,
    minutes_cap: float | None = None,
) -> CoverageResult:
    """:func:`compute_coverage` on Dask, one task per county (or province) partition.

    Each task gets its partition's cells and the stations within the model's maximum reach
    of any of them (the halo), so trips across partition borders are counted; the numbers
    equal the single-process run. ``client`` is a ``dask.distributed.Client`` (a
    ``LocalCluster`` one is started, and closed, when none is given).
    """
    thresholds = parse_thresholds(max_minutes)
    cap = parse_minutes_cap(minutes_cap, thresholds)
    cells = demand.cells
    if len(cells) == 0:
        raise ValidationError("no demand cells in the region", field="region")
    frame, dropped = _chosen_frame(stations, kinds, region, cells_bounds(cells), model, cap)
    key = cells["county_code"].fillna("").astype(str)
    if partition_by == "province":
        key = key.str[:2]
    elif partition_by != "county":
        raise ValidationError("partition_by must be county or province", field="partition_by")
    halo = reach_m(model, cap)
    slon, slat = frame["lon"].to_numpy(), frame["lat"].to_numpy()
    tasks = []
    for _, part in cells.groupby(key, sort=True):
        near = stations_within_reach(slon, slat, cells_bounds(part), halo)
        tasks.append((part.index.to_numpy(), part["lon"].to_numpy(), part["lat"].to_numpy(), near))

    def run(task):
        index, lon, lat, near = task
        if len(near) == 0:
            n = len(index)
            return index, np.full(n, np.inf), np.full(n, -1), np.zeros(n, dtype=bool)
        t = model.time_to_nearest(lon, lat, slon[near], slat[near], cap)
        station = np.where(t.station >= 0, near[np.clip(t.station, 0, None)], -1)
        unsnapped = t.unsnapped if len(t.unsnapped) else np.zeros(len(index), dtype=bool)
        return index, t.minutes, station, unsnapped

    own_client = client is None
    if own_client:
        from dask.distributed import Client, LocalCluster

        client = Client(
            LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None)
        )
    try:
        futures = client.map(run, tasks, pure=False)
        parts = client.gather(futures)
    finally:
        if own_client:
            cluster = client.cluster
            client.close()
            cluster.close()
    minutes = pd.Series(np.inf, index=cells.index)
    station = pd.Series(-1, index=cells.index)
    unsnapped = pd.Series(False, index=cells.index)
    for index, m, s, u in parts:
        minutes.loc[index], station.loc[index], unsnapped.loc[index] = m, s, u
    times = NearestTimes(minutes.to_numpy(), station.to_numpy(), unsnapped.to_numpy())
    result = _result(cells, frame, times, thresholds, model, demand, kinds, region, cap)
    result.record["stations_beyond_reach"] = dropped
    result.record["partitions"] = {"by": partition_by, "count": len(tasks), "halo_m": halo}
    return result
