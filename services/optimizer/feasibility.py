"""Growth-floor filter: designs the organism model says cannot grow enough are not proposed."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from schemas import CampaignSpec, Design

GrowthFunction = Callable[[Design], float]
"""Predicted growth rate (1/h) of a design; NaN or a non-optimal solve counts as no growth."""


def fba_growth_function(organism: Any, base_medium: Mapping[str, float] | None = None) -> GrowthFunction:
    """Growth of a design by flux balance analysis on the organism model (FastFBA).

    Solved per strain where the optimum provably carries over to the design's expression changes
    (`services.domain.organism.reuse`): the same growth as one LP per design, with far fewer LPs.
    """
    from services.domain.organism import FastFBA
    from services.domain.organism.reuse import AnchoredSolves

    fba = FastFBA(organism)
    solves = AnchoredSolves(fba.optimize)

    def growth(design: Design) -> float:
        bounds = organism.design_bounds(design, base_medium)
        anchor = Design(knockouts=design.knockouts, medium=design.medium)
        result = solves.solve_for(anchor.key(), lambda: organism.design_bounds(anchor, base_medium), bounds)
        return float(result.growth) if result.status == "optimal" else 0.0

    return growth


class FeasibilityFilter:
    """Rejects designs whose FBA growth is below ``growth_floor`` x wild-type growth; cached by design key.

    Wild-type growth is the model's growth without interventions on the campaign's base medium,
    unless ``reference_growth`` is given.
    """

    def __init__(
        self,
        organism: Any = None,
        growth_floor: float = 0.2,
        growth_fn: GrowthFunction | None = None,
        reference_growth: float | None = None,
        base_medium: Mapping[str, float] | None = None,
    ) -> None:
        if growth_fn is None and organism is None:
            raise ValueError("a feasibility filter needs an organism or a growth function")
        self.growth_fn = growth_fn or fba_growth_function(organism, base_medium)
        if reference_growth is None:
            reference_growth = self.growth(Design())
        self.threshold = growth_floor * reference_growth
        self._cache: dict[str, bool] = {}
        self.n_checked = 0
        self.n_rejected = 0

    def growth(self, design: Design) -> float:
        """The model's growth rate for the design (0 when the solve fails)."""
        try:
            value = self.growth_fn(design)
        except ValueError:
            return 0.0
        return value if math.isfinite(value) else 0.0

    def is_feasible(self, design: Design) -> bool:
        """Whether the design grows at or above the floor (counted once per distinct design)."""
        key = design.key()
        if key not in self._cache:
            ok = self.growth(design) >= self.threshold - 1e-9
            self._cache[key] = ok
            self.n_checked += 1
            self.n_rejected += 0 if ok else 1
        return self._cache[key]

    def filter(self, designs: Sequence[Design]) -> tuple[list[Design], int]:
        """The feasible designs, and how many of the given ones were rejected."""
        kept = [d for d in designs if self.is_feasible(d)]
        return kept, len(designs) - len(kept)


def feasibility_for(spec: CampaignSpec, organism: Any) -> FeasibilityFilter | None:
    """The growth-floor filter a campaign needs: None for black-box functions or a floor of 0."""
    if spec.is_function or spec.objective.growth_floor <= 0 or organism is None:
        return None
    return FeasibilityFilter(organism, spec.objective.growth_floor, base_medium=spec.organism.medium or None)
