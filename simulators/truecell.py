"""The simulated "true cell": deliberately not plain FBA.

How the true cell answers a design (all hidden parameters come from a CellProfile):

1. Regulation: seeded effects ("knocking out / over-expressing gene A multiplies gene
   B's expression by f") change the designed gene levels before anything is solved.
2. Wild-type reference: the unperturbed cell on the design's medium maximises growth
   under a hidden enzyme budget (sum of cost-weighted |flux| <= budget), then uses the
   least total flux. Oxidative phosphorylation is enzyme-expensive, so at high glucose
   uptake the budget binds and the cell overflows acetate (and grows slower than FBA).
3. Perturbed response = linear MOMA: minimise the weighted L1 distance to the reference
   fluxes (Segrè et al. 2002), under the design's bounds and the same enzyme budget.
   Gene levels act through GPR rules (services.domain.organism.gpr): level 0 blocks a
   reaction; a level f < 1 caps |flux| at f x capacity (capacity = hidden headroom x
   wild-type flux, at least a floor); every level f moves that reaction's MOMA target to
   f x its reference flux (the cell "tries" to push more flux through more enzyme).

Documented difference from FBA: right after a knockout the cell does not re-optimise
growth, it stays as close as it can to its old flux distribution. Its growth is the
biomass flux of that MOMA solution, which is never above (and usually below) the
re-optimised FBA growth of the same design, and by-products pile up where FBA would
re-route (e.g. succinate is secreted when succinate dehydrogenase is knocked out).
A design that leaves no feasible flux distribution is lethal: growth 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from schemas.design import Design
from services.domain.organism import FastFBA, HighsLP, Organism, load_organism, split_bounds
from simulators.profiles import CellProfile, RegulatoryEffect, get_profile

MIN_GROWTH = 1e-6
"""Growth (1/h) below which a design counts as lethal."""

_MEMO_SIZE = 50_000
"""Responses remembered per TrueCell (optimisers revisit designs)."""

_DECIMALS = 9
"""Fluxes are rounded so that solver history (warm starts) cannot change a response."""

_FLUX_PENALTY = 1e-4
"""Tiny cost on total flux in MOMA so futile cycles and split-variable loops vanish."""


@dataclass(frozen=True)
class CellState:
    """Noise-free state of the true cell under one design."""

    design: Design
    status: str
    """"ok" or "lethal"."""
    growth: float
    fluxes: np.ndarray
    exchange: dict[str, float]
    expression: dict[str, float] = field(default_factory=dict)
    """Effective gene levels (fold change vs wild type) after regulation; unlisted genes are 1."""
    reaction_ids: list[str] = field(default_factory=list, repr=False)

    def flux(self, rid: str) -> float:
        """Flux of one reaction (mmol/gDW/h)."""
        return float(self.fluxes[self.reaction_ids.index(rid)])


class TrueCell:
    """The hidden cell a simulated lab measures. Not thread-safe (one per thread/process)."""

    def __init__(self, organism_spec: str = "textbook", profile: str | CellProfile = "default") -> None:
        self.organism: Organism = load_organism(organism_spec)
        self.profile = get_profile(profile)
        org, n = self.organism, len(self.organism.reaction_ids)
        self._n = n
        self.costs = self.profile.enzyme_costs(org)
        self.moma_weights = self.profile.moma_weights(org)
        self.effects: list[RegulatoryEffect] = self.profile.regulatory_effects(org)
        unconstrained = FastFBA(org).pfba(org.lb, org.ub)
        self.budget = self.profile.budget_fraction * float(self.costs @ np.abs(unconstrained.fluxes))
        self._ref_lp = self._build_reference_lp()
        self._references: dict[tuple[tuple[str, float], ...], np.ndarray] = {}
        wild_type = self.reference_fluxes({})
        floor = self.profile.capacity_floor
        self.capacity = self.profile.headroom_factors(org) * np.maximum(np.abs(wild_type), floor)
        self._moma = self._build_moma_lp(wild_type)
        self._memo: dict[tuple[str, tuple[tuple[str, float], ...]], CellState] = {}
        self.wild_type = self.respond(Design())

    def _budget_row(self) -> sp.csr_matrix:
        return sp.csr_matrix(np.concatenate([self.costs, self.costs])[None, :])

    def _build_reference_lp(self) -> HighsLP:
        S, n = self.organism.S, self._n
        A = sp.vstack([sp.hstack([S, -S]), self._budget_row()])
        lower, upper = split_bounds(self.organism.lb, self.organism.ub)
        rows_lo = np.concatenate([np.zeros(S.shape[0]), [-np.inf]])
        rows_hi = np.concatenate([np.zeros(S.shape[0]), [self.budget]])
        return HighsLP(A, np.zeros(2 * n), lower, upper, rows_lo, rows_hi)

    def reference_fluxes(self, medium: Mapping[str, float]) -> np.ndarray:
        """Wild-type fluxes on a medium: budget-limited growth maximum, then least total flux."""
        key = tuple(sorted((k, float(v)) for k, v in medium.items()))
        if key not in self._references:
            self._references[key] = self._solve_reference(medium)
        return self._references[key]

    def _solve_reference(self, medium: Mapping[str, float]) -> np.ndarray:
        org, n, b = self.organism, self._n, self.organism.biomass_index
        lb, ub = org.lb.copy(), org.ub.copy()
        org.medium_bounds(lb, ub, medium)
        growth_cost = np.zeros(2 * n)
        growth_cost[b], growth_cost[n + b] = 1.0, -1.0
        self._ref_lp.set_cost(growth_cost, maximize=True)
        self._ref_lp.set_col_bounds(*split_bounds(lb, ub))
        first = self._ref_lp.solve()
        if first.status != "optimal" or first.objective < MIN_GROWTH:
            return np.zeros(n)
        lb[b] = max(lb[b], first.objective * (1 - 1e-6))
        self._ref_lp.set_cost(np.ones(2 * n), maximize=False)
        self._ref_lp.set_col_bounds(*split_bounds(lb, ub))
        second = self._ref_lp.solve()
        x = second.x if second.status == "optimal" else first.x
        return x[:n] - x[n:]

    def _build_moma_lp(self, reference: np.ndarray) -> HighsLP:
        S, n, m = self.organism.S, self._n, self.organism.S.shape[0]
        eye = sp.identity(n, format="csr")
        A = sp.vstack([
            sp.hstack([S, -S, sp.csr_matrix((m, n))]),
            sp.hstack([-eye, eye, eye]),  # d - v >= -target
            sp.hstack([eye, -eye, eye]),  # d + v >= target
            sp.hstack([self._budget_row(), sp.csr_matrix((1, n))]),
        ])
        cost = np.concatenate([np.full(2 * n, _FLUX_PENALTY), self.moma_weights])
        lower, upper = split_bounds(self.organism.lb, self.organism.ub)
        lower, upper = np.concatenate([lower, np.zeros(n)]), np.concatenate([upper, np.full(n, np.inf)])
        rows_lo = np.concatenate([np.zeros(m), -reference, reference, [-np.inf]])
        rows_hi = np.concatenate([np.zeros(m), np.full(2 * n, np.inf), [self.budget]])
        lp = HighsLP(A, cost, lower, upper, rows_lo, rows_hi)
        self._target_rows = np.arange(m, m + 2 * n, dtype=np.int32)
        self._target_upper = np.full(2 * n, np.inf)
        self._d_bounds = (np.zeros(n), np.full(n, np.inf))
        lp.solve()
        lp.remember_basis()
        return lp

    def effective_levels(self, design: Design) -> dict[str, float]:
        """Gene levels after applying the hidden regulatory effects to the designed ones."""
        designed = self.organism.gene_levels(design)
        levels = dict(designed)
        for effect in self.effects:
            source_level = designed.get(effect.source, 1.0)
            if effect.trigger == "knockout" and source_level == 0.0:
                factor = effect.factor
            elif effect.trigger == "overexpression" and source_level > 1.0:
                factor = effect.factor ** float(np.log2(source_level))
            else:
                continue
            if levels.get(effect.target, 1.0) > 0.0:
                levels[effect.target] = levels.get(effect.target, 1.0) * factor
        return levels

    def respond(self, design: Design, base_medium: Mapping[str, float] | None = None) -> CellState:
        """Noise-free response to a design (raises OrganismError for ids the model lacks); memoised."""
        medium = {**(base_medium or {}), **design.medium}
        key = (design.key(), tuple(sorted(medium.items())))
        state = self._memo.get(key)
        if state is None:
            state = self._respond(design, medium)
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = state
        return state

    def _respond(self, design: Design, medium: dict[str, float]) -> CellState:
        org = self.organism
        org.validate_design(design)
        target = self.reference_fluxes(medium).copy()
        lb, ub = org.lb.copy(), org.ub.copy()
        org.medium_bounds(lb, ub, medium)
        levels = self.effective_levels(design)
        for r, level in org.reaction_levels(levels).items():
            target[r] *= level
            if level < 1.0:
                cap = level * self.capacity[r]
                lb[r], ub[r] = max(lb[r], -cap), min(ub[r], cap)
                if lb[r] > ub[r]:  # a forced flux beyond capacity: infeasible by construction
                    lb[r] = ub[r] = np.inf
        for ko in design.knockouts:
            if org.has_reaction(ko):
                lb[org.reaction_index(ko)] = ub[org.reaction_index(ko)] = 0.0
        return self._solve_moma(design, lb, ub, target, levels)

    def _solve_moma(
        self, design: Design, lb: np.ndarray, ub: np.ndarray, target: np.ndarray, levels: dict[str, float]
    ) -> CellState:
        n, org = self._n, self.organism
        if np.any(np.isinf(lb) & (lb > 0)) or np.any(lb > ub):
            return self._lethal(design, levels)
        lower, upper = split_bounds(lb, ub)
        d_lower, d_upper = self._d_bounds
        self._moma.set_col_bounds(np.concatenate([lower, d_lower]), np.concatenate([upper, d_upper]))
        self._moma.set_row_bounds(self._target_rows, np.concatenate([-target, target]), self._target_upper)
        sol = self._moma.solve()
        if sol.status != "optimal":
            return self._lethal(design, levels)
        fluxes = np.round(sol.x[:n] - sol.x[n : 2 * n], _DECIMALS) + 0.0
        growth = float(fluxes[org.biomass_index])
        if growth < MIN_GROWTH:
            return self._lethal(design, levels, fluxes)
        exchange = {ex: float(fluxes[org.reaction_index(ex)]) for ex in org.exchange_ids}
        return CellState(design, "ok", growth, fluxes, exchange, levels, org.reaction_ids)

    def _lethal(self, design: Design, levels: dict[str, float], fluxes: np.ndarray | None = None) -> CellState:
        org = self.organism
        fluxes = np.zeros(self._n) if fluxes is None else fluxes
        exchange = {ex: float(fluxes[org.reaction_index(ex)]) for ex in org.exchange_ids}
        return CellState(design, "lethal", 0.0, fluxes, exchange, levels, org.reaction_ids)
