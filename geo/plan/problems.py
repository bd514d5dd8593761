"""The three planning problems and their front doors (STYLE practice 6, after spopt).

* :class:`MCLP` — maximal covering: the best ``p`` new sites;
* :class:`LSCP` — set covering: the fewest sites that reach ``target_share`` of all weight;
* :class:`Budget` — the best sites whose summed cost stays within a budget.

Each is built with ``from_cost_matrix(...)`` (a demand × candidate coverage matrix) or
``from_geodataframe(...)`` (GeoDataFrames in any CRS and a travel model of
:mod:`geo.travel`), and answered by ``solve(...)`` (:meth:`geo.plan.base._Problem.solve`),
which returns a :class:`~geo.plan.results.Plan` and leaves the problem unchanged.
"""

from __future__ import annotations

import math

import numpy as np

from geo.errors import ValidationError
from geo.plan.base import _MaxCoverage, _Problem
from geo.plan.bounds import _dominated
from geo.plan.greedy import _lazy_greedy, _order
from geo.plan.inputs import _column, _geo_inputs
from geo.plan.milp import _highs_solve, highs_available
from geo.plan.reduction import _Reduced
from geo.plan.results import Plan

__all__ = ["LSCP", "MCLP", "SHARE_TOL", "Budget"]

#: LSCP: a plan reaches ``target_share`` when it covers at least ``(target_share −
#: SHARE_TOL) · total`` weight (float sums of weights are not exact).
SHARE_TOL = 1e-9


class MCLP(_MaxCoverage):
    """Maximal covering: choose at most ``p`` new sites to cover the most new weight.

    ``p`` larger than the number of candidates is capped, with a message (not refused).
    Plans may have fewer than ``p`` sites when no further site adds coverage.
    """

    problem = "mclp"

    def __init__(self, covers, weights=None, p: int = 1, already_covered=None, **kw) -> None:
        super().__init__(covers, weights, already_covered, **kw)
        if isinstance(p, bool) or not isinstance(p, int | np.integer) or p < 0:
            raise ValidationError(f"p must be a whole number ≥ 0, got {p!r}", field="p")
        p = int(p)
        if p > self.n_candidates:
            self.messages.append(
                f"p = {p} exceeds the {self.n_candidates} candidates: capped at {self.n_candidates}"
            )
            p = self.n_candidates
        self.p = p

    @classmethod
    def from_cost_matrix(
        cls,
        covers,
        weights=None,
        p: int = 1,
        already_covered=None,
        *,
        minutes=None,
        existing_minutes=None,
        capacity=None,
        admin: dict | None = None,
    ) -> MCLP:
        """Build from a boolean demand × candidate ``covers`` matrix (sparse or dense).

        Parameters
        ----------
        covers
            ``covers[i, j]`` true when candidate ``j`` reaches demand ``i``.
        weights
            Demand weight per row (people); ``None`` means 1 each.
        p
            Number of new sites.
        already_covered
            Boolean mask of demand rows already covered by existing stations.
        minutes
            Travel minutes per covered pair (dense, or sparse with the pattern of ``covers``;
            e.g. the second matrix of :func:`coverage_matrix`): for the mean-time tie-break
            and :attr:`Plan.mean_minutes`.
        existing_minutes
            Minutes from each demand row to its nearest existing station (``inf`` where none
            within reach).
        capacity
            Demand weight each candidate can serve (one number or one per candidate, > 0).
        admin
            Admin codes of the demand rows by level, e.g. ``{"county": codes, "township":
            codes}`` (one code per row): carried onto :meth:`Plan.by_admin`.
        """
        return cls(
            covers,
            weights,
            p,
            already_covered,
            minutes=minutes,
            existing_minutes=existing_minutes,
            capacity=capacity,
            admin=admin,
        )

    @classmethod
    def from_geodataframe(
        cls,
        demand_gdf,
        candidates_gdf,
        *,
        p: int = 1,
        weights_col: str | None = None,
        max_minutes: float | None = None,
        service_radius_m: float | None = None,
        model=None,
        existing=None,
        capacity_col: str | None = None,
        capacity: float | None = None,
        admin_cols: dict | None = None,
    ) -> MCLP:
        """Best ``p`` sites from GeoDataFrames (spopt's ``MCLP.from_geodataframe``, with
        travel times of a :mod:`geo.travel` model instead of a planar distance).

        Parameters
        ----------
        demand_gdf, candidates_gdf
            GeoDataFrames in any CRS (reprojected to EPSG:4326). Points; polygons are placed
            at their representative points (inside the polygon; a message says how many).
        weights_col
            Demand weight column (people); ``None`` means 1 per row.
        max_minutes
            Travel-time limit of the ``model``; or give ``service_radius_m`` (straight-line
            metres) instead: a straight-line walk (circuity 1, the walking speed of
            :mod:`geo.travel`), whose minutes are the radius at that speed.
        model
            A travel model from :mod:`geo.travel` (crow-fly or road network); default the
            crow-fly car estimate.
        existing
            GeoDataFrame of existing stations (fixed): demand within reach of one counts as
            already covered, and its minutes enter the mean-time tie-break.
        capacity_col, capacity
            Capacity per candidate (a column, or one number for all): demand weight a site can
            serve; each demand row is then served by at most one site within reach.
        admin_cols
            Demand columns carried onto :meth:`Plan.by_admin` (when present).
        """
        kw, messages = _geo_inputs(
            demand_gdf,
            candidates_gdf,
            weights_col=weights_col,
            max_minutes=max_minutes,
            service_radius_m=service_radius_m,
            model=model,
            existing=existing,
            capacity_col=capacity_col,
            capacity=capacity,
            admin_cols=admin_cols,
        )
        problem = cls(p=p, **kw)
        problem.messages.extend(messages)
        return problem

    def _greedy(self, red):
        return _lazy_greedy(red, k_max=self.p)

    def _trivial_bound(self, red):
        g = np.sort(np.asarray(red.AT @ red.w).ravel())[::-1] if len(red.w) else np.zeros(1)
        top = float(g[: self.p].sum())
        if top < red.reachable:
            return red.before + top, "submodular"
        return red.before + red.reachable, "trivial"

    def _highs_kw(self):
        return {"p": self.p}

    def _side(self, plan):
        return {"p": self.p}


