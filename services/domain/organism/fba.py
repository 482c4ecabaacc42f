"""Fast flux balance analysis: one HiGHS LP per organism, warm-started per design."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from schemas.design import Design
from services.domain.organism.lp import HighsLP
from services.domain.organism.model import Organism

PFBA_ANCHORS = 1024
"""Anchors of `FastFBA.pfba_anchored` kept (least recently used dropped)."""

DEVEX = 1
"""HiGHS `simplex_dual_edge_weight_strategy` of the anchored LPs: devex. Their warm-started dual simplex runs take
~70-200 iterations, too few to repay the exact steepest-edge weights HiGHS otherwise (re)computes per solve."""


@dataclass(frozen=True)
class FBAResult:
    """One FBA/pFBA solution. When `status` is not "optimal", fluxes are zeros and growth is 0."""

    status: str
    objective_value: float
    fluxes: np.ndarray
    growth: float

    @property
    def ok(self) -> bool:
        """Whether the LP was solved to optimality."""
        return self.status == "optimal"


@dataclass(frozen=True)
class _Anchor:
    """An anchor of `FastFBA.pfba_anchored`: its bounds, FBA and pFBA optima and the pFBA optimal basis."""

    lb: np.ndarray
    ub: np.ndarray
    first: FBAResult
    pfba: FBAResult
    basis: Any
    growth_basis: Any = None


def _growth_floor(growth: float, fraction: float) -> float:
    """pFBA's stage-2 lower bound on biomass: ``fraction`` x the optimum, less a solver tolerance."""
    return fraction * growth - 1e-7 * max(1.0, abs(growth))


