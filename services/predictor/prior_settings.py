"""The MOMA prior's settings fitted to a model's training data: the wild-type reference and enzyme capacities.

The wild-type reference is anchored to the measured wild-type runs (`reference.anchored_reference`), then
enzyme capacities are estimated from measured fluxes of designs that lower a reaction's level
(`capacity.estimate_capacities`). Only the hybrid (and the gnn on a per-design prior) with the MOMA prior
has them; both are saved with the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from services.predictor import gnn
from services.predictor.capacity import estimate_capacities
from services.predictor.reference import anchored_reference

if TYPE_CHECKING:
    from services.predictor.deepmodel import DeepModel, Inputs


def fit_prior_settings(model: DeepModel, X: Inputs, y: np.ndarray) -> None:
    """Set `model.reference` and `model.capacities` from targets `y` (columns `model.names`); reset otherwise."""
    model.reference, model.capacities, model._prior = None, {}, None
    cfg = model.config
    if (cfg.kind != "hybrid" and not (cfg.kind == "gnn" and gnn.resolved_prior(model) == "design")) \
            or cfg.prior != "moma":
        return
    designs = model.network_designs(list(X))
    flux_index = [model.prior.flux_index(n) for n in model.names]
    if cfg.anchor_reference:
        model.reference = anchored_reference(model.organism, designs, y, flux_index)
        model._prior = None
    if cfg.fit_capacities and cfg.capacity_headroom:
        wild_type = model.prior.wild_type_reference()
        model.capacities = estimate_capacities(model.organism, designs, y, flux_index, wild_type,
                                               cfg.capacity_headroom)
        model._prior = None
