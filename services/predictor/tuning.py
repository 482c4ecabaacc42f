"""Hyper-parameter choice by inner cross-validation on the training rows only (`--tune`).

`TunedModel` wraps `DeepModel`: its `train` scores a small grid of network sizes (`TUNE_GRID`: the
default width without dropout, wider with dropout) by k-fold cross-validation *inside* the rows it is
given, then trains the best candidate on all of them. Under an outer cross-validation
(`tabular.run_cv(..., tune=True)`) those rows are the outer training folds, so the choice never sees
an outer test fold; under `fit_file(..., tune=True)` they are the whole file. Inner folds keep the
caller's `groups` together when it passes them (the outer folds were grouped).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np

from services.predictor import metrics
from services.predictor.deepmodel import DeepModel, PredictionResult
from services.predictor.errors import PredictorError

TUNE_GRID: dict[str, dict[str, Any]] = {
    "default": {},
    "wide": {"hidden": (128, 128), "dropout": 0.1},
    "wider": {"hidden": (256, 256), "dropout": 0.2},
}
"""Candidates (DeepModel options over the caller's): the kind's default net, and two wider ones with
dropout (on the 280-media set wider nets with dropout gained 0.01–0.02 Q²; docs/predictor.md)."""

INNER_FOLDS = 3
INNER_ENSEMBLE = 3
"""Members of each inner-CV model (the final model has the caller's `ensemble`): ranks candidates at a
fraction of the cost."""
MIN_ROWS = 2 * INNER_FOLDS


class TunedModel:
    """A DeepModel whose network size is chosen by inner k-fold CV on its training rows."""

    def __init__(self, kind: str = "mlp", organism: str | None = None, ensemble: int = 5, seed: int = 0,
                 grid: dict[str, dict[str, Any]] | None = None, inner_folds: int = INNER_FOLDS,
                 **options: Any) -> None:
        if inner_folds < 2:
            raise PredictorError("inner_folds", f"need at least 2 inner folds, got {inner_folds}")
        self.kind, self.organism, self.ensemble, self.seed = kind, organism, ensemble, seed
        self.grid = dict(grid if grid is not None else TUNE_GRID)
        if not self.grid:
            raise PredictorError("grid", "no candidate to choose from")
        self.inner_folds = inner_folds
        self.options = options
        self.model: DeepModel | None = None
        self.chosen: str | None = None
        self.inner_q2: dict[str, float] = {}

    def _make(self, name: str, ensemble: int, seed: int) -> DeepModel:
        return DeepModel(self.kind, self.organism, ensemble=ensemble, seed=seed,
                         **{**self.options, **self.grid[name]})

    def train(self, X: Sequence[Any], y: np.ndarray, *, names: Sequence[str] | None = None,
              sd: np.ndarray | None = None, omics: Any = None,
              groups: Sequence[str] | None = None) -> dict[str, Any]:
        """Score every candidate by inner CV on these rows (same inner folds for all), train the best on all."""
        y = np.asarray(y, dtype=float)
        if len(y) < MIN_ROWS:
            raise PredictorError("tune", f"inner cross-validation needs at least {MIN_ROWS} training rows, "
                                 f"got {len(y)}")
        inner_groups = list(groups) if groups is not None and len(set(groups)) >= self.inner_folds else None
        inner_seed = self.seed + 1000  # inner folds differ from the outer ones
        self.inner_q2 = {}
        for name in self.grid:
            res = metrics.cross_validate(partial(self._make, name, min(self.ensemble, INNER_ENSEMBLE), self.seed),
                                         X, y, folds=self.inner_folds, seed=inner_seed, groups=inner_groups,
                                         names=names, sd=sd)
            q2 = float(res["q2"])
            self.inner_q2[name] = q2 if np.isfinite(q2) else -np.inf
        self.chosen = max(self.grid, key=lambda n: self.inner_q2[n])  # ties: the first (simplest) candidate
        self.model = self._make(self.chosen, self.ensemble, self.seed)
        report: dict[str, Any] = dict(self.model.train(X, y, names=names, sd=sd, omics=omics, groups=groups))
        report.update(tuned=self.chosen, inner_q2=dict(self.inner_q2))
        return report

    def predict(self, X: Sequence[Any], omics: Any = None) -> PredictionResult:
        """The chosen model's prediction."""
        if self.model is None:
            raise PredictorError("model", "the model is not trained")
        return self.model.predict(X, omics)

    def save(self, path: Any) -> None:
        """Save the chosen model (a plain DeepModel file: `predictor predict|evaluate` read it as any other)."""
        if self.model is None:
            raise PredictorError("model", "the model is not trained")
        self.model.save(path)
