"""The answer of a planning problem: :class:`Plan` (chosen sites, coverage, bound, gap).

A plan is a plain record: it holds what the solver found and how good it is proven to be,
per demand row what changed (for :meth:`Plan.by_admin`), and a JSON-ready
:meth:`Plan.to_dict`. It never refers back to the problem that produced it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from geo.errors import ValidationError

__all__ = ["Plan"]


@dataclass
class Plan:
    """The answer to a planning problem.

    Attributes
    ----------
    problem
        ``"mclp"``, ``"lscp"`` or ``"budget"``.
    solver
        The solver whose answer this is (``"greedy"`` or ``"exact"``); after a fallback it
        says ``"greedy"`` and ``messages`` says why.
    status
        ``"optimal"`` (proven: bound met), ``"feasible"`` (a solution, gap in ``gap``) or
        ``"infeasible"`` (LSCP target out of reach: the plan reaches ``best_share`` instead).
    chosen
        Candidate indices (into the candidates given), in the order they were added: each
        the best next site given the ones before it.
    gains
        Covered weight each chosen site adds, in the same order; sums to
        ``covered_after − covered_before``. After a mean-time tie-break a site may add 0:
        it covers nothing new but serves demand faster (listed last).
    objective
        Covered weight with the plan (existing stations included) = ``covered_after``.
    covered_before, covered_after, total_weight
        Covered weight by existing stations alone, with the plan, and all demand weight.
    bound, gap
        A proven bound and the relative gap to it. MCLP/Budget: an upper bound on
        ``covered_after``; ``gap = (bound − objective) / (bound − covered_before)`` (the gap
        on *new* coverage, 0 when nothing can be added). LSCP: a lower bound on the number of
        sites; ``gap = (len(chosen) − bound) / len(chosen)``.
        The bound is the best one proven by any source (``stats["bounds"]`` lists every
        bound computed, by source); ``"optimal"`` is claimed only when a proven bound meets
        the plan (or HiGHS proved it with a finite dual bound), never from the plan itself.
    bound_source
        How the bound was proven: ``"lp"``, ``"lp-dual"`` (interior-point LP duals put into
        the Lagrangian), ``"lagrangian"``, ``"mip"``, ``"submodular"``, ``"capacity"``
        (capacity plans: the best ``p`` of min(capacity, reachable weight)) or ``"trivial"``.
    cost
        Summed cost of the chosen sites (Budget only).
    best_share
        LSCP: the largest share all candidates together can reach.
    run_time_s
        Wall time of ``solve`` in seconds.
    messages
        What a user should know: caps, fallbacks, time-outs, infeasibility.
    stats
        Problem size before and after reduction.
    mean_minutes
        Demand-weighted mean travel minutes of the covered demand to its serving site (the
        nearest chosen or existing one; with capacities, the site it is assigned to). Known
        only when the problem was given travel minutes; demand covered by existing stations
        counts only when their minutes were given too (``existing_minutes``).
    assignment
        Capacity plans: per demand row, the chosen candidate serving it, ``-1`` for none (or
        an existing station). ``None`` without capacities.
    tie_break
        ``"mean-time"`` when a second pass minimised travel time among plans covering as
        much, else ``None``.
    """

    problem: str
    solver: str
    status: str
    chosen: np.ndarray
    gains: np.ndarray
    objective: float
    covered_before: float
    covered_after: float
    total_weight: float
    bound: float
    gap: float
    bound_source: str
    run_time_s: float = 0.0
    cost: float | None = None
    best_share: float | None = None
    messages: list[str] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    mean_minutes: float | None = None
    assignment: np.ndarray | None = field(default=None, repr=False)
    tie_break: str | None = None
    #: Per demand row (the rows given): weight, covered before / after, minutes to the
    #: serving site (NaN where unknown or not covered), admin codes by level.
    rows: dict = field(default_factory=dict, repr=False)

    @property
    def share_before(self) -> float:
        return self.covered_before / self.total_weight if self.total_weight > 0 else math.nan

    @property
    def share_after(self) -> float:
        return self.covered_after / self.total_weight if self.total_weight > 0 else math.nan

    @property
    def gap_of_total(self) -> float:
        """The gap over the whole objective, as a reader measures it.

        MCLP/Budget: ``(bound − objective) / bound`` of the total covered (existing stations
        included), 0 when the bound is 0; ``gap`` measures the same distance over the *new*
        coverage only, which looks large when little can be added. LSCP: ``gap`` (already
        over the plan's number of sites).
        """
        if self.problem == "lscp":
            return self.gap
        if not (self.bound > 0) or not math.isfinite(self.bound):
            return 0.0 if self.bound == 0 else math.nan
        return max(0.0, (self.bound - self.objective) / self.bound)

    @property
    def bound_share(self) -> float | None:
        """MCLP/Budget: the bound as a share of all demand weight (``None`` for LSCP, whose
        bound is a number of sites)."""
        if self.problem == "lscp" or not self.total_weight > 0:
            return None
        return self.bound / self.total_weight

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {
            "problem": self.problem,
            "solver": self.solver,
            "status": self.status,
            "chosen": [int(j) for j in self.chosen],
            "gains": [float(g) for g in self.gains],
            "objective": self.objective,
            "covered_before": self.covered_before,
            "covered_after": self.covered_after,
            "total_weight": self.total_weight,
            "share_before": self.share_before,
            "share_after": self.share_after,
            "bound": self.bound,
            "gap": self.gap,
            "gap_of_total": self.gap_of_total,
            "bound_share": self.bound_share,
            "bound_source": self.bound_source,
            "cost": self.cost,
            "best_share": self.best_share,
            "run_time_s": self.run_time_s,
            "messages": list(self.messages),
            "stats": dict(self.stats),
            "mean_minutes": self.mean_minutes,
            "tie_break": self.tie_break,
            **{
                f"by_{level}": self.by_admin(level).to_dict(orient="records")
                for level in self.rows.get("admin", {})
            },
        }

    def by_admin(self, level: str = "county"):
        """Coverage before and after the plan per admin unit (``county`` or ``township``).

        Needs the demand's admin codes (``from_geodataframe`` carries ``county_code`` and
        ``township_code`` when the demand frame has them). Columns: ``code, name, demand,
        covered_before, covered_after, gain, share_before, share_after, mean_minutes`` (the
        last when travel minutes are known).
        """
        import pandas as pd

        codes = self.rows.get("admin", {}).get(level)
        if codes is None:
            have = ", ".join(self.rows.get("admin", {})) or "none"
            raise ValidationError(
                f"the plan has no {level} codes (demand without them); have: {have}",
                field="by",
            )
        from geo.gazetteer import default_gazetteer

        w = self.rows["weights"]
        t = self.rows["minutes"]
        frame = pd.DataFrame(
            {
                "code": pd.Series(codes, dtype=object).fillna("").astype(str).to_numpy(),
                "demand": w,
                "covered_before": np.where(self.rows["covered_before"], w, 0.0),
                "covered_after": np.where(self.rows["covered_after"], w, 0.0),
                "wt": np.where(np.isfinite(t), w * np.nan_to_num(t), 0.0),
                "wk": np.where(np.isfinite(t), w, 0.0),
            }
        )
        out = frame.groupby("code", sort=True).sum().reset_index()
        g = default_gazetteer()
        out.insert(1, "name", [(u.name if (u := g.get(c)) else "") if c else "" for c in out.code])
        out["gain"] = out["covered_after"] - out["covered_before"]
        dem = out["demand"].where(out["demand"] > 0)
        out["share_before"] = out["covered_before"] / dem
        out["share_after"] = out["covered_after"] / dem
        out["mean_minutes"] = out["wt"] / out["wk"].where(out["wk"] > 0)
        out = out.drop(columns=["wt", "wk"])
        return out.astype(object).where(out.notna(), None)
