"""Planning runs and saved scenarios: the steps behind ``yizhan plan`` as one function.

:class:`PlanParams` holds everything a plan depends on (kind, region, problem, threshold,
mode, candidates, demand inputs, what-if edits); :func:`run_plan` turns it and the current
registry into a :class:`PlanRun` (the plan, the candidates, coverage before and after).
Scenarios store the parameters and the last result in the database
(:class:`geo.store.ScenarioRepository`), so a planner can re-run one after the registry
changed, compare two side by side, or try adding and removing stations by hand.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from geo.errors import ValidationError
from geo.models import Station


@dataclass
class PlanParams:
    """What a plan depends on (all JSON-ready, so a scenario can store it)."""

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
    resolution: int = 8
    candidate_source: str = "townships"
    grid_spacing_m: float = 5000.0
    add_stations: list[dict] = field(default_factory=list)
    remove_station_ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.add, self.target_share, self.budget)) != 1:
            raise ValidationError("give exactly one of add, target_share, budget", field="problem")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PlanParams:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class PlanRun:
    """The outcome of :func:`run_plan`."""

    params: PlanParams
    plan: object
    candidates: object
    before: object
    after: object
    demand_source: str

    def summary(self) -> dict:
        """The figures a scenario keeps and a comparison shows."""
        p = self.plan
        chosen = self.candidates.iloc[list(p.chosen)]
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
        }


def apply_what_if(stations: list[Station], params: PlanParams) -> list[Station]:
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


def build_demand(
    region: str,
    population: str | None = None,
    population_table: str | None = None,
    demand_points: str | None = None,
    resolution: int = 8,
):
    """Demand for ``region`` from one population input, else one unit per township seat."""
    from geo import demand as dm

    if sum(bool(x) for x in (population, population_table, demand_points)) > 1:
        raise ValidationError(
            "give at most one of population, population_table, demand_points", field="demand"
        )
    if demand_points:
        return dm.from_points(demand_points, region=region)
    if population or population_table:
        cells = dm.h3_cells(dm.region_polygon(region), resolution)
        return (
            dm.from_raster(population, cells)
            if population
            else dm.from_admin_table(population_table, cells)
        )
    return dm.from_admin_seats(region, level="township")


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


def _no_progress(stage: str, fraction: float) -> None:
    return None


#: Candidate sources :func:`run_plan` can generate when no candidates file is given.
CANDIDATE_SOURCES = ("townships", "gaps", "grid")


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
    stations: list[Station],
    params: PlanParams,
    model=None,
    progress=_no_progress,
    cache_dir: str | Path | None = None,
) -> PlanRun:
    """Coverage before, candidates, coverage matrix, solve, coverage after.

    ``progress(stage, fraction)`` is called as each step starts (stages ``demand``,
    ``travel times``, ``candidates``, ``matrix``, ``solving``, ``coverage after``;
    ``fraction`` of the whole run, 0–1). The travel model is ``model``, else the road network
    of ``params.network`` (an OSM .pbf; its graph cached in ``cache_dir``), else crow-fly.
    """
    from geo import candidates as cand
    from geo.coverage import compute_coverage
    from geo.models import parse_kind
    from geo.plan import LSCP, MCLP, Budget, coverage_matrix

    kind = parse_kind(params.kind)
    if params.candidate_source not in CANDIDATE_SOURCES:
        raise ValidationError(
            f"candidate_source must be one of {', '.join(CANDIDATE_SOURCES)}",
            field="candidate_source",
        )
    progress("demand", 0.0)
    demand = build_demand(
        params.region,
        params.population,
        params.population_table,
        params.demand_points,
        params.resolution,
    )
    if model is None:
        model = build_model(
            params.mode, params.network, params.speed_kph, params.circuity, cache_dir=cache_dir
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
    covered = cells[f"covered_{params.max_minutes:g}"].to_numpy()
    opts = {"minutes": minutes, "existing_minutes": cells["minutes"].to_numpy()}
    if params.capacity_col and params.capacity is not None:
        raise ValidationError("give capacity or capacity_col, not both", field="capacity")
    if params.capacity_col:
        opts["capacity"] = _capacity_column(params, sites)
    elif params.capacity is not None:
        opts["capacity"] = params.capacity
    if params.add is not None:
        problem = MCLP.from_cost_matrix(
            covers, weights, p=params.add, already_covered=covered, **opts
        )
    elif params.target_share is not None:
        if "capacity" in opts:
            raise ValidationError(
                "capacities work with --add or --budget, not --target-share", field="capacity"
            )
        problem = LSCP.from_cost_matrix(
            covers, weights, target_share=params.target_share, already_covered=covered, **opts
        )
    else:
        costs = sites["cost"].to_numpy() + params.years * np.nan_to_num(
            sites["yearly_cost"].to_numpy()
        )
        problem = Budget.from_cost_matrix(
            covers, weights, costs=costs, budget=params.budget, already_covered=covered, **opts
        )
    problem.admin = {
        level: cells[col].to_numpy()
        for level, col in (("county", "county_code"), ("township", "township_code"))
        if col in cells.columns
    }
    progress("solving", 0.55)
    plan = problem.solve(
        solver=params.solver, time_limit_s=params.time_limit_s, tie_break=params.tie_break
    )
    progress("coverage after", 0.8)
    new = [
        Station(
            id=str(sites["id"].iat[j]),
            name=str(sites["name"].iat[j]),
            kind=kind,
            lon=float(sites["lon"].iat[j]),
            lat=float(sites["lat"].iat[j]),
        )
        for j in plan.chosen
    ]
    after = compute_coverage(
        [*stations, *new], demand, model, params.max_minutes, kinds=[kind], region=params.region
    )
    return PlanRun(params, plan, sites, before, after, demand.source)


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
