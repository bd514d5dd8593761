"""Location-allocation: where to put new stations, with the existing ones fixed (DESIGN §6).

This module owns the planner's matrix core (STYLE practice 6, after spopt
``locate/coverage.py``): a boolean *coverage matrix* ``covers`` (demand × candidate,
``covers[i, j]`` = candidate ``j`` would reach demand point ``i`` within the time limit), a
weight per demand point, and a mask of demand already covered by existing stations. Three
problems are built on it, each with ``from_cost_matrix(...)`` and ``solve(...)``:

* :class:`MCLP` — maximal covering: the best ``p`` new sites;
* :class:`LSCP` — set covering: the fewest sites that reach ``target_share`` of all weight;
* :class:`Budget` — the best sites whose summed cost stays within a budget.

Two solvers: ``"greedy"`` (lazy greedy, a priority queue of stale gains; ≥ (1 − 1/e) of the
optimum for MCLP, ≥ ½(1 − 1/e) for the budget variant with the best-single-site safeguard)
and ``"exact"`` (a MILP solved by HiGHS through ``highspy``, warm-started from greedy, with a
time limit; on timeout the better of the incumbent and greedy is returned). MCLP/Budget
greedy is then polished by a best-improvement 1-swap local search (``improve=True``, the
default; it never lowers the objective). Every :class:`Plan` carries a proven bound and the
gap to it: greedy's bound is the best of a submodularity bound, a Lagrangian bound
(subgradient), the LP relaxation (HiGHS simplex, small reduced instances) and, on large ones
whose gap is still above ``GAP_TARGET``, HiGHS interior-point duals put into the Lagrangian
(valid for any duals, so also after a time-out); exact's is the MIP dual bound.

Before solving, demand already covered, demand that no candidate reaches and zero-weight
demand are dropped, and rows with identical cover sets are merged (weights summed). This
changes nothing in the answer and often shrinks the problem a lot. The exact MILP also fixes
dominated candidates (covering a subset of another's rows, at no lower cost) to 0, and with
whole-number weights stops as soon as the bound is less than 1 above the incumbent (which
proves it optimal).

Options, both through a facility-assignment MILP with variables only on the covering pairs
(:func:`geo.plan.milp._highs_assign`):

* ``capacity`` (MCLP, Budget): each new site serves at most its capacity of demand weight,
  each demand row served by at most one open site within reach (single assignment; rows are
  then not merged). Exact solves it; greedy is a heuristic (heaviest rows first) with an
  honest bound (capacities, LP relaxation), and says so.
* ``solve(tie_break="mean-time")``: a lexicographic second pass that keeps the covered weight
  and the limit (p, budget, number of sites) and minimises the demand-weighted minutes to the
  serving site (nearest chosen or existing station). Needs the ``minutes`` matrix.

The geo front doors: :func:`coverage_matrix` (coverage and minutes through any travel
model's ``pair_minutes``: crow-fly or the road network) and the problems' ``from_geodataframe``
(GeoDataFrames in any CRS, existing stations, capacities and admin codes, in the manner of
spopt's ``MCLP.from_geodataframe``). ``solve`` never changes the problem; admin codes of
the demand are a constructor argument (``admin=``), like everything else a problem is built
from.

Modules: :mod:`~geo.plan.problems` (the three problems and their front doors),
:mod:`~geo.plan.base` (shared inputs and the solve driver), :mod:`~geo.plan.inputs` (input
checks), :mod:`~geo.plan.matrix` (the coverage matrix from a travel model's
``pair_minutes``), :mod:`~geo.plan.reduction`, :mod:`~geo.plan.greedy`,
:mod:`~geo.plan.bounds`, :mod:`~geo.plan.milp` (HiGHS) and :mod:`~geo.plan.results`.
"""

from geo.plan.bounds import GAP_TARGET
from geo.plan.matrix import coverage_matrix, coverage_matrix_crowfly
from geo.plan.milp import highs_available
from geo.plan.problems import LSCP, MCLP, Budget
from geo.plan.results import Plan

__all__ = [
    "GAP_TARGET",
    "LSCP",
    "MCLP",
    "Budget",
    "Plan",
    "coverage_matrix",
    "coverage_matrix_crowfly",
    "highs_available",
]
