"""A wild-type reference flux vector anchored to measurements, for the linear-MOMA prior.

The organism model's pFBA wild type re-optimises growth without any enzyme limit, so it misses
what real cells do (overflow metabolism, slower growth). When the training data hold measured
wild-type runs (no knockouts, no expression changes, base medium), the reference becomes the
mass-balanced flux vector closest to their mean measured fluxes (L1, each flux scaled by its
spread), within the organism's bounds. Nothing but measurements and the organism model is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from schemas.design import Design

MIN_WILD_TYPE_RUNS = 3
"""Fewer measured wild-type runs than this: no anchoring (the pFBA wild type is used)."""

_MIN_SCALE = 0.05
"""Floor (mmol/gDW/h) of the per-flux spread that weights the fit."""


def is_wild_type(design: Design) -> bool:
    """No knockouts, no expression changes, base medium, no other parameters."""
    return not (design.knockouts or design.expression or design.medium or design.parameters)


def wild_type_targets(designs: Sequence[Design], y: np.ndarray,
                      flux_index: Sequence[int]) -> dict[int, tuple[float, float]]:
    """Reaction index -> (mean, spread) of the measured wild-type values of each flux-like target."""
    rows = [i for i, d in enumerate(designs) if is_wild_type(d)]
    out: dict[int, tuple[float, float]] = {}
    if len(rows) < MIN_WILD_TYPE_RUNS:
        return out
    for j, r in enumerate(flux_index):
        values = y[rows, j]
        values = values[np.isfinite(values)]
        if r >= 0 and len(values) >= MIN_WILD_TYPE_RUNS:
            out[int(r)] = (float(values.mean()), max(float(values.std()), _MIN_SCALE))
    return out


def anchored_reference(organism: Any, designs: Sequence[Design], y: np.ndarray,
                       flux_index: Sequence[int]) -> np.ndarray | None:
    """Mass-balanced flux vector nearest the measured wild type (None without enough wild-type runs)."""
    targets = wild_type_targets(designs, np.asarray(y, dtype=float), flux_index)
    if not targets:
        return None
    S = sp.csr_matrix(organism.S)
    m, n = S.shape
    idx = sorted(targets)
    k = len(idx)
    pick = sp.csr_matrix((np.ones(k), (np.arange(k), idx)), shape=(k, n))
    # v[idx] - target = p - q with p, q >= 0; minimise sum (p + q) / spread.
    A_eq = sp.vstack([sp.hstack([S, sp.csr_matrix((m, 2 * k))]),
                      sp.hstack([pick, -sp.identity(k), sp.identity(k)])]).tocsr()
    b_eq = np.concatenate([np.zeros(m), [targets[i][0] for i in idx]])
    weights = np.array([1.0 / targets[i][1] for i in idx])
    cost = np.concatenate([np.zeros(n), weights, weights])
    bounds = list(zip(organism.lb, organism.ub, strict=True)) + [(0.0, None)] * (2 * k)
    result = linprog(cost, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs")
    return np.asarray(result.x[:n], dtype=float) if result.status == 0 else None