class Budget(_MaxCoverage):
    """Best sites with summed ``costs`` within ``budget`` (budgeted maximum coverage).

    Greedy picks by gain per cost among affordable sites, then compares with the best single
    affordable site and keeps the better (guarantee ½(1 − 1/e) of the optimum).
    """

    problem = "budget"

    def __init__(
        self, covers, weights=None, costs=None, budget: float = 0.0, already_covered=None, **kw
    ) -> None:
        super().__init__(covers, weights, already_covered, **kw)
        if costs is None:
            raise ValidationError("costs are required, one per candidate", field="costs")
        c = np.asarray(costs, dtype=float).ravel()
        if c.shape != (self.n_candidates,):
            raise ValidationError(
                f"costs has {c.size} values but there are {self.n_candidates} candidates",
                field="costs",
            )
        if not np.isfinite(c).all():
            raise ValidationError("costs must be finite (no NaN or missing)", field="costs")
        if (c < 0).any():
            raise ValidationError("costs must be ≥ 0", field="costs")
        try:
            b = float(budget)
        except (TypeError, ValueError):
            raise ValidationError(
                f"budget must be a number, got {budget!r}", field="budget"
            ) from None
        if not (math.isfinite(b) and b >= 0):
            raise ValidationError("budget must be finite and ≥ 0", field="budget")
        self.costs = c
        self.budget = b

    @classmethod
    def from_cost_matrix(
        cls,
        covers,
        weights=None,
        costs=None,
        budget: float = 0.0,
        already_covered=None,
        *,
        minutes=None,
        existing_minutes=None,
        capacity=None,
        admin: dict | None = None,
    ) -> Budget:
        """Build from ``covers`` (demand × candidate), ``costs`` per candidate and ``budget``.

        ``minutes``, ``existing_minutes``, ``capacity`` and ``admin`` as in
        :meth:`MCLP.from_cost_matrix`.
        """
        return cls(
            covers,
            weights,
            costs,
            budget,
            already_covered,
            minutes=minutes,
            existing_minutes=existing_minutes,
            capacity=capacity,
            admin=admin,
        )

    @classmethod
    def from_geodataframe(
        cls,
        demand_gdf,
        candidates_gdf,
        *,
        budget: float,
        cost_col: str,
        weights_col: str | None = None,
        max_minutes: float | None = None,
        service_radius_m: float | None = None,
        model=None,
        existing=None,
        capacity_col: str | None = None,
        capacity: float | None = None,
        admin_cols: dict | None = None,
    ) -> Budget:
        """Best sites within ``budget`` from GeoDataFrames; ``cost_col`` of the candidates
        gives each site's cost (missing or negative costs are refused).

        Parameters
        ----------
        demand_gdf, candidates_gdf
            GeoDataFrames in any CRS (reprojected to EPSG:4326). Points; polygons are placed
            at their representative points (inside the polygon; a message says how many).
        weights_col
            Demand weight column (people); ``None`` means 1 per row.
        max_minutes
            Travel-time limit of the ``model``; or give ``service_radius_m`` (straight-line
            metres) instead: a straight-line walk (circuity 1, the walking speed of
            :mod:`geo.travel`), whose minutes are the radius at that speed.
        model
            A travel model from :mod:`geo.travel` (crow-fly or road network); default the
            crow-fly car estimate.
        existing
            GeoDataFrame of existing stations (fixed): demand within reach of one counts as
            already covered, and its minutes enter the mean-time tie-break.
        capacity_col, capacity
            Capacity per candidate (a column, or one number for all): demand weight a site can
            serve; each demand row is then served by at most one site within reach.
        admin_cols
            Demand columns carried onto :meth:`Plan.by_admin` (when present).
        """
        kw, messages = _geo_inputs(
            demand_gdf,
            candidates_gdf,
            weights_col=weights_col,
            max_minutes=max_minutes,
            service_radius_m=service_radius_m,
            model=model,
            existing=existing,
            capacity_col=capacity_col,
            capacity=capacity,
            admin_cols=admin_cols,
        )
        costs = _column(candidates_gdf, cost_col, "cost_col")
        problem = cls(costs=costs, budget=budget, **kw)
        problem.messages.extend(messages)
        return problem

    def _greedy(self, red):
        sites, gains = _lazy_greedy(red, costs=self.costs, budget=self.budget)
        g0 = np.asarray(red.AT @ red.w).ravel() if len(red.w) else np.zeros(self.n_candidates)
        affordable = np.flatnonzero(self.costs <= self.budget)
        if len(affordable):
            j = int(affordable[np.argmax(g0[affordable])])
            if g0[j] > sum(gains) + 1e-12:
                return [j], [float(g0[j])]
        return sites, gains

    def _trivial_bound(self, red):
        # Fractional knapsack over single-site gains (valid by subadditivity).
        g0 = np.asarray(red.AT @ red.w).ravel() if len(red.w) else np.zeros(self.n_candidates)
        ok = (self.costs <= self.budget) & (g0 > 0)
        g, c = g0[ok], self.costs[ok]
        free = c == 0
        total = float(g[free].sum())
        g, c = g[~free], c[~free]
        order = np.argsort(-g / c, kind="stable")
        left = self.budget
        for gi, ci in zip(g[order], c[order], strict=True):
            if ci <= left:
                total += gi
                left -= ci
            else:
                total += gi * left / ci
                break
        if total < red.reachable:
            return red.before + total, "submodular"
        return red.before + red.reachable, "trivial"

    def _highs_kw(self):
        return {"costs": self.costs, "budget": self.budget}

    def _side(self, plan):
        return {"costs": self.costs, "budget": self.budget}

    def _extra(self, sites):
        return {"cost": float(self.costs[list(sites)].sum()) if len(sites) else 0.0}


