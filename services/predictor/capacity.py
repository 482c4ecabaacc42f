"""Enzyme capacities for the MOMA prior's caps, estimated from measurements where the data show them.

A lowered enzyme level f (down-regulation, or a knocked-out isozyme) caps a reaction's |flux| at
f x its capacity c (`services.predictor.moma`). By default c = headroom x the wild-type |flux| (at
least `CAPACITY_FLOOR`). Where the reaction's flux is measured in designs that lower its level, each
measurement gives |v| / f <= c, and where the cap binds these ratios pile up at their top end (within
measurement noise). A pile holding at least `MIN_BINDING_SHARE` of the ratios sets c to its median;
otherwise c stays the default, raised to the ratios' 90th percentile when the data exceed it.
Only measurements and the organism model are used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from schemas.design import Design
from services.predictor.moma import CAPACITY_FLOOR

MIN_RUNS = 8
"""Fewer measured runs with the reaction's level lowered than this: the default capacity is kept."""

MIN_BINDING_SHARE = 0.3
"""Share of the ratios |v| / f within `NOISE_BAND` of their 90th percentile that counts as a binding cap."""

NOISE_BAND = 0.12
"""Relative width of the pile at the top (about twice the measurements' 5 % CV plus batch offsets)."""

GRID = 0.02
"""Capacities are rounded to a 2 % log grid, so new data rarely change them (and the cached priors)."""


def lowered_ratios(organism: Any, designs: Sequence[Design], y: np.ndarray,
                   flux_index: Sequence[int]) -> dict[int, np.ndarray]:
    """Reaction index -> measured |flux| / level over the runs that lower that measured reaction's level."""
    columns = {int(r): j for j, r in enumerate(flux_index) if r >= 0}
    ratios: dict[int, list[float]] = {}
    for i, design in enumerate(designs):
        if not (design.knockouts or design.expression):
            continue
        for r, level in organism.reaction_levels(organism.gene_levels(design)).items():
            j = columns.get(r)
            if j is not None and 0.0 < level < 1.0 and np.isfinite(y[i, j]):
                ratios.setdefault(r, []).append(abs(float(y[i, j])) / level)
    return {r: np.asarray(v) for r, v in ratios.items()}


def capacity_from_ratios(ratios: np.ndarray, default: float) -> float:
    """Capacity supported by the ratios |v| / f: the binding pile's median, else the default (raised to the data)."""
    if len(ratios) < MIN_RUNS:
        return default
    top = float(np.quantile(ratios, 0.9))
    pile = ratios[np.abs(ratios - top) <= NOISE_BAND * top]
    if top > 0 and len(pile) >= MIN_BINDING_SHARE * len(ratios):
        return float(np.median(pile))
    return max(default, top)


def _on_grid(value: float) -> float:
    return float(np.exp(np.round(np.log(value) / GRID) * GRID)) if value > 0 else 0.0


def estimate_capacities(organism: Any, designs: Sequence[Design], y: np.ndarray, flux_index: Sequence[int],
                        reference: np.ndarray, headroom: float) -> dict[str, float]:
    """Reaction id -> capacity (mmol/gDW/h) for every measured reaction lowered in enough runs."""
    out: dict[str, float] = {}
    for r, ratios in lowered_ratios(organism, designs, np.asarray(y, dtype=float), flux_index).items():
        default = headroom * max(abs(float(reference[r])), CAPACITY_FLOOR)
        out[organism.reaction_ids[r]] = _on_grid(capacity_from_ratios(ratios, default))
    return out