class FastFBA:
    """FBA over one organism with the LP built once; each solve only changes bounds.

    Every solve is warm-started from the wild-type optimal basis. When the new bounds
    lie inside the default bounds and still contain the wild-type optimum (e.g. a
    knockout of reactions that carry no flux), that optimum is returned without an LP
    call: it is feasible and the feasible set only shrank, so it is still optimal.

    Not thread-safe: use one instance per thread or process.
    """

    def __init__(self, organism: Organism, reuse_reference: bool = True) -> None:
        self.organism = organism
        self.reuse_reference = reuse_reference
        n = len(organism.reaction_ids)
        self._biomass_cost = np.zeros(n)
        self._biomass_cost[organism.biomass_index] = 1.0
        self._lp = self._new_growth_lp()
        self._custom_objective = False
        self._pfba_lp: HighsLP | None = None
        self._anchors: OrderedDict[str, _Anchor] = OrderedDict()
        self._anchored: tuple[HighsLP, HighsLP] | None = None
        self.anchored_reused = 0
        """`pfba_anchored` calls answered by the anchor's optimum without an LP."""
        self.reference = self._solve(organism.lb, organism.ub)
        self._lp.remember_basis()
        self.lp_calls = 0
        self.reused = 0

    def _solve(self, lb: np.ndarray, ub: np.ndarray) -> FBAResult:
        self._lp.set_col_bounds(lb, ub)
        sol = self._lp.solve()
        growth = float(sol.x[self.organism.biomass_index]) + 0.0 if sol.status == "optimal" else 0.0
        return FBAResult(sol.status, sol.objective, sol.x, growth)

    def _check(self, lb: np.ndarray, ub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lb, ub = np.asarray(lb, dtype=float), np.asarray(ub, dtype=float)
        n = len(self.organism.reaction_ids)
        if lb.shape != (n,) or ub.shape != (n,):
            raise ValueError(f"bounds must have shape ({n},), got {lb.shape} and {ub.shape}")
        return lb, ub

    def _reference_still_optimal(self, lb: np.ndarray, ub: np.ndarray) -> bool:
        ref, org = self.reference.fluxes, self.organism
        return bool(
            self.reference.ok and np.all(lb >= org.lb) and np.all(ub <= org.ub)
            and np.all(lb <= ref + 1e-12) and np.all(ref <= ub + 1e-12)
        )

    def optimize(
        self, lb: np.ndarray, ub: np.ndarray, objective: np.ndarray | None = None, sense: str = "max"
    ) -> FBAResult:
        """Optimise `objective` (default: biomass, maximised) under the given flux bounds."""
        lb, ub = self._check(lb, ub)
        if objective is None and sense == "max":
            if self._custom_objective:
                self._lp.set_cost(self._biomass_cost, maximize=True)
                self._custom_objective = False
            if self.reuse_reference and self._reference_still_optimal(lb, ub):
                self.reused += 1
                return self.reference
        else:
            if sense not in ("max", "min"):
                raise ValueError(f"sense must be 'max' or 'min', got {sense!r}")
            cost = self._biomass_cost if objective is None else np.asarray(objective, dtype=float)
            self._lp.set_cost(cost, maximize=sense == "max")
            self._custom_objective = True
        self.lp_calls += 1
        return self._solve(lb, ub)

    def optimize_design(self, design: Design, base_medium: Mapping[str, float] | None = None) -> FBAResult:
        """FBA growth optimum of a design (raises OrganismError for ids the model lacks)."""
        lb, ub = self.organism.design_bounds(design, base_medium)
        return self.optimize(lb, ub)

    def batch(self, bounds: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[FBAResult]:
        """Optimise biomass for each (lb, ub) pair in turn."""
        return [self.optimize(lb, ub) for lb, ub in bounds]

    def pfba(self, lb: np.ndarray, ub: np.ndarray, fraction: float = 1.0) -> FBAResult:
        """Parsimonious FBA: growth >= fraction * optimum, then minimal total |flux|.

        `objective_value` is the minimised total absolute flux (as cobra's pfba); `growth`
        is the biomass flux.
        """
        first = self.optimize(lb, ub)
        if not first.ok:
            return first
        lb, ub = self._check(lb, ub)
        return self._stage2(self._split_lp(), lb, ub, _growth_floor(first.growth, fraction))

    def pfba_anchored(self, anchor: str, anchor_bounds: Callable[[], tuple[np.ndarray, np.ndarray]],
                      lb: np.ndarray, ub: np.ndarray) -> FBAResult:
        """pFBA under (lb, ub) for one of many designs around an ``anchor`` (e.g. the design's medium without
        its genetic changes; ``anchor_bounds()`` is called once per anchor).

        Without an LP where the KKT test of `reuse.still_optimal` proves the anchor's pFBA optimum optimal for
        both stages under (lb, ub): stage 1 (growth) from the anchor's FBA optimum, so the growth bound of
        stage 2 is the anchor's; stage 2 (total |flux| over split columns) from its pFBA optimum. Knockouts of
        reactions that carry no flux in it are the common case. Otherwise both stages are solved: stage 1
        (only its optimal value is used, which is unique) from the anchor's optimal FBA basis (~30 dual simplex
        iterations on iJO1366 against ~180 from the previous design's), and stage 2 from the anchor's optimal
        pFBA basis, so the flux vector depends only on the anchor and the design. Both LPs price with devex
        (`DEVEX`). The optimal values are those of `pfba`; in a degenerate LP the flux vector may
        be another optimum than `pfba` gives.
        """
        from services.domain.organism.reuse import still_optimal

        lb, ub = self._check(lb, ub)
        anchored = self._anchored_lps()
        entry = self._anchors.get(anchor)
        if entry is None:
            lb0, ub0 = (np.asarray(x, dtype=float) for x in anchor_bounds())
            first0 = self.optimize(lb0, ub0)
            ref = self._anchored_stage2(anchored[1], lb0, ub0, first0.growth, None) if first0.ok else first0
            entry = _Anchor(lb0, ub0, first0, ref, anchored[1].current_basis() if ref.ok else None,
                            self._optimal_basis(anchored[0], lb0, ub0) if first0.ok else None)
            self._anchors[anchor] = entry
            if len(self._anchors) > PFBA_ANCHORS:
                self._anchors.popitem(last=False)
        else:
            self._anchors.move_to_end(anchor)
        if entry.first.ok and entry.pfba.ok and still_optimal(entry.first.fluxes, (entry.lb, entry.ub), (lb, ub)):
            b = self.organism.biomass_index
            lb0, lb1 = entry.lb.copy(), lb.copy()
            lb0[b] = lb1[b] = _growth_floor(entry.first.growth, 1.0)
            split = np.concatenate([np.maximum(entry.pfba.fluxes, 0.0), np.maximum(-entry.pfba.fluxes, 0.0)])
            if still_optimal(split, split_bounds(lb0, entry.ub), split_bounds(lb1, ub)):
                self.anchored_reused += 1
                return entry.pfba
            # the growth optimum is the anchor's (stage 1 passed the test): only stage 2 is solved
            return self._anchored_stage2(anchored[1], lb, ub, entry.first.growth, entry.basis)
        growth_lp = anchored[0]
        growth_lp.start_from(entry.growth_basis)
        growth_lp.set_col_bounds(lb, ub)
        self.lp_calls += 1
        first = growth_lp.solve()
        if first.status != "optimal":
            return FBAResult(first.status, 0.0, np.zeros(len(lb)), 0.0)
        return self._anchored_stage2(anchored[1], lb, ub, float(first.x[self.organism.biomass_index]), entry.basis)

    def _anchored_lps(self) -> tuple[HighsLP, HighsLP]:
        """The growth LP and the split LP of `pfba_anchored` (its own, so `optimize` and `pfba` keep their
        warm starts)."""
        if self._anchored is None:
            growth, split = self._new_growth_lp(), self._new_split_lp()
            for lp in (growth, split):  # devex pricing: 35 % less CPU per design on iJO1366 (docs/predictor.md)
                lp.set_option("simplex_dual_edge_weight_strategy", DEVEX)
            growth.solve()
            self._anchored = (growth, split)
        return self._anchored

    @staticmethod
    def _optimal_basis(lp: HighsLP, lb: np.ndarray, ub: np.ndarray) -> Any:
        """``lp``'s optimal basis under (lb, ub), solved from where it stands (None when not optimal)."""
        lp.set_col_bounds(lb, ub)
        lp.start_from(None)
        return lp.current_basis() if lp.solve().status == "optimal" else None

    def _anchored_stage2(self, lp: HighsLP, lb: np.ndarray, ub: np.ndarray, growth: float,
                         basis: Any) -> FBAResult:
        """`_stage2` at the growth optimum, from ``basis`` (None: the solver's state), counted as an LP call."""
        lp.start_from(basis)
        self.lp_calls += 1
        return self._stage2(lp, lb, ub, _growth_floor(growth, 1.0))

    def _stage2(self, lp: HighsLP, lb: np.ndarray, ub: np.ndarray, floor: float) -> FBAResult:
        """pFBA's second stage on the split LP ``lp``: minimal total |flux| with growth >= ``floor``."""
        lb = lb.copy()
        b = self.organism.biomass_index
        lb[b] = max(lb[b], floor)
        lp.set_col_bounds(*split_bounds(lb, ub))
        sol = lp.solve()
        if sol.status != "optimal":
            return FBAResult(sol.status, 0.0, np.zeros(len(lb)), 0.0)
        n = len(lb)
        fluxes = sol.x[:n] - sol.x[n:]
        return FBAResult("optimal", sol.objective, fluxes, float(fluxes[b]))

    def _new_growth_lp(self) -> HighsLP:
        """The FBA LP: maximise biomass subject to S v = 0 within the default bounds."""
        org = self.organism
        zeros = np.zeros(org.S.shape[0])
        return HighsLP(org.S, self._biomass_cost, org.lb, org.ub, zeros, zeros, maximize=True)

    def _new_split_lp(self) -> HighsLP:
        """The total-|flux| LP over the split v = forward - reverse (both >= 0), S (forward - reverse) = 0."""
        S, n = self.organism.S, len(self.organism.reaction_ids)
        zeros = np.zeros(S.shape[0])
        lower, upper = split_bounds(self.organism.lb, self.organism.ub)
        return HighsLP(sp.hstack([S, -S]), np.ones(2 * n), lower, upper, zeros, zeros)

    def _split_lp(self) -> HighsLP:
        if self._pfba_lp is None:
            self._pfba_lp = self._new_split_lp()
            self._pfba_lp.solve()
            self._pfba_lp.remember_basis()
        return self._pfba_lp


def split_bounds(lb: np.ndarray, ub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of the irreversible split v = forward - reverse (both >= 0)."""
    forward_lb, forward_ub = np.maximum(lb, 0.0), np.maximum(ub, 0.0)
    reverse_lb, reverse_ub = np.maximum(-ub, 0.0), np.maximum(-lb, 0.0)
    return np.concatenate([forward_lb, reverse_lb]), np.concatenate([forward_ub, reverse_ub])
