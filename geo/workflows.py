"""The use cases: a coverage run and a plan run, from typed parameters to written results.

This module is the one entry the CLI (:mod:`webapp.cli`), the planner's background jobs
(:mod:`webapp.jobs`) and the notebooks call:

- :class:`CoverageParams` / :func:`run_coverage` → :class:`CoverageRun` (the service circle);
- :class:`PlanParams` / :func:`run_plan` → :class:`PlanRun` (where to add stations);
- :func:`write_coverage_outputs` / :func:`write_plan_outputs`: the result folders (tables,
  GeoJSON layers, offline map, charts; see :mod:`geo.report`).

Parameters are validated once, when the dataclass is built: an unknown kind, mode or region, a
threshold ≤ 0 or a contradictory problem raises :class:`geo.errors.ValidationError` naming the
field, before any work starts. Both parameter classes are JSON-ready (``to_dict`` /
``from_dict``), so a job or a saved scenario can carry them between processes.

Both runs take a ``progress(stage, fraction)`` callback (``fraction`` of the whole run, 0–1).

Stations: both runs take the registry as a list of stations or as a store (anything with
``query(StationQuery)``, e.g. :class:`geo.store.StationRepository`). From a store only the
stations of the kinds inside the demand's bounds plus the travel model's reach are read
(:func:`select_stations`), so a county job never loads the whole national registry.

Spawned processes: the open taxonomy of kinds and services (:mod:`geo.models`) is process
state. :class:`Taxonomy` captures it in the parent (:meth:`Taxonomy.current`) and installs it
in a worker (:meth:`Taxonomy.install`), so a worker accepts exactly the kinds its server does,
however they were configured (environment, settings object, or ``register_kind``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geo.errors import ValidationError
from geo.models import Station, Term
from geo.regions import region_polygon

#: ``progress(stage, fraction)``: the run's current stage and the fraction done (0–1).
Progress = Callable[[str, float], None]

#: Candidate sources :func:`run_plan` can generate when no candidates file is given.
CANDIDATE_SOURCES = ("townships", "gaps", "grid")
#: Solvers of :meth:`geo.plan.Problem.solve` a plan may ask for.
SOLVERS = ("greedy", "exact")
#: Admin levels coverage tables are written for.
TABLE_LEVELS = ("county", "township")
#: H3 resolutions accepted for demand cells.
H3_RESOLUTIONS = range(0, 16)


def _no_progress(stage: str, fraction: float) -> None:
    return None


# ------------------------------------------------------------------------------------------
# Validation shared by both parameter classes


def _kind(value: object) -> str:
    from geo.models import parse_kind

    return parse_kind(str(value if value is not None else ""))


def _mode(value: object) -> str:
    from geo.models import parse_mode

    return parse_mode(value)


def _region(value: object) -> str:
    from geo.regions import resolve_region

    return resolve_region(value).code


def _thresholds(value: object) -> tuple[float, ...]:
    from geo.coverage import parse_thresholds

    try:
        return tuple(parse_thresholds(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError("max_minutes must be > 0", field="max_minutes") from None


def _minutes_cap(value: object, thresholds: tuple[float, ...]) -> float | None:
    from geo.coverage import parse_minutes_cap

    if value is None or value == "":
        return None
    try:
        cap = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError("minutes_cap must be a number", field="minutes_cap") from None
    return parse_minutes_cap(cap, thresholds)


def _positive(value: float | None, name: str, allow_zero: bool = False) -> None:
    if value is None:
        return
    ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ValidationError(f"{name} must be {'≥' if allow_zero else '>'} 0", field=name)


def _demand_inputs(
    population, population_table, demand_points, resolution, township_table=None
) -> None:
    if sum(bool(x) for x in (population, population_table, demand_points)) > 1:
        raise ValidationError(
            "give at most one of population, population_table, demand_points", field="demand"
        )
    if township_table and (population or population_table or demand_points):
        raise ValidationError(
            "township_table places and weights the township seats; it does not combine with "
            "population, population_table or demand_points",
            field="township_table",
        )
    if int(resolution) not in H3_RESOLUTIONS or int(resolution) != resolution:
        raise ValidationError("resolution must be an H3 resolution 0–15", field="resolution")


def _path(value: object) -> str | None:
    return str(value) if value else None


def _known(cls, data: dict) -> dict:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


# ------------------------------------------------------------------------------------------
# Coverage


@dataclass(frozen=True)
class CoverageParams:
    """What a coverage run depends on, validated (all JSON-ready).

    Attributes
    ----------
    kinds
        Station kinds to reach (codes, labels or aliases; stored as codes).
    region
        Province, prefecture, county or township (code or name; stored as its code).
    max_minutes
        Thresholds in minutes, each > 0 (stored ascending, without duplicates).
    mode
        Travel mode (:data:`geo.models.MODES`; labels accepted, stored as the code).
    network
        OSM ``.osm.pbf`` for the road-network model; ``None``: crow-fly estimate.
    speed_kph, circuity
        Crow-fly speed (default per mode) and circuity factor.
    population, population_table, demand_points
        At most one demand input (GeoTIFF, admin table, weighted points); none: one unit
        per township seat.
    township_table
        With township-seat demand: a planner's table of townships (code or name, lon/lat
        and/or population) placing and weighting them (see
        :func:`geo.demand.points.read_township_table`).
    resolution
        H3 resolution of demand cells.
    by
        Admin levels whose tables are written.
    partitioned
        Run on Dask, one partition per county.
    minutes_cap
        Minutes are computed up to this many (≥ the largest threshold); beyond it a unit
        reads "> cap". ``None``: 4 × the largest threshold.
    """

    kinds: tuple[str, ...]
    region: str
    max_minutes: tuple[float, ...] = (60.0,)
    mode: str = "car"
    network: str | None = None
    speed_kph: float | None = None
    circuity: float = 1.3
    population: str | None = None
    population_table: str | None = None
    demand_points: str | None = None
    township_table: str | None = None
    resolution: int = 8
    by: tuple[str, ...] = TABLE_LEVELS
    partitioned: bool = False
    minutes_cap: float | None = None

    def __post_init__(self) -> None:
        kinds = (self.kinds,) if isinstance(self.kinds, str) else tuple(self.kinds or ())
        if not kinds:
            raise ValidationError("give at least one station kind", field="kind")
        by = (self.by,) if isinstance(self.by, str) else tuple(self.by or TABLE_LEVELS)
        if unknown := [b for b in by if b not in TABLE_LEVELS]:
            raise ValidationError(
                f"tables by {', '.join(unknown)}: use {' or '.join(TABLE_LEVELS)}", field="by"
            )
        _positive(self.speed_kph, "speed_kph")
        _positive(self.circuity, "circuity")
        _demand_inputs(
            self.population,
            self.population_table,
            self.demand_points,
            self.resolution,
            self.township_table,
        )
        thresholds = _thresholds(self.max_minutes)
        values = {
            "kinds": tuple(dict.fromkeys(_kind(k) for k in kinds)),
            "region": _region(self.region),
            "max_minutes": thresholds,
            "minutes_cap": _minutes_cap(self.minutes_cap, thresholds),
            "mode": _mode(self.mode),
            "network": _path(self.network),
            "population": _path(self.population),
            "population_table": _path(self.population_table),
            "demand_points": _path(self.demand_points),
            "township_table": _path(self.township_table),
            "resolution": int(self.resolution),
            "by": tuple(dict.fromkeys(by)),
            "partitioned": bool(self.partitioned),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def to_dict(self) -> dict:
        """The parameters as JSON-ready values (tuples as lists)."""
        values = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}

    @classmethod
    def from_dict(cls, data: dict) -> CoverageParams:
        """Parameters from a dict; ``kind`` (one) stands for ``kinds``, other keys are ignored.

        Raises
        ------
        ValidationError
            As the constructor.
        """
        values = _known(cls, data)
        if "kinds" not in values and data.get("kind"):
            values["kinds"] = (data["kind"],)
        if "kinds" not in values or "region" not in values:
            raise ValidationError("coverage needs kind and region", field="kind")
        return cls(**values)


@dataclass
class CoverageRun:
    """The outcome of :func:`run_coverage`.

    Attributes
    ----------
    params
        The parameters of the run.
    result
        The :class:`geo.coverage.CoverageResult`.
    """

    params: CoverageParams
    result: Any

    def summary(self) -> dict:
        """The result's summary (see :meth:`geo.coverage.CoverageResult.summary`)."""
        return self.result.summary()


