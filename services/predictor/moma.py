"""Linear MOMA (Segrè et al. 2002) as an alternative mechanistic prior.

A perturbed cell is assumed not to re-optimise growth right away but to stay as close as it can
(L1 distance) to its wild-type flux distribution (pFBA on the same medium), within the design's
bounds; a changed enzyme level f moves that reaction's target to f x its wild-type flux.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from schemas.design import Design

_FLUX_PENALTY = 1e-4
"""Tiny cost on total |v| so loops and split-variable artefacts vanish."""


class LinearMoma:
    """min Σ|v - target| + ε Σ|v|  s.t.  S v = 0, design bounds. One warm-started HiGHS LP per organism."""

    def __init__(self, organism: Any, fba: Any, base_medium: dict[str, float] | None = None,
                 reference: np.ndarray | None = None) -> None:
        from services.runtime.organism import HighsLP, split_bounds

        self.organism, self.fba, self.base_medium = organism, fba, base_medium
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
        self._references: dict[str, np.ndarray] = {}
        if reference is not None:  # anchored to measured wild-type runs (base medium only)
            self._references[repr([])] = np.asarray(reference, dtype=float)

    def reference(self, design: Design) -> np.ndarray:
        """Wild-type fluxes on the design's medium: the given reference on the base medium, else pFBA (cached)."""
        key = repr(sorted(design.medium.items()))
        if key not in self._references:
            lb, ub = self.organism.design_bounds(Design(medium=design.medium), self.base_medium)
            result = self.fba.pfba(lb, ub)
            self._references[key] = np.asarray(result.fluxes, dtype=float) if result.ok else np.zeros(self._n)
        return self._references[key]

    def solve(self, design: Design, lb: np.ndarray, ub: np.ndarray) -> tuple[np.ndarray, bool]:
        """MOMA fluxes of a design under its bounds, and whether the LP was feasible."""
        target = self.reference(design).copy()
        levels = self.organism.reaction_levels(self.organism.gene_levels(design))
        for r, level in levels.items():
            target[r] *= level
        n, m = self._n, self._m
        lower, upper = self._split(lb, ub)
        self._lp.set_col_bounds(np.concatenate([lower, np.zeros(n)]), np.concatenate([upper, np.full(n, np.inf)]))
        rows = np.arange(m, m + 2 * n, dtype=np.int32)
        self._lp.set_row_bounds(rows, np.concatenate([-target, target]), np.full(2 * n, np.inf))
        sol = self._lp.solve()
        if sol.status != "optimal":
            return np.zeros(n), False
        return sol.x[:n] - sol.x[n:2 * n], True
