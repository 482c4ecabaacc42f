"""The organism model's own prediction, used as the surrogate before any model has been trained.

A campaign's first batch would otherwise be random. Metabolic engineers start from in-silico
designs instead (the genome-scale model says which knockouts reroute carbon to the product), so
until the predictor has trained on measurements the planner scores designs with the mechanistic
prior that the hybrid predictor itself starts from: linear MOMA around the model's pFBA wild type,
under the design's bounds. It is a point prediction (sd 0); the growth floor is still enforced by
the feasibility filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from schemas import CampaignSpec, Design


class InSilicoSurrogate:
    """Objective = the target's flux in the organism model's MOMA (or pFBA) response to the design."""

    def __init__(self, organism: Any, target: str, base_medium: dict[str, float] | None = None,
                 method: str = "moma") -> None:
        from services.predictor.prior import MechanisticPrior

        self.prior = MechanisticPrior(organism, base_medium, method=method)
        self.index = self.prior.flux_index(target)
        if self.index < 0:
            raise ValueError(f"objective.target: {target!r} is not a reaction of the organism model")

    def predict(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
        """The target flux per design (0 where the model has no solution) and sd 0."""
        batch = self.prior.compute(list(designs))
        mean = np.where(batch.feasible, batch.flux[:, self.index], 0.0) if len(designs) else np.zeros(0)
        return mean, np.zeros(len(designs))

    def predict_output(self, designs: Sequence[Design], name: str) -> tuple[np.ndarray, np.ndarray]:
        """Any reaction's flux (or 'growth') per design, sd 0; NaN when the model has no such reaction."""
        index = self.prior.flux_index(name)
        if index < 0:
            nan = np.full(len(designs), np.nan)
            return nan, nan
        batch = self.prior.compute(list(designs))
        mean = np.where(batch.feasible, batch.flux[:, index], 0.0) if len(designs) else np.zeros(0)
        return mean, np.zeros(len(designs))


def insilico_for(spec: CampaignSpec, organism: Any) -> InSilicoSurrogate | None:
    """The in-silico surrogate of a cell campaign whose target is a model reaction (or growth); else None."""
    if organism is None or not spec.search_space.is_cell:
        return None
    try:
        return InSilicoSurrogate(organism, spec.objective.target, dict(spec.organism.medium) or None)
    except ValueError:
        return None