def build_demand(
    region: str,
    population: str | None = None,
    population_table: str | None = None,
    demand_points: str | None = None,
    resolution: int = 8,
    township_table: str | None = None,
    stations: Sequence[Station] | None = None,
):
    """Demand for ``region`` from one population input, else one unit per township seat.

    Township seats are placed from ``township_table`` (a planner's file), the gazetteer and
    the median of the ``stations`` carrying each township's code; those still without a
    position are kept as unknown (``Demand.unplaced``), never dropped.

    Raises
    ------
    ValidationError
        More than one population input, a township table with another input, an unreadable
        township table.
    """
    from geo import demand as dm
    from geo.demand.points import read_township_table

    _demand_inputs(population, population_table, demand_points, resolution, township_table)
    if demand_points:
        return dm.from_points(demand_points, region=region)
    if population:
        return dm.from_raster(population, dm.h3_cells(region_polygon(region), resolution))
    if population_table:
        return dm.from_admin_table(
            population_table, dm.h3_cells(region_polygon(region), resolution)
        )
    table = read_township_table(township_table, region) if township_table else None
    return dm.from_admin_seats(
        region, level="township", stations=_stations_in(stations, region), township_table=table
    )


def _stations_in(stations, region: str) -> Sequence[Station] | None:
    """The registry's stations inside ``region``'s bounds, from a list or a store (any kind or
    status: they place townships, they do not serve them)."""
    if stations is None or not hasattr(stations, "query"):
        return stations
    from geo.regions import region_bounds
    from geo.store import StationQuery

    bounds = region_bounds(region)
    if bounds is None:
        return []
    west, south, east, north = bounds
    found, _ = stations.query(StationQuery(bbox=(west, south, east, north)), limit=None)
    return found


