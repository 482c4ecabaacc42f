"""Designs with interventions no training row had ("unseen"): an answer with honestly wider uncertainty.

A feature-based network (mlp, fusion, and the hybrid's learned residual) has no input column for a
knockout, expression gene or medium component that never occurred in its training designs. Such an
id (valid for the organism model) is treated as *exchangeable* with the ids of the same kind the
training designs did vary: the prediction is the average over `draws` stand-ins, each replacing every
unseen id by a randomly drawn seen one (a knockout by another knocked-out id, an expression change by
another gene at the same fold, a medium component by another at the same uptake), and the spread of
the stand-ins' predictions is added to the predictive variance. That spread is the model's own
estimate of how much interventions of that kind differ, which is exactly what it does not know
about the new one. Where the training data varied nothing of that kind there is no stand-in: the
variance of the output over the training data is added instead. The hybrid's mechanistic prior still
sees the real design (the organism model applies the unseen knockout itself).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from schemas.design import Design
from services.predictor.features import FeatureSpace, Standardizer
from services.predictor.models import Batch

DRAWS = 8
"""Stand-ins per design with unseen ids."""

STACKED_ROWS = 4096
"""Most rows (stand-ins x designs) evaluated in one forward pass; larger requests go a stand-in at a time."""


@dataclass
class StandIns:
    """Standardised feature matrices with the unseen ids replaced, and rows that had no stand-in."""

    matrices: list[np.ndarray]
    no_pool: np.ndarray


def _value(design: Design, kind: str, name: str) -> float:
    if kind == "ko":
        return 1.0
    if kind == "expr":
        return math.log2(design.expression[name])
    return float(design.medium[name])


def _used(design: Design, kind: str) -> set[str]:
    if kind == "ko":
        return set(design.knockouts)
    return set(design.expression) if kind == "expr" else set(design.medium)


def stand_ins(features: FeatureSpace, scaler: Standardizer, xz: np.ndarray, designs: Sequence[Design],
              unseen: Sequence[Sequence[str]], draws: int = DRAWS, seed: int = 0) -> StandIns:
    """`draws` copies of the standardised matrix `xz`, each row's unseen ids replaced by random seen ones."""
    column = {c: j for j, c in enumerate(features.columns)}
    rng = np.random.default_rng(seed)
    no_pool = np.zeros(len(designs), dtype=bool)
    matrices = []
    for _ in range(draws):
        xk = xz.copy()
        for row, ids in enumerate(unseen):
            used: dict[str, set[str]] = {}
            for ident in ids:
                kind, name = ident.split(":", 1)
                taken = used.setdefault(kind, _used(designs[row], kind))
                pool = [p for p in features.pools.get(kind, []) if p not in taken and f"{kind}:{p}" in column]
                if not pool:
                    no_pool[row] = True
                    continue
                pick = pool[int(rng.integers(len(pool)))]
                taken.add(pick)
                j = column[f"{kind}:{pick}"]
                xk[row, j] = (_value(designs[row], kind, name) - scaler.mean[j]) / scaler.sd[j]
        matrices.append(xk)
    return StandIns(matrices, no_pool)


def combine(means: Sequence[np.ndarray], ens_sds: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over stand-ins, their pooled ensemble sd, and the between-stand-in variance (per row, output)."""
    m, e = np.stack(means), np.stack(ens_sds)
    between = m.var(axis=0, ddof=1) if len(means) > 1 else np.zeros_like(m[0])
    return m.mean(axis=0), np.sqrt((e**2).mean(axis=0)), between


def predict_stand_ins(predict: Callable[[Batch], tuple[np.ndarray, np.ndarray]], batch: Batch,
                      matrices: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """`predict` (mean, ensemble sd) of `batch` with each stand-in matrix as its features, in stand-in order.

    The stand-ins of a small request go through the network as one stacked batch (rows are independent):
    the optimizer's GA asks for a few dozen designs at a time, where one pass instead of `DRAWS` is most of
    the network's share of a prediction.
    """
    n = len(batch)
    if n * len(matrices) > STACKED_ROWS or len(matrices) < 2:
        return [predict(batch.with_inputs(torch.as_tensor(x, dtype=torch.float32, device=batch.x.device)))
                for x in matrices]
    stacked = torch.as_tensor(np.concatenate(matrices), dtype=torch.float32, device=batch.x.device)
    mean, sd = predict(batch.repeat(len(matrices)).with_inputs(stacked))
    return [(mean[i * n:(i + 1) * n], sd[i * n:(i + 1) * n]) for i in range(len(matrices))]
