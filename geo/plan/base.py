"""The shared problem: validated inputs, reduced once, and the solve driver.

:class:`_Problem` holds what a problem is built from (the coverage matrix, weights, existing
coverage, minutes, capacities, admin codes) and :meth:`_Problem.solve` turns it into a
:class:`~geo.plan.results.Plan` without changing it (spopt's split of building and
solving): everything a solve learns lives in locals and in the plan. :class:`_MaxCoverage`
is the maximising solve of MCLP and Budget (greedy + local search + bounds, or the exact
MILP; with capacities the assignment model); the mean-time tie-break is
:meth:`_Problem._tie_break`.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from geo.errors import ValidationError
from geo.plan.bounds import (
    GAP_TARGET,
    IPM_BOUND_TIME_LIMIT_S,
    LP_BOUND_MAX_NNZ,
    LP_BOUND_TIME_LIMIT_S,
    _dominated,
    _fractional_knapsack,
    _lagrangian_bound,
    _lagrangian_value,
    _mclp_bound_fixing,
)
from geo.plan.greedy import (
    LOCAL_SEARCH_MAX_S,
    _capacity_values,
    _greedy_capacity,
    _local_search,
    _order,
)
from geo.plan.inputs import (
    _as_admin,
    _as_capacity,
    _as_covers,
    _as_existing_minutes,
    _as_mask,
    _as_minutes,
    _as_weights,
)
from geo.plan.milp import _highs_assign, _highs_solve, _pairs, highs_available
from geo.plan.reduction import _reduce, _Reduced
from geo.plan.results import Plan

SOLVERS = ("greedy", "exact")
TIE_BREAKS = (None, "mean-time")
#: Above this many matrix entries after reduction (demand-site pairs with capacities) the
#: exact MILP is not tried: greedy answers and the plan's messages say so.
EXACT_MAX_NNZ = 2_000_000
#: From this many matrix entries on, exact MCLP first runs :func:`_mclp_bound_fixing`.
EXACT_PREP_MIN_NNZ = 20_000


class _Problem:
    """Shared setup: validated matrix, weights and existing coverage, reduced once.

    Parameters
    ----------
    covers, weights, already_covered
        The coverage matrix, demand weights and existing coverage (see
        :meth:`MCLP.from_cost_matrix <geo.plan.MCLP.from_cost_matrix>`).
    minutes, existing_minutes, capacity
        Optional travel minutes per covered pair, minutes to the nearest existing station,
        and capacities per candidate.
    admin
        Admin codes of the demand rows by level (``{"county": codes, "township": codes}``,
        one code per row): carried onto :meth:`Plan.by_admin <geo.plan.Plan.by_admin>`.
    model, max_minutes
        The travel model and limit the matrix came from, recorded on the problem (not used
        in solving).

    Attributes are set here, when the problem is built, and never changed by
    :meth:`solve`: a problem can be solved any number of times with the same answer.
    """

    problem = ""

    def __init__(
        self,
        covers,
        weights=None,
        already_covered=None,
        *,
        minutes=None,
        existing_minutes=None,
        capacity=None,
        admin: dict | None = None,
        model=None,
        max_minutes: float | None = None,
    ) -> None:
        self.covers = _as_covers(covers)
        m, self.n_candidates = self.covers.shape
        self.weights = _as_weights(weights, m)
        self.already_covered = _as_mask(already_covered, m)
        self.minutes = _as_minutes(minutes, self.covers)
        self.existing_minutes = _as_existing_minutes(existing_minutes, self.already_covered)
        self.capacity = _as_capacity(capacity, self.n_candidates)
        #: Admin codes of the demand rows by level, for :meth:`Plan.by_admin`.
        self.admin: dict[str, np.ndarray] = _as_admin(admin, m)
        #: The travel model and limit the matrix came from (``from_geodataframe``), or None.
        self.model = model
        self.max_minutes = None if max_minutes is None else float(max_minutes)
        #: What a user should know about the inputs; every plan starts with these.
        self.messages: list[str] = []
        self._red = _reduce(self.covers, self.weights, self.already_covered)

    @property
    def reduced(self) -> _Reduced:
        """The matrix the solvers see (:mod:`geo.plan.reduction`), built with the problem."""
        return self._red

    def solve(
        self,
        solver: str = "greedy",
        time_limit_s: float = 60.0,
        improve: bool = True,
        tie_break: str | None = None,
    ) -> Plan:
        """Solve with ``"greedy"`` or ``"exact"`` (HiGHS MILP, ``time_limit_s`` seconds).

        ``improve`` (MCLP/Budget): polish greedy with a 1-swap local search (it never lowers
        the objective); exact is warm-started from the polished plan.

        Bounds and gaps are the best proven by any source (``Plan.stats["bounds"]`` lists
        each). When the exact solver stops without proof, greedy's Lagrangian and LP bounds
        are computed as well, after ``time_limit_s`` and with their own time (the
        Lagrangian up to 10 s, each LP up to ``min(time_limit_s, 20)`` s, at least 1 s), so
        its gap is never wider than greedy's on the same problem.

        ``tie_break="mean-time"`` (needs ``minutes`` and highspy): a second, lexicographic
        pass keeps the covered weight at least that of the first plan (the proven optimum
        after an exact solve) and the same limit (``p``, budget, or the LSCP's number of
        sites), and minimises demand-weighted travel minutes to the serving site (nearest
        chosen or existing station; existing stations count when ``existing_minutes`` was
        given). It has its own ``time_limit_s``; on a time-out the best plan found so far is
        kept (never worse than the first one) and a message says so.
        """
        if solver not in SOLVERS:
            raise ValidationError(
                f"unknown solver {solver!r}; use one of {', '.join(SOLVERS)}", field="solver"
            )
        if not time_limit_s > 0:
            raise ValidationError("time_limit_s must be > 0", field="time_limit_s")
        if tie_break not in TIE_BREAKS:
            raise ValidationError(
                f"unknown tie_break {tie_break!r}; use mean-time or none", field="tie_break"
            )
        if tie_break and self.minutes is None:
            raise ValidationError(
                "tie_break='mean-time' needs travel minutes per pair (minutes=..., or "
                "from_geodataframe, which computes them)",
                field="tie_break",
            )
        t0 = time.perf_counter()
        messages = list(self.messages)
        red = self.reduced
        if solver == "exact" and not highs_available():
            messages.append("exact solver needs highspy (HiGHS), not installed: used greedy")
            solver = "greedy"
        size = red.A.nnz if self.capacity is None else int(np.diff(self.covers.indptr).sum())
        if solver == "exact" and size > EXACT_MAX_NNZ:
            messages.append(
                f"the matrix has {size:,} entries after reduction, more than the exact solver "
                f"takes ({EXACT_MAX_NNZ:,}): used greedy (see the gap to the proven bound)"
            )
            solver = "greedy"
        if self.capacity is not None:
            plan = self._solve_capacity(red, solver, time_limit_s, messages)
        else:
            plan = self._solve(red, solver, time_limit_s, messages, improve=bool(improve))
        self._finish(plan)
        if tie_break:
            plan = self._tie_break(plan, time_limit_s)
        plan.run_time_s = time.perf_counter() - t0
        plan.stats = {**red.stats, **plan.stats}
        return plan

    # Subclasses implement _solve and the pieces below.
    def _solve(self, red, solver, time_limit_s, messages, improve=True) -> Plan:  # pragma: no cover
        raise NotImplementedError

    def _solve_capacity(self, red, solver, time_limit_s, messages) -> Plan:
        raise ValidationError(
            f"capacities are supported for MCLP and Budget, not {self.problem.upper()}",
            field="capacity",
        )

    def _side(self, plan: Plan | None) -> dict:
        """The limit of the problem for the assignment model (p, budget or sites)."""
        raise NotImplementedError  # pragma: no cover

    def _finish(self, plan: Plan) -> None:
        """Per-row outcome (covered after, minutes to the serving site) and the mean time."""
        A, covered, w = self.covers, self.already_covered, self.weights
        m = A.shape[0]
        t = np.full(m, np.nan)
        if self.existing_minutes is not None:
            t[covered] = self.existing_minutes[covered]
        chosen = np.asarray(plan.chosen, dtype=np.int64)
        prow = np.repeat(np.arange(m), np.diff(A.indptr))
        if plan.assignment is not None:
            a = plan.assignment
            after = covered | (a >= 0)
            if self.minutes is not None:
                hit = np.flatnonzero(a[prow] == A.indices)
                t[prow[hit]] = self.minutes[hit]
        else:
            sel = np.isin(A.indices, chosen)
            after = covered.copy()
            after[prow[sel]] = True
            if self.minutes is not None:
                best = np.full(m, np.inf)
                np.minimum.at(best, prow[sel], self.minutes[sel])
                new = ~covered & np.isfinite(best)
                t[new] = best[new]
                if self.existing_minutes is not None:
                    t[covered] = np.minimum(t[covered], best[covered])
        ok = after & np.isfinite(t) & (w > 0)
        plan.mean_minutes = (
            float(np.average(t[ok], weights=w[ok]))
            if self.minutes is not None and ok.any()
            else None
        )
        t[~after] = np.nan
        plan.rows = {
            "weights": w,
            "covered_before": covered,
            "covered_after": after,
            "minutes": t,
            "admin": dict(self.admin),
        }

    def _tie_break(self, plan: Plan, time_limit_s: float) -> Plan:
        """The lexicographic second pass of ``solve(tie_break="mean-time")``."""
        plan.tie_break = "mean-time"
        if not highs_available():
            plan.messages.append("tie-break needs highspy (HiGHS), not installed: skipped")
            return plan
        if len(plan.chosen) == 0:
            return plan
        A, covered, w = self.covers, self.already_covered, self.weights
        reach = np.diff(A.indptr) > 0
        rows_new = ~covered & (w > 0) & reach
        rows_keep = np.zeros_like(covered)
        if self.existing_minutes is not None:
            rows_keep = covered & (w > 0) & reach
        rows = np.flatnonzero(rows_new | rows_keep)
        pr = _pairs(A, w, rows)
        size = len(pr.prow)
        if size > EXACT_MAX_NNZ:
            plan.messages.append(
                f"tie-break skipped: {size:,} demand-site pairs, more than {EXACT_MAX_NNZ:,}"
            )
            return plan
        assert self.minutes is not None  # solve() refuses tie_break without minutes
        t_pair = self.minutes[pr.pidx]
        keep_t = np.full(len(rows), np.inf)
        if self.existing_minutes is not None:
            keep_t[rows_keep[rows]] = self.existing_minutes[rows[rows_keep[rows]]]
        new_cov = plan.covered_after - plan.covered_before
        tol = 1e-9 * max(plan.total_weight, 1.0)
        # warm start: the first plan, each row with its serving site
        x0 = np.zeros(self.n_candidates)
        x0[plan.chosen] = 1.0
        z0 = np.zeros(size)
        s0 = np.zeros(int(np.isfinite(keep_t).sum()))
        if plan.assignment is not None:
            z0[plan.assignment[rows[pr.prow]] == pr.pcol] = 1.0
        else:
            open_ = x0[pr.pcol] > 0
            best = np.full(len(rows), np.inf)
            np.minimum.at(best, pr.prow[open_], t_pair[open_])
            use = open_ & (t_pair == best[pr.prow]) & (best[pr.prow] < keep_t[pr.prow])
            first = np.unique(pr.prow[use], return_index=True)[1]
            z0[np.flatnonzero(use)[first]] = 1.0
        served = np.zeros(len(rows), dtype=bool)
        served[pr.prow[z0 > 0]] = True
        s0[:] = ~served[np.isfinite(keep_t)]
        res = _highs_assign(
            self.n_candidates,
            pr,
            **self._side(plan),
            capacity=self.capacity,
            pair_minutes=t_pair,
            keep_minutes=keep_t,
            cover_floor=max(0.0, new_cov - tol),
            integral_z=self.capacity is not None,
            time_limit_s=time_limit_s,
            warm=(x0, z0, s0),
        )
        before_mean = plan.mean_minutes
        if res.x is None:
            plan.messages.append(f"tie-break found no plan ({res.status}): first plan kept")
            return plan
        sites = [int(j) for j in np.flatnonzero(res.x)]
        if self.capacity is not None:
            assert res.z is not None  # x and z come together
            zb = res.z > 0.5
            a = np.full(len(w), -1, dtype=np.int64)
            a[rows[pr.prow[zb]]] = pr.pcol[zb]
            gain_j = np.bincount(
                pr.pcol[zb & ~rows_keep[rows][pr.prow]],
                weights=pr.w[pr.prow[zb & ~rows_keep[rows][pr.prow]]],
                minlength=self.n_candidates,
            )
            used = set(a[a >= 0].tolist())
            order = sorted((j for j in sites if j in used), key=lambda j: -gain_j[j])
            gains = [float(gain_j[j]) for j in order]
        else:
            a = None
            order, gains = _order(self.reduced, sites)
            # sites adding no coverage but serving demand faster stay, with a gain of 0
            t_open = np.where(res.x[pr.pcol], t_pair, np.inf)
            best = np.full(len(rows), np.inf)
            np.minimum.at(best, pr.prow, t_open)
            serving = pr.pcol[(t_open == best[pr.prow]) & (best[pr.prow] < keep_t[pr.prow])]
            extra = sorted(set(serving.tolist()) - set(order))
            order, gains = [*order, *extra], [*gains, *([0.0] * len(extra))]
        if sum(gains) < new_cov - 1e-7 * max(plan.total_weight, 1.0):
            plan.messages.append("tie-break plan covers less (numerically): first plan kept")
            return plan
        cand = dataclasses.replace(
            plan,
            chosen=np.asarray(order, dtype=np.int64),
            gains=np.asarray(gains, dtype=float),
            assignment=a,
            messages=list(plan.messages),
            stats=dict(plan.stats),
        )
        after = cand.covered_before + float(sum(gains))
        cand.objective = cand.covered_after = after
        if cand.problem == "lscp":
            k = len(cand.chosen)
            cand.gap = (k - cand.bound) / k if k else 0.0
        else:
            denom = cand.bound - cand.covered_before
            cand.gap = max(0.0, (cand.bound - after) / denom) if denom > tol else 0.0
        self._finish(cand)
        if (
            before_mean is not None
            and cand.mean_minutes is not None
            and cand.mean_minutes > before_mean + 1e-9 * max(before_mean, 1.0)
        ):
            plan.messages.append("tie-break found no faster plan: first plan kept")
            return plan
        cand.stats["tie_break"] = {
            "status": res.status,
            "mean_minutes_before": before_mean,
            "mean_minutes_after": cand.mean_minutes,
        }
        note = "" if res.status == "optimal" else f" (stopped: {res.status}, may not be minimal)"

        def fmt(v):
            return "n/a" if v is None else f"{v:.2f}"

        cand.messages.append(
            f"tie-break: mean minutes {fmt(before_mean)} → {fmt(cand.mean_minutes)} at equal "
            f"or better coverage{note}"
        )
        return cand

    def _plan(
        self, red: _Reduced, solver, status, sites, gains, bound, source, messages, **extra
    ) -> Plan:
        after = red.before + float(sum(gains))
        denom = bound - red.before
        gap = max(0.0, (bound - after) / denom) if denom > 1e-12 * max(red.total, 1.0) else 0.0
        if status == "feasible" and gap <= 1e-9:
            status = "optimal"
        return self._make(red, solver, status, sites, gains, bound, gap, source, messages, **extra)

    def _make(
        self, red: _Reduced, solver, status, sites, gains, bound, gap, source, messages, **extra
    ) -> Plan:
        """The :class:`Plan` record (objective = covered before + the gains)."""
        after = red.before + float(sum(gains))
        return Plan(
            problem=self.problem,
            solver=solver,
            status=status,
            chosen=np.asarray(sites, dtype=np.int64),
            gains=np.asarray(gains, dtype=float),
            objective=after,
            covered_before=red.before,
            covered_after=after,
            total_weight=red.total,
            bound=float(bound),
            gap=float(gap),
            bound_source=source,
            messages=messages,
            **extra,
        )


class _MaxCoverage(_Problem):
    """MCLP and Budget share a maximising solve; they differ in the side constraint."""

    def _greedy(self, red: _Reduced) -> tuple[list[int], list[float]]:
        raise NotImplementedError  # pragma: no cover

    def _trivial_bound(self, red: _Reduced) -> tuple[float, str]:
        raise NotImplementedError  # pragma: no cover

    def _highs_kw(self) -> dict:
        raise NotImplementedError  # pragma: no cover

    def _extra(self, sites) -> dict:
        return {}

    def _solve(self, red, solver, time_limit_s, messages, improve=True) -> Plan:
        t0 = time.perf_counter()
        sites, gains = self._greedy(red)
        stats: dict[str, Any] = {
            "greedy_objective": red.before + float(sum(gains)),
            "local_search_moves": 0,
        }
        if improve and sites:
            ls_sites, moves = _local_search(
                red, sites, max_s=min(LOCAL_SEARCH_MAX_S, time_limit_s / 4), **self._highs_kw()
            )
            if moves:
                o_sites, o_gains = _order(red, ls_sites)
                if sum(o_gains) > sum(gains):
                    sites, gains = o_sites, o_gains
                    stats["local_search_moves"] = moves
        stats["greedy_s"] = time.perf_counter() - t0
        bound, source = self._trivial_bound(red)
        bounds = {source: bound}
        if solver == "greedy":
            bound, source = self._proven_bound(
                red, float(sum(gains)), bound, source, time_limit_s, messages, bounds
            )
            stats["bounds"] = bounds
            stats["bound_s"] = time.perf_counter() - t0 - stats["greedy_s"]
            return self._plan(
                red,
                "greedy",
                "feasible",
                sites,
                gains,
                bound,
                source,
                messages,
                stats=stats,
                **self._extra(sites),
            )
        off = _dominated(red, getattr(self, "costs", None))
        off[list(sites)] = False
        stats["dominated_candidates"] = int(off.sum())
        left_s = time_limit_s
        p = self._highs_kw().get("p")  # MCLP only
        if p is not None and p > 0 and red.A.nnz > EXACT_PREP_MIN_NNZ:
            t1 = time.perf_counter()
            sites, gains, fix = _mclp_bound_fixing(red, p, sites, gains, time_limit_s, stats)
            off |= fix
            off[list(sites)] = False
            left_s = max(1.0, time_limit_s - (time.perf_counter() - t1))
        res = _highs_solve(
            red,
            self.problem,
            time_limit_s=left_s,
            warm=sites,
            fixed_off=off,
            **self._highs_kw(),
        )
        if res.message:
            messages.append(res.message)
        # The best bound proven by any source: the MIP's dual bound, the Lagrangian bound of
        # the bound fixing, and (when HiGHS did not prove its answer) greedy's own bounds.
        if res.bound is not None:
            bounds["mip"] = red.before + res.bound
            if red.before + res.bound < bound:
                bound, source = red.before + res.bound, "mip"
        if stats.get("lagrangian_bound") is not None:
            lag = red.before + float(stats["lagrangian_bound"])
            bounds["lagrangian"] = min(lag, bounds.get("lagrangian", lag))
            if lag < bound:
                bound, source = lag, "lagrangian"
        if res.status != "optimal":
            best = red.before + float(sum(gains))
            if res.sites is not None:
                best = max(best, red.before + float(sum(_order(red, res.sites)[1])))
            # its own time: an exact run stopped at a tiny limit still gets a real bound
            bound_s = max(1.0, min(time_limit_s, LP_BOUND_TIME_LIMIT_S))
            bound, source = self._proven_bound(
                red, best - red.before, bound, source, bound_s, messages, bounds
            )
        stats["bounds"] = bounds
        exact_sites = res.sites
        fallback = None
        if exact_sites is None:
            fallback = f"exact found no solution ({res.status}) within {time_limit_s:g} s"
        else:
            e_sites, e_gains = _order(red, exact_sites)
            dropped = len(exact_sites) - len(e_sites)
            if dropped:
                messages.append(f"{dropped} site(s) of the exact solution add no coverage: dropped")
            if sum(e_gains) < sum(gains) - 1e-9 * max(red.total, 1.0):
                fallback = f"exact timed out after {time_limit_s:g} s with a worse incumbent"
        if fallback is not None:
            messages.append(f"{fallback}, fell back to greedy")
            return self._plan(
                red,
                "greedy",
                "feasible",
                sites,
                gains,
                bound,
                source,
                messages,
                stats=stats,
                **self._extra(sites),
            )
        if res.status == "time_limit":
            messages.append(f"exact stopped at the time limit ({time_limit_s:g} s): see gap")
        status = "optimal" if res.status == "optimal" else "feasible"
        stats["exact_s"] = time.perf_counter() - t0 - stats["greedy_s"]
        plan = self._plan(
            red,
            "exact",
            status,
            e_sites,
            e_gains,
            bound,
            source,
            messages,
            stats=stats,
            **self._extra(e_sites),
        )
        if res.status == "optimal":
            plan.status = "optimal"  # proven within MIP_REL_GAP (or below 1 on integer weights)
        return plan

    def _proven_bound(
        self,
        red: _Reduced,
        got: float,
        bound: float,
        source: str,
        time_limit_s: float,
        messages: list[str],
        bounds: dict[str, float],
    ) -> tuple[float, str]:
        """Tighten ``bound`` (on covered weight) with the Lagrangian and LP bounds.

        ``got`` is the new weight of the best plan known (the Polyak target). Every bound
        computed is recorded in ``bounds`` by source; the smallest one is returned with its
        source (all are proven upper bounds, so the smallest is the best one known).
        """
        slack = 1e-9 * max(red.total, 1.0)
        if red.before + got < bound - slack:
            lag = red.before + _lagrangian_bound(
                red, got, max_s=min(10.0, time_limit_s), **self._highs_kw()
            )
            bounds["lagrangian"] = min(lag, bounds.get("lagrangian", lag))
            if lag < bound:
                bound, source = lag, "lagrangian"
        new = bound - red.before
        if (
            highs_available()
            and red.A.nnz > LP_BOUND_MAX_NNZ
            and new > 0
            and (new - got) / new > GAP_TARGET
        ):
            lp = _highs_solve(
                red,
                self.problem,
                relax=True,
                ipm=True,
                time_limit_s=min(time_limit_s, IPM_BOUND_TIME_LIMIT_S),
                **self._highs_kw(),
            )
            if lp.row_dual is not None:
                val = red.before + _lagrangian_value(red, lp.row_dual, **self._highs_kw())
                bounds["lp-dual"] = val
                if val < bound:
                    bound, source = val, "lp-dual"
            elif lp.message:
                messages.append(f"LP bound not available: {lp.message}")
        if highs_available() and red.A.nnz <= LP_BOUND_MAX_NNZ and red.before + got < bound - slack:
            lp = _highs_solve(
                red,
                self.problem,
                relax=True,
                time_limit_s=min(time_limit_s, LP_BOUND_TIME_LIMIT_S),
                **self._highs_kw(),
            )
            if lp.bound is not None:
                bounds["lp"] = red.before + lp.bound
                if red.before + lp.bound < bound:
                    bound, source = red.before + lp.bound, "lp"
            elif lp.message:
                messages.append(f"LP bound not available: {lp.message}")
        return bound, source

    def _solve_capacity(self, red, solver, time_limit_s, messages) -> Plan:
        """Capacities: greedy heuristic, or the exact single-assignment MILP."""
        t0 = time.perf_counter()
        A, w, covered = self.covers, self.weights, self.already_covered
        cap = self.capacity
        assert cap is not None  # solve() calls this only with capacities
        n = self.n_candidates
        rows = np.flatnonzero(~covered & (w > 0) & (np.diff(A.indptr) > 0))
        pr = _pairs(A, w, rows)
        side = self._side(None)
        if len(pr.prow) == 0:  # nothing left to serve
            assignment = np.full(len(w), -1, dtype=np.int64)
            return self._plan(
                red,
                solver,
                "optimal",
                [],
                [],
                red.before,
                "trivial",
                messages,
                assignment=assignment,
                **self._extra([]),
            )
        sites, gains, a_loc = _greedy_capacity(
            n, pr, cap, k_max=side.get("p"), costs=side.get("costs"), budget=side.get("budget")
        )
        stats = {"greedy_objective": red.before + float(sum(gains)), "greedy_s": 0.0}
        stats["greedy_s"] = time.perf_counter() - t0
        # Bound: the uncapacitated bound, and the capacity-limited best single-site values.
        bound, source = self._trivial_bound(red)
        vals = _capacity_values(red, cap)
        if "p" in side:
            top = float(np.sort(vals)[::-1][: side["p"]].sum())
        else:
            top = float(vals @ _fractional_knapsack(vals, side["costs"], side["budget"]))
        if red.before + top < bound:
            bound, source = red.before + min(top, red.reachable), "capacity"
        if solver == "greedy":
            messages.append(
                "greedy with capacities is a heuristic (heaviest demand first); the bound "
                "comes from the capacities and single-site coverage, so the gap may be wide: "
                "use the exact solver for a proven plan"
            )
            if highs_available() and len(pr.prow) <= LP_BOUND_MAX_NNZ and len(rows):
                lp = _highs_assign(
                    n,
                    pr,
                    **side,
                    capacity=cap,
                    relax=True,
                    time_limit_s=min(time_limit_s, LP_BOUND_TIME_LIMIT_S),
                )
                if lp.bound is not None and red.before + lp.bound < bound:
                    bound, source = red.before + lp.bound, "lp"
        else:
            x0 = np.zeros(n)
            x0[sites] = 1.0
            z0 = (a_loc[pr.prow] == pr.pcol).astype(float)
            res = _highs_assign(
                n,
                pr,
                **side,
                capacity=cap,
                integral_z=True,
                time_limit_s=time_limit_s,
                warm=(x0, z0, np.zeros(0)),
            )
            if res.message:
                messages.append(res.message)
            if res.bound is not None and red.before + res.bound < bound:
                bound, source = red.before + res.bound, "mip"
            if res.x is not None and res.z is not None:  # x and z come together
                zb = res.z > 0.5
                gain_j = np.bincount(pr.pcol[zb], weights=pr.w[pr.prow[zb]], minlength=n)
                e_sites = [int(j) for j in np.flatnonzero(res.x)]
                e_order = sorted((j for j in e_sites if gain_j[j] > 0), key=lambda j: -gain_j[j])
                if len(e_order) < len(e_sites):
                    messages.append(
                        f"{len(e_sites) - len(e_order)} site(s) of the exact solution serve "
                        "nobody: dropped"
                    )
                e_gains = [float(gain_j[j]) for j in e_order]
                if sum(e_gains) >= sum(gains) - 1e-9 * max(red.total, 1.0):
                    a_loc = np.full(len(rows), -1, dtype=np.int64)
                    a_loc[pr.prow[zb]] = pr.pcol[zb]
                    sites, gains = e_order, e_gains
                    solver_used = "exact"
                else:
                    solver_used = "greedy"
                    messages.append(
                        f"exact timed out after {time_limit_s:g} s with a worse incumbent, "
                        "fell back to greedy"
                    )
            else:
                solver_used = "greedy"
                messages.append(
                    f"exact found no solution ({res.status}) within {time_limit_s:g} s, "
                    "fell back to greedy"
                )
            if res.status == "time_limit" and solver_used == "exact":
                messages.append(f"exact stopped at the time limit ({time_limit_s:g} s): see gap")
            solver = solver_used
        assignment = np.full(len(w), -1, dtype=np.int64)
        assignment[rows] = a_loc
        status = "feasible"
        plan = self._plan(
            red,
            solver,
            status,
            sites,
            gains,
            bound,
            source,
            messages,
            stats=stats,
            assignment=assignment,
            **self._extra(sites),
        )
        if solver == "exact" and res.status == "optimal":
            plan.status = "optimal"
        return plan
