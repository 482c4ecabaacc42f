"""The held-out split a DeepModel calibrates on, and the predictions it calibrates with.

The split serves early stopping and the interval calibration (`ensemble.Calibration`). Without groups it
is a random share of the rows (`val_fraction`, at least `MIN_VAL_ROWS` when the data allow). With groups
(`DeepModel.train(..., groups=...)`, which `fluxlab predictor cv --group-by` passes for the training
folds) whole groups are held out, and the ids only the held-out rows have are treated as the model
treats ids it never saw at prediction time (left out of the features and replaced by stand-ins,
`services/predictor/unseen.py`). The calibration is then fitted on residuals of *unseen groups*, the
situation grouped folds test, instead of on rows whose knockouts the training rows share.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from schemas.design import Design
from services.predictor.ensemble import Calibration
from services.predictor.errors import PredictorError
from services.predictor.features import OmicsList, _pools
from services.predictor.models import Batch
from services.predictor.unseen import combine, stand_ins

if TYPE_CHECKING:
    from services.predictor.deepmodel import DeepModel

MIN_ROWS = 20
"""Below this many training rows there is no held-out split (no early stopping, no calibration)."""
MIN_VAL_ROWS = 40
"""The held-out split has at least this many rows when a quarter of the data allows. The 95 % conformal
quantile of n points is the ⌈(n+1)·0.95⌉-th: below 19 points it does not exist (a Student-t widening
instead, `ensemble.conformal_factor`), up to 38 it is the largest |z| (coverage n/(n+1), 0.97 at 34
points); from 39 on it is an inner order statistic and the expected coverage is 0.95–0.955."""


def validation_split(n: int, fraction: float, rng: np.random.Generator,
                     groups: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(held-out rows, training rows). Random rows, or whole groups (in random order) when `groups` are given."""
    if groups is not None and len(groups) != n:
        raise PredictorError("groups", f"{len(groups)} group labels for {n} rows")
    if n < MIN_ROWS:
        order = rng.permutation(n)
        return order[:0], order
    n_val = max(round(n * fraction), min(MIN_VAL_ROWS, n // 4))
    labels = None if groups is None else np.asarray(list(groups), dtype=object)
    if labels is None or len(set(labels.tolist())) < 2:
        order = rng.permutation(n)
        return order[:n_val], order[n_val:]
    uniq = list(dict.fromkeys(labels.tolist()))
    chosen: list[int] = []
    for gi in rng.permutation(len(uniq)):
        if len(chosen) >= n_val:
            break
        rows = np.flatnonzero(labels == uniq[gi]).tolist()
        if len(chosen) + len(rows) >= n:  # keep at least one group for training
            continue
        chosen += rows
    val = np.sort(np.asarray(chosen, dtype=int))
    return val, np.setdiff1d(np.arange(n), val)


@dataclasses.dataclass
class HeldOut:
    """The held-out rows as the model sees them: inputs with held-out-only ids masked, and those ids."""

    batch: Batch
    designs: list[Design]
    unseen: list[list[str]]
    features: object


def held_out_batch(model: DeepModel, batch: Batch, designs: Sequence[Design] | None, omics: OmicsList | None,
                   tr_idx: np.ndarray, val_idx: np.ndarray) -> HeldOut | None:
    """The held-out rows with every id no training-part design varied left out of their features.

    None for a feature matrix (no designs). The prior (hybrid) and the graph (gnn) still see the real designs.
    """
    assert model.features is not None and model.x_scaler is not None
    val = batch.select(torch.as_tensor(val_idx, device=batch.x.device))
    if designs is None:
        return None
    train_designs = [designs[i] for i in tr_idx]
    val_designs = [designs[i] for i in val_idx]
    seen = dataclasses.replace(model.features, pools=_pools(train_designs))
    unseen: list[list[str]] = []
    val_omics = None if omics is None else [omics[i] for i in val_idx]
    xf, _ = seen.encode(val_designs, val_omics, model.organism, unseen)
    xz = np.nan_to_num(model.x_scaler.transform(xf))
    masked = val.with_inputs(torch.as_tensor(xz, dtype=torch.float32, device=val.x.device))
    return HeldOut(masked, val_designs, unseen, seen)


def predict_held_out(model: DeepModel, held: HeldOut) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, ensemble sd and the extra (unseen-id) variance of the held-out rows, as `DeepModel.predict` would."""
    mean, ens_sd = model._raw_predict(held.batch)
    if model.config.kind == "gnn" or not any(held.unseen):
        return mean, ens_sd, np.zeros_like(mean)
    assert model.x_scaler is not None and model.y_scaler is not None
    subs = stand_ins(held.features, model.x_scaler, held.batch.x.cpu().numpy(), held.designs,  # type: ignore[arg-type]
                     held.unseen, seed=model.config.seed)
    raw = [model._raw_predict(held.batch.with_inputs(torch.as_tensor(x, dtype=torch.float32,
                                                                      device=held.batch.x.device)))
           for x in subs.matrices]
    mean, ens_sd, between = combine([r[0] for r in raw], [r[1] for r in raw])
    return mean, ens_sd, between + np.outer(subs.no_pool, model.y_scaler.sd**2)


def fit_calibration(model: DeepModel, held: HeldOut | Batch, y: np.ndarray, noise: np.ndarray,
                    groups: Sequence[str] | None) -> Calibration:
    """The model's calibration from its held-out rows (`held`: masked unseen groups, or a plain batch)."""
    if isinstance(held, HeldOut):
        mean, ens_sd, extra = predict_held_out(model, held)
    else:
        (mean, ens_sd), extra = model._raw_predict(held), None
    grouped = groups is not None and len(set(groups)) > 1
    return Calibration.fit(y, mean, ens_sd, noise, extra, grouped=grouped)