def build_model(
    mode: str = "car",
    network: str | Path | None = None,
    speed_kph: float | None = None,
    circuity: float = 1.3,
    cache_dir: str | Path | None = None,
):
    """The road-network model for an OSM ``network`` file, else the crow-fly estimate."""
    from geo.travel import CrowflyModel

    if network:
        from geo.travel.network import NetworkModel, RoadGraph

        return NetworkModel(RoadGraph.from_pbf(network, mode, cache_dir=cache_dir))
    return CrowflyModel(mode, speed_kph=speed_kph, circuity=circuity)


def select_stations(
    stations,
    kinds: Sequence[str],
    demand,
    model,
    max_minutes: float | Sequence[float],
    minutes_cap: float | None = None,
    ids: Sequence[str] = (),
) -> list[Station]:
    """The stations a run over ``demand`` may use, read from a list or from a store.

    From a store (anything with ``query(StationQuery)``): the open stations of ``kinds``
    inside the demand's bounds widened by the model's reach at the minutes cap (the halo of
    :func:`geo.coverage.stations_within_reach`), plus the stations named in ``ids`` (what-if
    removals, checked against the whole registry); the rest of the registry is never read.
    A list is returned as it is (:func:`geo.coverage.compute_coverage` keeps only the
    stations within reach).
    """
    if not hasattr(stations, "query"):
        return list(stations)
    from geo.coverage import (
        bbox_with_halo,
        cells_bounds,
        parse_minutes_cap,
        parse_thresholds,
        reach_m,
    )
    from geo.store import StationQuery

    thresholds = parse_thresholds(max_minutes)
    cap = parse_minutes_cap(minutes_cap, thresholds)
    bbox = bbox_with_halo(cells_bounds(demand.cells), reach_m(model, cap))
    found, _ = stations.query(
        StationQuery(kinds=tuple(kinds), bbox=bbox, statuses=("open",)), limit=None
    )
    if ids:
        named, _ = stations.query(StationQuery(ids=tuple(ids)), limit=None)
        have = {s.id for s in found}
        found += [s for s in named if s.id not in have]
    return found


