"""Demand: where the workers are, as cells carrying population, units or weights (DESIGN §5).

Coverage is "the share of demand whose travel time to the nearest station is at most one
hour". This package builds that demand: cells over a region (H3 hexagons or a metric grid),
filled from a population raster, from an admin table spread over its units, from weighted
points, or — with no population at all — one unit per township (or county) seat. No
population data ships with Yizhan (DESIGN §4): every figure comes from a file the user gives.

Modules
-------
* :mod:`geo.demand.base` — the result, :class:`Demand` (what its ``cells`` columns mean),
  the equal-area CRS and the helpers the sources share.
* :mod:`geo.demand.cells` — :func:`h3_cells`, :func:`grid_cells` and :func:`assign_admin`
  (county and township codes of cells).
* :mod:`geo.demand.raster` — (a) :func:`from_raster`, a population-count GeoTIFF.
* :mod:`geo.demand.table` — (b) :func:`from_admin_table`, population by admin unit.
* :mod:`geo.demand.points` — (c) :func:`from_points`, weighted points, and
  (d) :func:`from_admin_seats`, one unit per township or county seat.

Regions
-------
Regions come from :mod:`geo.regions`: every function taking a region accepts a 6-digit code
(the union of the bundled county outlines whose code, prefecture code or province code it
is, so a province or prefecture is exactly the union of its counties), a shapely
(Multi)Polygon in WGS-84, or a GeoSeries/GeoDataFrame. County-less prefectures (东莞 441900,
中山, 儋州, 嘉峪关) have their own outline in the county layer and behave as counties.
Townships have no outlines: their codes are refused.

``h3`` and ``rasterio`` are imported only by the functions that need them.
"""

from __future__ import annotations

from geo.demand.base import CELL_COLUMNS, DENSIFY_DEG, EQUAL_AREA_CRS, UNITS, Demand
from geo.demand.cells import MAX_CELLS, SNAP_DEG, assign_admin, grid_cells, h3_cells
from geo.demand.points import TownshipTable, from_admin_seats, from_points, read_township_table
from geo.demand.raster import from_raster
from geo.demand.table import from_admin_table

__all__ = [
    "CELL_COLUMNS",
    "DENSIFY_DEG",
    "EQUAL_AREA_CRS",
    "MAX_CELLS",
    "SNAP_DEG",
    "UNITS",
    "Demand",
    "TownshipTable",
    "assign_admin",
    "from_admin_seats",
    "from_admin_table",
    "from_points",
    "from_raster",
    "grid_cells",
    "h3_cells",
    "read_township_table",
]
