"""The demand result and what every demand builder shares.

Owns :class:`Demand` (the demand table and what it means), the standard cell columns, the
national equal-area CRS used for cell areas and grids, and the small helpers the sources
share (projecting, areas, the region a set of cells was built for, cell weights, examples
in warnings).

The demand table (:class:`Demand`)
----------------------------------
``cells`` is a GeoDataFrame in EPSG:4326 with ``cell_id``, ``lon``/``lat`` (the point travel
is measured from: the H3 cell centre, a grid cell's centre or a point inside its clipped part,
or the point itself), ``demand`` (float ≥ 0), ``county_code``, ``township_code`` and
``geometry`` (the cell polygon, or a Point for point demand). Cell builders add ``area_km2``;
point and seat demand add ``name``. ``unit`` says what ``demand`` counts: ``population``
(people), ``units`` (townships, counties, points each counted once) or ``weight`` (relative
weights from a points file). ``warnings`` carry counts and a few examples of everything that
was dropped or guessed; ``stats`` carries the numbers behind them.

Units without a position (admin seats that no source could place) are never dropped: they
are rows of ``unplaced`` (a plain DataFrame, no geometry: ``cell_id``, ``name``, ``demand``,
``county_code``, ``township_code``, ``position_source`` = ``"unknown"``). They are neither
covered nor uncovered — their state is unknown (位置未知) — so travel times, gaps and maps
use ``cells`` only, while tables and headlines count ``unplaced`` as its own state.
:meth:`Demand.units` gives both as one table with a ``placed`` column.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.errors import ValidationError
from geo.gazetteer import Gazetteer, default_gazetteer
from geo.regions import as_region_geometry

#: Equal-area CRS of grid cells and area computations (Albers, China-wide parallels).
EQUAL_AREA_CRS = "+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +datum=WGS84 +units=m +no_defs"
#: What ``Demand.demand`` counts.
UNITS = ("population", "units", "weight")
#: Columns every ``Demand.cells`` frame has, in this order (extra columns follow).
CELL_COLUMNS = ("cell_id", "lon", "lat", "demand", "county_code", "township_code", "geometry")
#: Columns of ``Demand.unplaced`` (units kept without a position).
UNPLACED_COLUMNS = (
    "cell_id",
    "name",
    "demand",
    "county_code",
    "township_code",
    "position_source",
)
#: ``position_source`` of a unit no source could place.
UNKNOWN_POSITION = "unknown"
#: Polygons are densified to this spacing (degrees) before being projected.
DENSIFY_DEG = 0.01
#: How many examples a warning lists.
_EXAMPLES = 5


# ------------------------------------------------------------------------------------------
# The demand table


@dataclass
class Demand:
    """Demand cells and what they mean (see :mod:`geo.demand.base`)."""

    cells: gpd.GeoDataFrame
    unit: str
    source: str
    warnings: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    unplaced: pd.DataFrame = field(default_factory=lambda: empty_unplaced())

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValidationError(f"unit must be one of {', '.join(UNITS)}", field="unit")
        missing = [c for c in CELL_COLUMNS if c not in self.cells.columns]
        if missing:
            raise ValidationError(f"demand cells lack columns {missing}", field="cells")
        missing = [c for c in UNPLACED_COLUMNS if c not in self.unplaced.columns]
        if missing:
            raise ValidationError(f"unplaced units lack columns {missing}", field="unplaced")

    def total(self) -> float:
        """Total demand of the placed cells (people, units or weight, as ``unit`` says)."""
        return float(self.cells["demand"].sum())

    def unplaced_total(self) -> float:
        """Demand of the units without a position (unknown whether covered)."""
        return float(self.unplaced["demand"].sum())

    def units(self) -> pd.DataFrame:
        """Placed cells and unplaced units in one table (no geometry), ``placed`` saying
        which; ``position_source`` is ``"unknown"`` for the unplaced."""
        placed = pd.DataFrame(self.cells.drop(columns="geometry"))
        placed["placed"] = True
        if "position_source" not in placed.columns:
            placed["position_source"] = ""
        unplaced = self.unplaced.assign(placed=False)
        return pd.concat([placed, unplaced], ignore_index=True)

    def to_geojson(self) -> dict:
        """A GeoJSON FeatureCollection (dict) of the placed cells; ``demand`` holds unit,
        source, total, the units without a position (``unplaced``: code, name, demand) and
        warnings as a foreign member."""
        fc = self.cells.to_geo_dict(na="null", drop_id=True)
        fc["demand"] = {
            "unit": self.unit,
            "source": self.source,
            "total": self.total(),
            "unplaced": [
                {"code": str(c), "name": str(n), "demand": float(d)}
                for c, n, d in zip(
                    self.unplaced["cell_id"],
                    self.unplaced["name"],
                    self.unplaced["demand"],
                    strict=True,
                )
            ],
            "unplaced_total": self.unplaced_total(),
            "warnings": list(self.warnings),
        }
        return fc


def empty_unplaced() -> pd.DataFrame:
    """An ``unplaced`` table with no rows."""
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in UNPLACED_COLUMNS})
    frame["demand"] = frame["demand"].astype(float)
    return frame


def _demand_frame(cells: gpd.GeoDataFrame | pd.DataFrame, demand: np.ndarray) -> gpd.GeoDataFrame:
    """``cells`` (copied) with ``demand`` set and the standard columns first."""
    out = gpd.GeoDataFrame(cells.copy(), geometry="geometry", crs="EPSG:4326")
    out["demand"] = np.asarray(demand, dtype=float)
    for col in ("county_code", "township_code"):
        if col not in out.columns:
            out[col] = ""
    order = list(CELL_COLUMNS) + [c for c in out.columns if c not in CELL_COLUMNS]
    out = out[order]
    out.attrs = dict(cells.attrs)
    return out


def _gaz(gazetteer: Gazetteer | None) -> Gazetteer:
    return gazetteer if gazetteer is not None else default_gazetteer()


# ------------------------------------------------------------------------------------------
# Projection and area


def _transformer(src: object, dst: object):
    from pyproj import Transformer

    return Transformer.from_crs(src, dst, always_xy=True)


def _project(geoms, transformer, densify: float | None = DENSIFY_DEG):
    """Geometries (scalar or array) with their coordinates transformed (after densifying)."""
    if densify:
        geoms = shapely.segmentize(geoms, densify)

    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, fn)


def _area_km2(geoms) -> np.ndarray | float:
    """Area (km²) of WGS-84 geometries, in the equal-area CRS."""
    projected = _project(geoms, _transformer("EPSG:4326", EQUAL_AREA_CRS))
    return shapely.area(projected) / 1e6


# ------------------------------------------------------------------------------------------
# Helpers shared by the sources


def _examples(items: Iterable[object], n: int) -> str:
    items = list(items)[:_EXAMPLES]
    text = ", ".join(str(i) for i in items)
    return text + (", …" if n > len(items) else "")


def _fmt_bounds(b: Iterable[float]) -> str:
    return "(" + ", ".join(f"{v:.4f}" for v in b) + ")"


def _cells_region(
    cells: gpd.GeoDataFrame, region: object, gazetteer: Gazetteer | None
) -> BaseGeometry:
    """``region`` as a geometry, else the region the cells were built for, else their union."""
    if region is not None:
        return as_region_geometry(region, gazetteer)
    wkb = cells.attrs.get("region_wkb")
    if wkb is not None:
        return as_region_geometry(shapely.from_wkb(wkb), gazetteer)
    return as_region_geometry(cells.geometry.union_all(), gazetteer)


def _cell_weights(cells: gpd.GeoDataFrame) -> np.ndarray:
    """Area of each cell (km²) for spreading; 1 for point cells."""
    if "area_km2" in cells.columns:
        area = cells["area_km2"].to_numpy(dtype=float)
    else:
        geoms = cells.geometry.to_numpy()
        area = np.asarray(_area_km2(geoms), dtype=float)
    area = np.where(np.isfinite(area) & (area > 0), area, 0.0)
    if not area.any():
        area = np.ones(len(cells))
    return area