def run_coverage(
    params: CoverageParams,
    stations,
    *,
    model=None,
    progress: Progress = _no_progress,
    cache_dir: str | Path | None = None,
    client=None,
) -> CoverageRun:
    """Demand, travel model, travel times: the service circle of ``params``.

    Parameters
    ----------
    params
        What to compute.
    stations
        The registry: a list of stations (those of other kinds, closed, without position
        or beyond the model's reach of the region are skipped) or a store, from which only
        the stations within reach are read (:func:`select_stations`).
    model
        A travel model; default: the road network of ``params.network`` (its graph cached
        in ``cache_dir``), else crow-fly.
    progress
        Called as each stage starts: ``demand``, ``travel model``, ``travel times``.
    client
        A ``dask.distributed.Client`` for a partitioned run (default: a local cluster).

    Raises
    ------
    ValidationError
        No operating station of the kinds, no demand cells, unreadable demand input.
    """
    from geo.coverage import compute_coverage, compute_coverage_partitioned

    progress("demand", 0.05)
    demand = build_demand(
        params.region,
        params.population,
        params.population_table,
        params.demand_points,
        params.resolution,
        township_table=params.township_table,
        stations=stations,
    )
    progress("travel model", 0.2)
    if model is None:
        model = build_model(
            params.mode, params.network, params.speed_kph, params.circuity, cache_dir=cache_dir
        )
    max_minutes, kinds = list(params.max_minutes), list(params.kinds)
    cap = params.minutes_cap
    stations = select_stations(stations, kinds, demand, model, max_minutes, cap)
    progress("travel times", 0.35)
    if params.partitioned:
        result = compute_coverage_partitioned(
            stations,
            demand,
            model,
            max_minutes,
            kinds=kinds,
            region=params.region,
            client=client,
            minutes_cap=cap,
        )
    else:
        result = compute_coverage(
            stations, demand, model, max_minutes, kinds=kinds, region=params.region, minutes_cap=cap
        )
    return CoverageRun(params, result)


def write_coverage_outputs(
    run: CoverageRun,
    out_dir: str | Path,
    layers: bool = False,
    progress: Progress = _no_progress,
    lang: str = "zh",
    map_approval: str = "",
    icp: str = "",
    pdf: bool = True,
) -> dict[str, Path]:
    """Write a coverage run's folder (see :func:`geo.report.coverage_report`).

    With ``layers``, also the map layers the planner pages draw (``layer_cells.geojson``,
    ``layer_gaps.geojson``, ``layer_stations.geojson``; keys ``layer_…``). With ``pdf``
    (default), also ``report.pdf`` (key ``pdf``, :func:`geo.report_pdf.coverage_pdf`).
    """
    from geo.report import coverage_report, write_layers

    progress("exports", 0.6)
    files = coverage_report(
        run.result, out_dir, by=run.params.by, lang=lang, map_approval=map_approval, icp=icp
    )
    if pdf:
        from geo.report_pdf import coverage_pdf

        progress("report.pdf", 0.8)
        files["pdf"] = coverage_pdf(
            run.result, Path(out_dir) / "report.pdf", lang, map_approval, icp
        )
    if layers:
        progress("map layers", 0.9)
        files.update({f"layer_{k}": v for k, v in write_layers(run.result, out_dir).items()})
    return files


# ------------------------------------------------------------------------------------------
# Planning


