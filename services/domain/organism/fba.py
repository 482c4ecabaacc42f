"""Fast flux balance analysis: one HiGHS LP per organism, warm-started per design."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from schemas.design import Design
from services.domain.organism.lp import HighsLP
from services.domain.organism.model import Organism


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
        zeros = np.zeros(organism.S.shape[0])
        self._lp = HighsLP(organism.S, self._biomass_cost, organism.lb, organism.ub, zeros, zeros, maximize=True)
        self._custom_objective = False
        self._pfba_lp: HighsLP | None = None
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
        lb = lb.copy()
        b = self.organism.biomass_index
        lb[b] = max(lb[b], fraction * first.growth - 1e-7 * max(1.0, abs(first.growth)))
        lp = self._split_lp()
        lp.set_col_bounds(*split_bounds(lb, ub))
        sol = lp.solve()
        if sol.status != "optimal":
            return FBAResult(sol.status, 0.0, np.zeros(len(lb)), 0.0)
        n = len(lb)
        fluxes = sol.x[:n] - sol.x[n:]
        return FBAResult("optimal", sol.objective, fluxes, float(fluxes[b]))

    def _split_lp(self) -> HighsLP:
        if self._pfba_lp is None:
            S, n = self.organism.S, len(self.organism.reaction_ids)
            zeros = np.zeros(S.shape[0])
            lower, upper = split_bounds(self.organism.lb, self.organism.ub)
            self._pfba_lp = HighsLP(sp.hstack([S, -S]), np.ones(2 * n), lower, upper, zeros, zeros)
            self._pfba_lp.solve()
            self._pfba_lp.remember_basis()
        return self._pfba_lp


def split_bounds(lb: np.ndarray, ub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of the irreversible split v = forward - reverse (both >= 0)."""
    forward_lb, forward_ub = np.maximum(lb, 0.0), np.maximum(ub, 0.0)
    reverse_lb, reverse_ub = np.maximum(-ub, 0.0), np.maximum(-lb, 0.0)
    return np.concatenate([forward_lb, reverse_lb]), np.concatenate([forward_ub, reverse_ub])
