"""The mechanistic envelope of a readout: no cell can exceed what its stoichiometry and bounds allow.

For a design, the target flux of any steady state that meets the campaign's growth floor lies in
[min, max] of the target over the design's flux polytope with biomass at or above the floor (two LPs
on the organism model; a design that cannot reach the floor gets [0, 0]). A learned surrogate that
extrapolates beyond that range (a neural net far from its data can predict any number) is clipped to
it, and its sd to half the range, so acquisition functions cannot chase physically impossible values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

import numpy as np

from schemas import CampaignSpec, Design
from services.optimizer.surrogate import Surrogate


class FluxEnvelope:
    """[min, max] of one reaction's flux under each design's bounds; cached by design key.

    The two LPs are answered per strain where they can be (`services.domain.organism.reuse`): a design that
    only adds expression changes to a strain already solved usually needs no LP of its own.
    """

    def __init__(self, organism: Any, reaction: str, base_medium: Mapping[str, float] | None = None,
                 min_growth: float = 0.0) -> None:
        from services.domain.organism import FastFBA
        from services.domain.organism.reuse import AnchoredSolves

        self.organism = organism
        self.base_medium = base_medium
        self.min_growth = min_growth
        self.fba = FastFBA(organism)
        self.objective = np.zeros(len(organism.reaction_ids))
        self.objective[organism.reaction_index(reaction)] = 1.0
        self._cache: dict[str, tuple[float, float]] = {}
        self._high = AnchoredSolves(lambda lb, ub: self.fba.optimize(lb, ub, objective=self.objective, sense="max"))
        self._low = AnchoredSolves(lambda lb, ub: self.fba.optimize(lb, ub, objective=self.objective, sense="min"))

    def _bounds(self, design: Design) -> tuple[np.ndarray, np.ndarray]:
        lb, ub = self.organism.design_bounds(design, self.base_medium)
        lb = lb.copy()
        lb[self.organism.biomass_index] = max(lb[self.organism.biomass_index], self.min_growth)
        return lb, ub

    def range(self, design: Design) -> tuple[float, float]:
        """Lowest and highest possible flux (mmol/gDW/h); (0, 0) when the design has no steady state."""
        key = design.key()
        if key not in self._cache:
            lb, ub = self._bounds(design)
            if lb[self.organism.biomass_index] > ub[self.organism.biomass_index]:
                self._cache[key] = (0.0, 0.0)
                return self._cache[key]
            anchor = Design(knockouts=design.knockouts, medium=design.medium)
            anchor_key = anchor.key()
            high = self._high.solve_for(anchor_key, lambda: self._bounds(anchor), (lb, ub))
            low = self._low.solve_for(anchor_key, lambda: self._bounds(anchor), (lb, ub))
            ok = high.status == "optimal" and low.status == "optimal"
            self._cache[key] = (float(low.objective_value), float(high.objective_value)) if ok else (0.0, 0.0)
        return self._cache[key]

    @property
    def lp_calls(self) -> int:
        """LPs solved so far (both senses)."""
        return self._high.lp_calls + self._low.lp_calls


class EnvelopeSurrogate:
    """A surrogate whose objective predictions are kept inside the mechanistic envelope."""

    def __init__(self, inner: Surrogate, envelope: FluxEnvelope) -> None:
        self.inner = inner
        self.envelope = envelope

    def predict(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
        """Clipped mean; sd at most half the envelope's width."""
        # the envelope's LPs run here while the inner surrogate answers (the predictor service, over NATS)
        with ThreadPoolExecutor(1, thread_name_prefix="fluxlab-predict") as executor:
            inner = executor.submit(self.inner.predict, designs)
            bounds = np.array([self.envelope.range(d) for d in designs], dtype=float).reshape(len(designs), 2)
            mean, sd = inner.result()
        low, high = bounds[:, 0], bounds[:, 1]
        mean = np.clip(np.nan_to_num(np.asarray(mean, float), nan=0.0), low, high)
        sd = np.minimum(np.nan_to_num(np.asarray(sd, float), nan=0.0), (high - low) / 2)
        return mean, sd

    def predict_growth(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
        """The inner surrogate's growth prediction (NaN when it has none)."""
        predict_growth = getattr(self.inner, "predict_growth", None)
        if predict_growth is None:
            nan = np.full(len(designs), np.nan)
            return nan, nan
        mean, sd = predict_growth(designs)
        return np.asarray(mean, float), np.asarray(sd, float)


@lru_cache(maxsize=32)
def _envelope(model: str, target: str, medium: tuple[tuple[str, float], ...], growth_floor: float
              ) -> FluxEnvelope | None:
    from services.domain.organism import FastFBA, load_organism

    organism = load_organism(model)
    reaction = organism.biomass_id if target == "growth" else target
    if reaction not in set(organism.reaction_ids):
        return None
    base = dict(medium) or None
    wild_type = FastFBA(organism).optimize_design(Design(), base_medium=base).growth
    return FluxEnvelope(organism, reaction, base, min_growth=growth_floor * wild_type)


def within_envelope(spec: CampaignSpec, surrogate: Surrogate | None) -> Surrogate | None:
    """Wrap the surrogate of a cell campaign whose target is a reaction of its organism model."""
    if surrogate is None or not spec.search_space.is_cell:
        return surrogate
    envelope = _envelope(spec.organism.model, spec.objective.target, tuple(sorted(spec.organism.medium.items())),
                         spec.objective.growth_floor)
    return surrogate if envelope is None else EnvelopeSurrogate(surrogate, envelope)