@dataclass
class PlanParams:
    """What a plan depends on, validated (all JSON-ready, so a scenario can store it).

    Exactly one problem: ``add`` (best K new sites), ``target_share`` (fewest sites for this
    share) or ``budget`` (best sites within the budget, one-off cost plus ``years`` of yearly
    cost). ``kind``, ``region`` and ``mode`` are stored as codes; the demand and travel-model
    fields mean what they mean in :class:`CoverageParams`. ``add_stations`` and
    ``remove_station_ids`` are what-if edits of the registry.
    """

    kind: str
    region: str
    add: int | None = None
    target_share: float | None = None
    budget: float | None = None
    years: float = 0.0
    max_minutes: float = 60.0
    mode: str = "car"
    speed_kph: float | None = None
    circuity: float = 1.3
    solver: str = "greedy"
    time_limit_s: float = 60.0
    capacity: float | None = None
    capacity_col: str | None = None
    tie_break: str | None = None
    network: str | None = None
    candidates: str | None = None
    cost_per_site: float | None = None
    population: str | None = None
    population_table: str | None = None
    demand_points: str | None = None
    township_table: str | None = None
    resolution: int = 8
    candidate_source: str = "townships"
    grid_spacing_m: float = 5000.0
    add_stations: list[dict] = field(default_factory=list)
    remove_station_ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.add, self.target_share, self.budget)) != 1:
            raise ValidationError("give exactly one of add, target_share, budget", field="problem")
        if self.add is not None and not (int(self.add) == self.add and self.add >= 1):
            raise ValidationError("add must be a whole number ≥ 1", field="add")
        if self.target_share is not None and not 0 < self.target_share <= 1:
            raise ValidationError("target_share must be in (0, 1]", field="target_share")
        _positive(self.budget, "budget", allow_zero=True)
        _positive(self.years, "years", allow_zero=True)
        _positive(self.speed_kph, "speed_kph")
        _positive(self.circuity, "circuity")
        _positive(self.time_limit_s, "time_limit_s")
        _positive(self.grid_spacing_m, "grid_spacing_m")
        if self.solver not in SOLVERS:
            raise ValidationError(f"solver must be {' or '.join(SOLVERS)}", field="solver")
        if self.candidate_source not in CANDIDATE_SOURCES:
            raise ValidationError(
                f"candidate_source must be one of {', '.join(CANDIDATE_SOURCES)}",
                field="candidate_source",
            )
        if self.capacity_col and self.capacity is not None:
            raise ValidationError("give capacity or capacity_col, not both", field="capacity")
        if self.target_share is not None and (self.capacity_col or self.capacity is not None):
            raise ValidationError(
                "capacities work with --add or --budget, not --target-share", field="capacity"
            )
        _demand_inputs(
            self.population,
            self.population_table,
            self.demand_points,
            self.resolution,
            self.township_table,
        )
        self.township_table = _path(self.township_table)
        if not isinstance(self.max_minutes, (int, float)):
            raise ValidationError("max_minutes must be one number > 0", field="max_minutes")
        (self.max_minutes,) = _thresholds(self.max_minutes)
        self.kind = _kind(self.kind)
        self.region = _region(self.region)
        self.mode = _mode(self.mode)
        if self.add is not None:
            self.add = int(self.add)
        self.resolution = int(self.resolution)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PlanParams:
        """Parameters from a dict (a form, a scenario); unknown keys are ignored."""
        return cls(**_known(cls, data))

    def coverage_params(self) -> CoverageParams:
        """The coverage run this plan starts from (coverage before the plan)."""
        return CoverageParams(
            kinds=(self.kind,),
            region=self.region,
            max_minutes=(self.max_minutes,),
            mode=self.mode,
            network=self.network,
            speed_kph=self.speed_kph,
            circuity=self.circuity,
            population=self.population,
            population_table=self.population_table,
            demand_points=self.demand_points,
            township_table=self.township_table,
            resolution=self.resolution,
        )


@dataclass
class PlanRun:
    """The outcome of :func:`run_plan`."""

    params: PlanParams
    plan: Any
    candidates: Any
    before: Any
    after: Any
    demand_source: str

    def summary(self) -> dict:
        """The figures a scenario keeps and a comparison shows.

        Shares are over the placed demand; ``units_unplaced`` / ``demand_unplaced`` say how
        much has no position (unknown, the plan cannot count it) and ``headline`` states the
        coverage after the plan with them.
        """
        p = self.plan
        chosen = self.candidates.iloc[list(p.chosen)]
        after = self.after.summary()
        return {
            "problem": p.problem,
            "solver": p.solver,
            "status": p.status,
            "sites": [str(x) for x in chosen["name"]],
            "site_ids": [str(x) for x in chosen["id"]],
            "gains": [float(g) for g in p.gains],
            "share_before": p.share_before,
            "share_after": p.share_after,
            "bound": p.bound,
            "gap": p.gap,
            "cost": float(np.nansum(chosen["cost"])),
            "yearly_cost": float(np.nansum(chosen["yearly_cost"])),
            "messages": list(p.messages),
            "units_placed": after["units_placed"],
            "units_unplaced": after["units_unplaced"],
            "demand_unplaced": after["demand_unplaced"],
            "headline": after["headline"],
        }

    def record(self) -> dict:
        """How the plan was produced (parameters, travel model, demand source)."""
        return {
            "params": self.params.to_dict(),
            "model": self.before.record["model"],
            "demand_source": self.demand_source,
        }


