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
    candidates: str | None = None
    cost_per_site: float | None = None
    population: str | None = None
    population_table: str | None = None
    demand_points: str | None = None
    resolution: int = 8
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


def run_plan(stations: list[Station], params: PlanParams, model=None) -> PlanRun:
    """Coverage before, candidates, coverage matrix, solve, coverage after."""
    from geo import candidates as cand
    from geo import demand as dm
    from geo.coverage import compute_coverage
    from geo.models import parse_kind
    from geo.plan import LSCP, MCLP, Budget, coverage_matrix_crowfly
    from geo.travel import CrowflyModel

    kind = parse_kind(params.kind)
    if params.demand_points:
        demand = dm.from_points(params.demand_points, region=params.region)
    elif params.population or params.population_table:
        cells = dm.h3_cells(dm.region_polygon(params.region), params.resolution)
        demand = (
            dm.from_raster(params.population, cells)
            if params.population
            else dm.from_admin_table(params.population_table, cells)
        )
    else:
        demand = dm.from_admin_seats(params.region, level="township")
    model = model or CrowflyModel(params.mode, speed_kph=params.speed_kph, circuity=params.circuity)
    stations = apply_what_if(stations, params)
    before = compute_coverage(
        stations, demand, model, params.max_minutes, kinds=[kind], region=params.region
    )
    cost = math.nan if params.cost_per_site is None else params.cost_per_site
    sites = (
        cand.from_file(Path(params.candidates))
        if params.candidates
        else cand.township_positions(params.region, cost=cost)
    )
    cells = before.cells
    covers = coverage_matrix_crowfly(
        cells["lon"].to_numpy(),
        cells["lat"].to_numpy(),
        sites["lon"].to_numpy(),
        sites["lat"].to_numpy(),
        model,
        params.max_minutes,
    )
    weights = cells["demand"].to_numpy()
    covered = cells[f"covered_{params.max_minutes:g}"].to_numpy()
    if params.add is not None:
        problem = MCLP.from_cost_matrix(covers, weights, p=params.add, already_covered=covered)
    elif params.target_share is not None:
        problem = LSCP.from_cost_matrix(
            covers, weights, target_share=params.target_share, already_covered=covered
        )
    else:
        costs = sites["cost"].to_numpy() + params.years * np.nan_to_num(
            sites["yearly_cost"].to_numpy()
        )
        problem = Budget.from_cost_matrix(
            covers, weights, costs=costs, budget=params.budget, already_covered=covered
        )
    plan = problem.solve(solver=params.solver, time_limit_s=params.time_limit_s)
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
