"""Transfer learning: pretrain on in-silico data (pFBA of random designs), fine-tune on measurements."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from schemas.campaign import SearchSpace
from schemas.design import Design
from services.predictor.deepmodel import DeepModel
from services.predictor.errors import PredictorError


def random_designs(space: SearchSpace, n: int, seed: int = 0) -> list[Design]:
    """`n` random designs of the search space: up to `max_knockouts` knockouts, random expression/medium levels."""
    rng = np.random.default_rng(seed)
    designs: list[Design] = []
    for _ in range(n):
        k = int(rng.integers(0, min(space.max_knockouts, len(space.knockout_candidates)) + 1))
        kos = rng.choice(space.knockout_candidates, size=k, replace=False).tolist() if k else []
        expression = {}
        for p in space.expression:
            if rng.random() < 0.5:
                levels = p.levels or None
                fold = float(rng.choice(levels)) if levels else float(np.exp(rng.uniform(np.log(p.min_fold),
                                                                                        np.log(p.max_fold))))
                expression[p.gene] = fold
        medium = {m.exchange: float(rng.uniform(m.min_uptake, m.max_uptake)) for m in space.medium
                  if rng.random() < 0.5}
        designs.append(Design(knockouts=sorted(kos), expression=expression, medium=medium))
    return designs


def insilico_targets(model: DeepModel, designs: Sequence[Design], names: Sequence[str]) -> np.ndarray:
    """Mechanistic-prior values (the model's `prior`: MOMA or pFBA) per design and flux-like target (NaN for others)."""
    if model.organism is None:
        raise PredictorError("organism", "in-silico pretraining needs an organism model")
    prior = model.prior.compute(designs)
    y = np.full((len(designs), len(names)), np.nan)
    for j, name in enumerate(names):
        idx = model.prior.flux_index(name)
        if idx >= 0:
            y[:, j] = prior.flux[:, idx]
    return y


def pretrain(model: DeepModel, space: SearchSpace, names: Sequence[str], n: int = 1000,
             seed: int = 0) -> dict[str, float]:
    """Train `model` on its mechanistic prior's answers (MOMA or pFBA) for `n` random designs of `space`."""
    designs = random_designs(space, n, seed)
    y = insilico_targets(model, designs, names)
    if np.isnan(y).all():
        raise PredictorError("names", "none of the outputs is a flux of the organism model (nothing to pretrain on)")
    model.search_space = model.search_space or space
    return model.train(designs, y, names=list(names))


def fine_tune(model: DeepModel, designs: Sequence[Design], y: np.ndarray,
              sd: np.ndarray | None = None) -> dict[str, float]:
    """Continue training a pretrained (or earlier campaign's) model on measurements."""
    return model.fine_tune(list(designs), y, sd=sd)


def from_earlier_campaign(path_or_bytes: str | Path | bytes) -> DeepModel:
    """Load an earlier campaign's saved model as the starting point for `fine_tune`."""
    if isinstance(path_or_bytes, bytes):
        return DeepModel.from_bytes(path_or_bytes)
    return DeepModel.load(path_or_bytes)