def apply_what_if(stations: Sequence[Station], params: PlanParams) -> list[Station]:
    """The registry with the hand-made edits of ``params``: stations removed and added."""
    removed = set(params.remove_station_ids)
    unknown = removed - {s.id for s in stations}
    if unknown:
        raise ValidationError(
            f"no station with id {', '.join(sorted(unknown))}", field="remove_station_ids"
        )
    out = [s for s in stations if s.id not in removed]
    for i, extra in enumerate(params.add_stations, 1):
        try:
            lon, lat = float(extra["lon"]), float(extra["lat"])
        except (KeyError, TypeError, ValueError):
            raise ValidationError(
                f"added station {i} needs numeric lon and lat", field="add_stations"
            ) from None
        out.append(
            Station(
                id=str(extra.get("id") or f"WHATIF-{i}"),
                name=str(extra.get("name") or f"拟建站点 {i}"),
                kind=params.kind,
                lon=lon,
                lat=lat,
            )
        )
    return out


def _capacity_column(params: PlanParams, sites) -> np.ndarray:
    """The ``capacity_col`` column of the candidates (kept by ``candidates.from_file``)."""
    import pandas as pd

    col = params.capacity_col
    if col not in sites.columns:
        where = Path(params.candidates).name if params.candidates else "generated candidates"
        raise ValidationError(
            f"{where}: no capacity column {col!r} (or use capacity)", field="capacity_col"
        )
    return pd.to_numeric(sites[col], errors="coerce").to_numpy(dtype=float)


def run_plan(
    params: PlanParams,
    stations,
    *,
    model=None,
    progress: Progress = _no_progress,
    cache_dir: str | Path | None = None,
) -> PlanRun:
    """Coverage before, candidates, coverage matrix, solve, coverage after.

    ``progress(stage, fraction)`` is called as each step starts (stages ``demand``,
    ``travel times``, ``candidates``, ``matrix``, ``solving``, ``coverage after``). The travel
    model is ``model``, else the road network of ``params.network`` (an OSM .pbf; its graph
    cached in ``cache_dir``), else crow-fly. ``stations`` is a list or a store, as for
    :func:`run_coverage` (only the stations within reach of the region are read).
    """
    from geo import candidates as cand
    from geo.coverage import compute_coverage
    from geo.plan import LSCP, MCLP, Budget, coverage_matrix

    kind = params.kind
    progress("demand", 0.0)
    demand = build_demand(
        params.region,
        params.population,
        params.population_table,
        params.demand_points,
        params.resolution,
        township_table=params.township_table,
        stations=stations,
    )
    if model is None:
        model = build_model(
            params.mode, params.network, params.speed_kph, params.circuity, cache_dir=cache_dir
        )
    stations = select_stations(
        stations, [kind], demand, model, params.max_minutes, ids=params.remove_station_ids
    )
    stations = apply_what_if(stations, params)
    progress("travel times", 0.2)
    before = compute_coverage(
        stations, demand, model, params.max_minutes, kinds=[kind], region=params.region
    )
    progress("candidates", 0.4)
    cost = math.nan if params.cost_per_site is None else params.cost_per_site
    if params.candidates:
        sites = cand.from_file(Path(params.candidates))
    elif params.candidate_source == "gaps":
        sites = cand.uncovered_cells(before, cost=cost)
    elif params.candidate_source == "grid":
        sites = cand.grid_in_gaps(before, params.grid_spacing_m, cost=cost)
    else:
        sites = cand.township_positions(params.region, cost=cost)
    progress("matrix", 0.45)
    cells = before.cells
    covers, minutes = coverage_matrix(
        cells["lon"].to_numpy(),
        cells["lat"].to_numpy(),
        sites["lon"].to_numpy(),
        sites["lat"].to_numpy(),
        model,
        params.max_minutes,
    )
    weights = cells["demand"].to_numpy()
    covered = before.covered(params.max_minutes)
    opts: dict[str, Any] = {
        "minutes": minutes,
        "existing_minutes": cells["minutes"].to_numpy(),
        "admin": {
            level: cells[col].to_numpy()
            for level, col in (("county", "county_code"), ("township", "township_code"))
            if col in cells.columns
        },
    }
    if params.capacity_col:
        opts["capacity"] = _capacity_column(params, sites)
    elif params.capacity is not None:
        opts["capacity"] = params.capacity
    problem: MCLP | LSCP | Budget
    if params.add is not None:
        problem = MCLP.from_cost_matrix(
            covers, weights, p=params.add, already_covered=covered, **opts
        )
    elif params.target_share is not None:
        problem = LSCP.from_cost_matrix(
            covers, weights, target_share=params.target_share, already_covered=covered, **opts
        )
    else:
        budget = params.budget
        assert budget is not None  # PlanParams holds exactly one of add, target_share, budget
        costs = sites["cost"].to_numpy() + params.years * np.nan_to_num(
            sites["yearly_cost"].to_numpy()
        )
        problem = Budget.from_cost_matrix(
            covers, weights, costs=costs, budget=budget, already_covered=covered, **opts
        )
    progress("solving", 0.55)
    plan = problem.solve(
        solver=params.solver, time_limit_s=params.time_limit_s, tie_break=params.tie_break
    )
    progress("coverage after", 0.8)
    site_lons, site_lats = sites["lon"].to_numpy(dtype=float), sites["lat"].to_numpy(dtype=float)
    new = [
        Station(
            id=str(sites["id"].iat[j]),
            name=str(sites["name"].iat[j]),
            kind=kind,
            lon=float(site_lons[j]),
            lat=float(site_lats[j]),
        )
        for j in plan.chosen
    ]
    after = compute_coverage(
        [*stations, *new], demand, model, params.max_minutes, kinds=[kind], region=params.region
    )
    return PlanRun(params, plan, sites, before, after, demand.source)


