"""Reusing an LP optimum across designs of one strain: expression changes rarely move an FBA optimum.

An expression fold change scales the bounds of the reactions its gene touches (`Organism.design_bounds`),
and the default bounds are ±1000, far from any flux a cell carries: the optimum of the strain without
the expression change (its *anchor*) usually stays optimal. That holds exactly when (KKT):

* the anchor's optimum ``x`` lies inside the design's bounds (primal feasibility), and
* every bound the design loosens was not active at ``x`` (its multiplier is then zero, so the anchor's
  dual solution still satisfies complementary slackness; a tightened bound that ``x`` still meets keeps
  its multiplier's sign, and an unchanged one its value).

Then the design's LP has the anchor's optimal value, and ``x`` is one of its optima. Where the test
fails the design's own LP is solved, so answers are the same as solving every design (the optimal value
exactly; the flux vector may be another optimum of a degenerate LP). The optimizer's envelope and growth
floor solve one or two LPs per strain instead of per design this way.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from services.domain.organism.fba import FBAResult

Bounds = tuple[np.ndarray, np.ndarray]

FEASIBILITY_TOL = 1e-9
"""How far outside the design's bounds the anchor's optimum may lie (a reuse needs it inside)."""

ACTIVE_TOL = 1e-6
"""A bound within this (relative to max(1, |bound|)) of the optimum counts as active."""


def still_optimal(x: np.ndarray, old: Bounds, new: Bounds) -> bool:
    """Whether ``x``, optimal for an LP with column bounds ``old``, is optimal with ``new`` (same rows, cost).

    Sufficient (not necessary): ``x`` within ``new``, and each loosened bound inactive at ``x`` under ``old``.
    """
    lb0, ub0 = old
    lb, ub = new
    if np.any(x < lb - FEASIBILITY_TOL) or np.any(x > ub + FEASIBILITY_TOL):
        return False
    lower_loosened = lb < lb0
    upper_loosened = ub > ub0
    lower_active = x <= lb0 + ACTIVE_TOL * np.maximum(1.0, np.abs(lb0))
    upper_active = x >= ub0 - ACTIVE_TOL * np.maximum(1.0, np.abs(ub0))
    return not bool(np.any(lower_loosened & lower_active) or np.any(upper_loosened & upper_active))


class AnchoredSolves:
    """One LP (``solve``: bounds -> FBAResult) answered per anchor where the KKT test allows.

    ``solve_for(anchor_key, anchor_bounds, bounds)`` solves the anchor once (``anchor_bounds()`` is called
    only then), returns its result for the design when `still_optimal` says so, and otherwise solves the
    design's own bounds. At most ``max_anchors`` anchors are kept (least recently used dropped).
    """

    def __init__(self, solve: Callable[[np.ndarray, np.ndarray], FBAResult], max_anchors: int = 1024) -> None:
        self.solve = solve
        self.max_anchors = max_anchors
        self._anchors: OrderedDict[str, tuple[Bounds, FBAResult]] = OrderedDict()
        self.lp_calls = 0
        self.reused = 0

    def _anchor(self, key: str, anchor_bounds: Callable[[], Bounds]) -> tuple[Bounds, FBAResult]:
        hit = self._anchors.get(key)
        if hit is not None:
            self._anchors.move_to_end(key)
            return hit
        lb0, ub0 = anchor_bounds()
        self.lp_calls += 1
        entry = ((np.asarray(lb0, float), np.asarray(ub0, float)), self.solve(lb0, ub0))
        self._anchors[key] = entry
        if len(self._anchors) > self.max_anchors:
            self._anchors.popitem(last=False)
        return entry

    def solve_for(self, anchor_key: str, anchor_bounds: Callable[[], Bounds], bounds: Bounds) -> FBAResult:
        """The LP's optimum under ``bounds``, from the anchor's when that is provably still optimal."""
        old, result = self._anchor(anchor_key, anchor_bounds)
        lb, ub = np.asarray(bounds[0], float), np.asarray(bounds[1], float)
        if np.array_equal(lb, old[0]) and np.array_equal(ub, old[1]):
            return result
        if result.ok and still_optimal(result.fluxes, old, (lb, ub)):
            self.reused += 1
            return result
        self.lp_calls += 1
        return self.solve(lb, ub)
