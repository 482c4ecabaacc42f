"""Linear MOMA (Segrè et al. 2002) as an alternative mechanistic prior.

A perturbed cell is assumed not to re-optimise growth right away but to stay as close as it can
(L1 distance) to its wild-type flux distribution (pFBA on the same medium), within the design's
bounds; a changed enzyme level f moves that reaction's target to f x its wild-type flux, and a
lowered level (f < 1: down-regulation, or losing one of several isozymes) also caps the reaction's
|flux| at f x its capacity. A capacity is either estimated from measurements
(`services.predictor.capacity`) or assumed to be `headroom` x the wild-type |flux| (at least
`CAPACITY_FLOOR`): enzymes typically run well below saturation in vivo, and the default headroom 3
means "the wild-type enzyme works at about a third of its capacity" (chosen on the predictor
benchmark, where 2-5 give the same accuracy once capacities are estimated; docs/predictor.md).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

from schemas.design import Design

_FLUX_PENALTY = 1e-4
"""Tiny cost on total |v| so loops and split-variable artefacts vanish."""

DEFAULT_HEADROOM = 3.0
"""Assumed enzyme capacity / wild-type |flux| (None or 0 in `LinearMoma`: lowered levels cap nothing)."""

STRAIN_BASES = 256
"""Warm-start bases kept, one per strain (knockouts and medium), least recently used dropped."""

CAPACITY_FLOOR = 1.0
"""Least capacity (mmol/gDW/h) assumed for a reaction, so nearly idle wild-type reactions are not shut."""


class LinearMoma:
    """min Σ|v - target| + ε Σ|v|  s.t.  S v = 0, design bounds, capacity caps. One warm-started HiGHS LP."""

    def __init__(self, organism: Any, fba: Any, base_medium: dict[str, float] | None = None,
                 reference: np.ndarray | None = None, headroom: float | None = DEFAULT_HEADROOM,
                 capacities: Mapping[int, float] | None = None) -> None:
        from services.domain.organism import HighsLP, split_bounds

        self.organism, self.fba, self.base_medium = organism, fba, base_medium
        self.headroom = headroom or 0.0
        self.capacities = dict(capacities or {})
        """Reaction index -> capacity (mmol/gDW/h) estimated from data; others use the headroom rule."""
        self._split = split_bounds
        S, n = organism.S, len(organism.reaction_ids)
        m = S.shape[0]
        eye = sp.identity(n, format="csr")
        A = sp.vstack([
            sp.hstack([S, -S, sp.csr_matrix((m, n))]),
            sp.hstack([-eye, eye, eye]),  # d - v >= -target
            sp.hstack([eye, -eye, eye]),  # d + v >= target
        ])
        lower, upper = split_bounds(organism.lb, organism.ub)
        self._n, self._m = n, m
        self._lp = HighsLP(A, np.concatenate([np.full(2 * n, _FLUX_PENALTY), np.ones(n)]),
                           np.concatenate([lower, np.zeros(n)]), np.concatenate([upper, np.full(n, np.inf)]),
                           np.zeros(m + 2 * n), np.concatenate([np.zeros(m), np.full(2 * n, np.inf)]))
        self.lp_calls = 0
        """LPs solved; designs whose target is the reference itself and whose bounds contain it need none."""
        self.reused = 0
        self._references: dict[str, np.ndarray] = {}
        self._bases: OrderedDict[str, Any] = OrderedDict()
        self._last_strain: str | None = None
        """Optimal basis of the last design solved per strain: designs of one strain differ only in expression
        (targets and caps), so its basis is a few dual simplex pivots from theirs (about half the iterations
        of starting from whichever design came before)."""
        if reference is not None:  # anchored to measured wild-type runs (base medium only)
            self._references[repr([])] = np.asarray(reference, dtype=float)

    def share_references(self, other: LinearMoma) -> None:
        """Read (and add) wild-type references in ``other``'s table: several solvers of one prior then move
        every design against the same reference, whichever of them computed it."""
        self._references = other._references

    def inherit_bases(self, other: LinearMoma) -> None:
        """Start each strain from ``other``'s last optimal basis of it (the same LP but for some caps)."""
        self._bases = OrderedDict(other._bases)

    def reference(self, design: Design) -> np.ndarray:
        """Wild-type fluxes on the design's medium: the given reference on the base medium, else pFBA (cached)."""
        key = repr(sorted(design.medium.items()))
        if key not in self._references:
            lb, ub = self.organism.design_bounds(Design(medium=design.medium), self.base_medium)
            result = self.fba.pfba(lb, ub)
            self._references[key] = np.asarray(result.fluxes, dtype=float) if result.ok else np.zeros(self._n)
        return self._references[key]

    def capped_bounds(self, reference: np.ndarray, levels: dict[int, float], lb: np.ndarray,
                      ub: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Bounds with |v_r| <= level x capacity_r for each lowered level (see the module docstring).

        None when a cap contradicts a forced flux (a lower bound above the cap): no feasible state.
        """
        lowered = {r: f for r, f in levels.items() if 0.0 < f < 1.0}
        if not self.headroom or not lowered:
            return lb, ub
        lb, ub = lb.copy(), ub.copy()
        for r, level in lowered.items():
            capacity = self.capacities.get(r, self.headroom * max(abs(float(reference[r])), CAPACITY_FLOOR))
            cap = level * capacity
            lb[r], ub[r] = max(lb[r], -cap), min(ub[r], cap)
            if lb[r] > ub[r]:
                return None
        return lb, ub

    def solve(self, design: Design, lb: np.ndarray, ub: np.ndarray) -> tuple[np.ndarray, bool]:
        """MOMA fluxes of a design under its bounds (and capacity caps), and whether the LP was feasible."""
        reference = self.reference(design)
        levels = self.organism.reaction_levels(self.organism.gene_levels(design))
        target = reference.copy()
        for r, level in levels.items():
            target[r] *= level
        n, m = self._n, self._m
        capped = self.capped_bounds(reference, levels, lb, ub)
        if capped is None:
            return np.zeros(n), False
        lb, ub = capped
        if np.array_equal(target, reference) and np.all(lb <= reference + 1e-9) and np.all(reference <= ub + 1e-9):
            # the reference is feasible and at distance 0, and moving by d costs d while saving at most eps * d
            # of the flux penalty: it is the LP's optimum (e.g. knockouts of reactions that carry no flux)
            self.reused += 1
            return reference.copy(), True
        self.lp_calls += 1
        lower, upper = self._split(lb, ub)
        self._lp.set_col_bounds(np.concatenate([lower, np.zeros(n)]), np.concatenate([upper, np.full(n, np.inf)]))
        rows = np.arange(m, m + 2 * n, dtype=np.int32)
        self._lp.set_row_bounds(rows, np.concatenate([-target, target]), np.full(2 * n, np.inf))
        strain = repr((sorted(design.knockouts), sorted(design.medium.items())))
        # the solver already stands at this strain's basis after solving one of its designs: no refactorisation
        self._lp.start_from(None if strain == self._last_strain else self._bases.get(strain))
        self._last_strain = strain
        sol = self._lp.solve()
        if sol.status != "optimal":
            self._last_strain = None
            return np.zeros(n), False
        self._bases[strain] = self._lp.current_basis()
        self._bases.move_to_end(strain)
        if len(self._bases) > STRAIN_BASES:
            self._bases.popitem(last=False)
        return sol.x[:n] - sol.x[n:2 * n], True