def write_plan_outputs(
    run: PlanRun,
    out_dir: str | Path,
    layers: bool = False,
    progress: Progress = _no_progress,
    lang: str = "zh",
    map_approval: str = "",
    icp: str = "",
    pdf: bool = True,
) -> dict[str, Path]:
    """Write a plan run's report folder (see :func:`geo.report.plan_report`).

    With ``layers``, also the planner pages' map layers of the coverage after the plan
    (keys ``layer_cells``, ``layer_gaps``, ``layer_stations``). With ``pdf`` (default),
    also ``report.pdf`` (key ``pdf``, :func:`geo.report_pdf.plan_pdf`).
    """
    from geo.report import plan_report, write_layers

    progress("report", 0.9)
    files = plan_report(
        run.plan,
        run.candidates,
        run.before,
        run.after,
        out_dir,
        record=run.record(),
        lang=lang,
        map_approval=map_approval,
        icp=icp,
    )
    if pdf:
        from geo.report_pdf import plan_pdf

        files["pdf"] = plan_pdf(
            run.plan,
            run.candidates,
            run.before,
            run.after,
            Path(out_dir) / "report.pdf",
            record=run.record(),
            lang=lang,
            map_approval=map_approval,
            icp=icp,
        )
    if layers:
        files.update({f"layer_{k}": v for k, v in write_layers(run.after, out_dir).items()})
    return files


def compare(a: dict, b: dict) -> list[dict]:
    """Two scenario summaries side by side: one row per figure."""
    keys = [
        "problem",
        "solver",
        "status",
        "share_before",
        "share_after",
        "gap",
        "cost",
        "yearly_cost",
        "sites",
    ]
    return [{"figure": k, "a": a.get(k), "b": b.get(k)} for k in keys]


# ------------------------------------------------------------------------------------------
# The taxonomy in spawned processes


@dataclass(frozen=True)
class Taxonomy:
    """The kinds and services a process knows, to install in another process.

    Kinds added by configuration (``YIZHAN_EXTRA_KINDS``) live in :mod:`geo.models`' registry
    of the process that registered them; a spawned worker starts with the built-in ones only.
    A job carries :meth:`current` with its arguments and calls :meth:`install` first.
    """

    kinds: tuple[Term, ...]
    services: tuple[Term, ...]

    @classmethod
    def current(cls) -> Taxonomy:
        """This process's kinds and services."""
        from geo.models import KINDS, SERVICES

        return cls(tuple(KINDS.values()), tuple(SERVICES.values()))

    def install(self) -> None:
        """Register every kind and service in this process (idempotent)."""
        from geo.models import KINDS, SERVICES, register_kind, register_service

        for term in self.kinds:
            if KINDS.get(term.code) != term:
                register_kind(term)
        for term in self.services:
            if SERVICES.get(term.code) != term:
                register_service(term)
