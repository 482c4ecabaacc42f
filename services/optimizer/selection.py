"""Greedy choice of a diverse batch from scored candidates."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from schemas import Design
from services.optimizer.context import Candidate
from services.optimizer.space import DesignSpace, strain

DUPLICATE_DISTANCE = 1e-3
"""Designs closer than this (unit RMS distance) count as the same experiment."""


def _normalised(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high > low else np.ones_like(values)


def select_diverse(
    candidates: Sequence[Candidate],
    n: int,
    space: DesignSpace,
    anchors: Sequence[Design] = (),
    accept: Callable[[Candidate], bool] | None = None,
    penalty: float = 1.0,
    length: float = 0.05,
    min_distance: float = 0.02,
    per_strain: int | None = None,
) -> list[Candidate]:
    """Pick up to ``n`` candidates greedily by acquisition minus a near-duplicate penalty.

    The penalty is ``penalty * exp(-(d / length)**2)`` for the distance ``d`` to the closest design
    already chosen or in ``anchors`` (pending work); acquisition is rescaled to [0, 1] first, and
    candidates without one rank by their order. Candidates closer than ``min_distance`` to a chosen
    design are skipped. ``accept`` may veto a candidate (e.g. infeasible). ``per_strain`` caps how many
    chosen designs may share one knockout set (one strain to build; expression variants of it are cheap
    to overlook otherwise, since they differ in few coordinates).
    """
    if not candidates or n <= 0:
        return []
    acq = np.array([c.acquisition if c.acquisition is not None else -i for i, c in enumerate(candidates)], float)
    base = _normalised(acq)
    units = np.array([space.unit(c.design) for c in candidates]).reshape(len(candidates), space.dim)
    closest = np.full(len(candidates), np.inf)
    for anchor in anchors:
        closest = np.minimum(closest, _distances(units, space.unit(anchor), space.dim))
    open_ = np.ones(len(candidates), dtype=bool)
    chosen: list[Candidate] = []
    strains: Counter[frozenset[str]] = Counter()
    while len(chosen) < n and open_.any():
        score = base - penalty * np.exp(-((closest / length) ** 2))
        score[~open_ | (closest < max(min_distance, DUPLICATE_DISTANCE))] = -np.inf
        best = int(np.argmax(score))
        if not np.isfinite(score[best]):
            break
        open_[best] = False
        knockouts = strain(candidates[best].design)
        if per_strain is not None and knockouts and strains[knockouts] >= per_strain:
            continue
        if accept is not None and not accept(candidates[best]):
            continue
        strains[knockouts] += 1
        chosen.append(candidates[best])
        closest = np.minimum(closest, _distances(units, units[best], space.dim))
    return chosen


def _distances(units: np.ndarray, point: np.ndarray, dim: int) -> np.ndarray:
    if dim == 0:
        return np.zeros(len(units))
    return np.sqrt(np.mean((units - point) ** 2, axis=1))