class LSCP(_Problem):
    """Set covering: the fewest new sites so that ``target_share`` of all weight is covered.

    The share counts all demand weight (existing coverage included). An unreachable target is
    not an error: the plan has ``status="infeasible"``, reports ``best_share`` (all candidates
    together) and gives the fewest sites reaching that share instead.
    """

    problem = "lscp"

    def __init__(
        self,
        covers,
        weights=None,
        target_share: float = 1.0,
        already_covered=None,
        *,
        minutes=None,
        existing_minutes=None,
        capacity=None,
        **kw,
    ) -> None:
        if capacity is not None:
            raise ValidationError(
                "capacities are supported for MCLP (best k sites) and Budget, not for the "
                "fewest-sites problem",
                field="capacity",
            )
        super().__init__(
            covers,
            weights,
            already_covered,
            minutes=minutes,
            existing_minutes=existing_minutes,
            **kw,
        )
        try:
            t = float(target_share)
        except (TypeError, ValueError):
            raise ValidationError(
                f"target_share must be a number, got {target_share!r}", field="target_share"
            ) from None
        if not (0 < t <= 1):
            raise ValidationError(
                f"target_share must be in (0, 1], got {target_share!r}", field="target_share"
            )
        if not self.weights.sum() > 0:
            raise ValidationError("total demand weight is 0: no share to reach", field="weights")
        self.target_share = t

    @classmethod
    def from_cost_matrix(
        cls,
        covers,
        weights=None,
        target_share: float = 1.0,
        already_covered=None,
        *,
        minutes=None,
        existing_minutes=None,
        admin: dict | None = None,
    ) -> LSCP:
        """Build from ``covers`` (demand × candidate) and the share of weight to reach.

        ``minutes``, ``existing_minutes`` and ``admin`` as in :meth:`MCLP.from_cost_matrix`
        (no capacities for this problem).
        """
        return cls(
            covers,
            weights,
            target_share,
            already_covered,
            minutes=minutes,
            existing_minutes=existing_minutes,
            admin=admin,
        )

    @classmethod
    def from_geodataframe(
        cls,
        demand_gdf,
        candidates_gdf,
        *,
        target_share: float = 1.0,
        weights_col: str | None = None,
        max_minutes: float | None = None,
        service_radius_m: float | None = None,
        model=None,
        existing=None,
        admin_cols: dict | None = None,
    ) -> LSCP:
        """Fewest sites reaching ``target_share`` of all demand weight, from GeoDataFrames.

        Parameters
        ----------
        demand_gdf, candidates_gdf
            GeoDataFrames in any CRS (reprojected to EPSG:4326). Points; polygons are placed
            at their representative points (inside the polygon; a message says how many).
        weights_col
            Demand weight column (people); ``None`` means 1 per row.
        max_minutes
            Travel-time limit of the ``model``; or give ``service_radius_m`` (straight-line
            metres) instead: a straight-line walk (circuity 1, the walking speed of
            :mod:`geo.travel`), whose minutes are the radius at that speed.
        model
            A travel model from :mod:`geo.travel` (crow-fly or road network); default the
            crow-fly car estimate.
        existing
            GeoDataFrame of existing stations (fixed): demand within reach of one counts as
            already covered, and its minutes enter the mean-time tie-break.
        admin_cols
            Demand columns carried onto :meth:`Plan.by_admin` (when present).
        """
        kw, messages = _geo_inputs(
            demand_gdf,
            candidates_gdf,
            weights_col=weights_col,
            max_minutes=max_minutes,
            service_radius_m=service_radius_m,
            model=model,
            existing=existing,
            admin_cols=admin_cols,
        )
        kw.pop("capacity")
        problem = cls(target_share=target_share, **kw)
        problem.messages.extend(messages)
        return problem

    def _side(self, plan):
        return {"max_sites": len(plan.chosen)}

    def _need(self, red: _Reduced) -> tuple[float, bool, bool]:
        """New weight to cover, whether that is every reachable row, and whether out of reach.

        A plan reaches the target when it covers at least ``target_share · total −
        SHARE_TOL · total``. With whole-number weights the need is rounded up to a whole
        number (exact, no tolerance left in the model); when it is all the reachable weight
        the model is the plain set cover (every row covered), never a weighted row that asks
        for ``total − ε``.
        """
        tol = SHARE_TOL * max(red.total, 1.0)
        need = self.target_share * red.total - red.before - tol
        noise = 1e-12 * max(red.total, 1.0)  # float noise of summed weights
        out_of_reach = need > red.reachable + noise
        if out_of_reach:
            need = red.reachable
        if len(red.w) and bool(np.all(red.w == np.round(red.w))):
            need = float(math.ceil(need - noise))
        need = min(max(0.0, need), red.reachable)
        full = need > 0 and (
            need >= red.reachable or need > red.reachable - float(red.w.min(initial=math.inf))
        )
        return need, full, out_of_reach

    def _solve(self, red, solver, time_limit_s, messages, improve=True) -> Plan:
        tol = 1e-12 * max(red.total, 1.0)  # float noise of summed weights only
        best_share = (red.before + red.reachable) / red.total
        need, full, out_of_reach = self._need(red)
        status = "feasible"
        if out_of_reach:
            messages.append(
                f"target share {self.target_share:.4g} is out of reach: all candidates "
                f"together cover {best_share:.4g}; planned for that share instead"
            )
            status = "infeasible"
        if full:
            need = red.reachable
        sites, gains = _lazy_greedy(red, need=need) if need > 0 else ([], [])
        # Lower bound on the number of sites: smallest k whose top-k single gains reach need.
        g0 = np.sort(np.asarray(red.AT @ red.w).ravel())[::-1] if len(red.w) else np.zeros(1)
        lb = int(np.searchsorted(np.cumsum(g0), need - tol)) + 1 if need > 0 else 0
        lb = min(lb, len(sites))
        source = "submodular"
        if need > 0 and lb < len(sites) and highs_available():
            if solver == "greedy":
                lp = _highs_solve(
                    red, "lscp", need=need, full=full, relax=True, time_limit_s=time_limit_s
                )
                if lp.bound is not None and math.ceil(lp.bound - 1e-6) > lb:
                    lb, source = min(math.ceil(lp.bound - 1e-6), len(sites)), "lp"
            else:
                off = _dominated(red)
                off[list(sites)] = False
                res = _highs_solve(
                    red,
                    "lscp",
                    need=need,
                    full=full,
                    time_limit_s=time_limit_s,
                    warm=sites,
                    fixed_off=off,
                )
                if res.message:
                    messages.append(res.message)
                # Only what HiGHS proves: its dual bound (rounded up, counts are whole), never
                # the size of a plan. An 'infeasible' answer proves nothing here (greedy has a
                # plan), so the bound stays where it was.
                if res.bound is not None and math.ceil(res.bound - 1e-6) > lb:
                    lb, source = min(math.ceil(res.bound - 1e-6), len(sites)), "mip"
                used = "greedy"
                if res.sites is not None:
                    e_sites, e_gains = _order(red, res.sites)
                    if sum(e_gains) >= need - tol and len(e_sites) <= len(sites):
                        sites, gains, used = e_sites, e_gains, "exact"
                        if res.bound is not None and math.ceil(res.bound - 1e-6) > lb:
                            lb, source = min(math.ceil(res.bound - 1e-6), len(sites)), "mip"
                    elif sum(e_gains) < need - tol:
                        messages.append("exact solution falls short of the target numerically")
                if res.status == "infeasible":
                    messages.append(
                        "exact solver called the target unreachable although greedy reaches it "
                        "(numerical trouble): greedy plan kept, not proven minimal"
                    )
                elif used == "greedy":
                    messages.append(
                        f"exact did not finish ({res.status}) within {time_limit_s:g} s, "
                        "fell back to greedy"
                    )
                solver = used
        elif solver == "exact" and need > 0:
            solver = "exact" if lb == len(sites) else "greedy"
        k = len(sites)
        gap = (k - lb) / k if k else 0.0
        if status == "feasible" and k == lb:
            status = "optimal"
        if status == "infeasible":
            messages.append(f"best reachable share {best_share:.4g} needs {k} site(s)")
        return self._make(
            red, solver, status, sites, gains, lb, gap, source, messages, best_share=best_share
        )
