"""Statistical baselines run on the same folds as the networks: gradient boosting, with or without interventions.

`gbm` is scikit-learn's HistGradientBoostingRegressor (500 iterations, one model per target) on the
design features; `gbm_media_only` is the same on the medium columns alone (a model that ignores
the strain). Neither knows the metabolic network, so on folds that hold whole knockout groups out
they show what a purely statistical model learns about a strain it has not seen. They give no
uncertainty: their `sd` is NaN and their coverage is not reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from schemas.design import Design
from services.predictor.deepmodel import PredictionResult
from services.predictor.errors import PredictorError
from services.predictor.features import FeatureSpace

BASELINES = ("gbm", "gbm_media_only")


class GradientBoosting:
    """Per-target HistGradientBoostingRegressor on design features (`media_only`: medium columns only)."""

    def __init__(self, media_only: bool = False, max_iter: int = 500, seed: int = 0) -> None:
        self.media_only, self.max_iter, self.seed = media_only, max_iter, seed
        self.features: FeatureSpace | None = None
        self.columns: np.ndarray | None = None
        self.models: list[Any] = []
        self.names: list[str] = []

    def _matrix(self, designs: Sequence[Design]) -> np.ndarray:
        assert self.features is not None and self.columns is not None
        X, _ = self.features.encode(list(designs), unseen=[])
        return X[:, self.columns]

    def train(self, X: Sequence[Design], y: np.ndarray, *, names: Sequence[str] | None = None,
              sd: np.ndarray | None = None) -> None:
        """Fit one regressor per target column on its measured rows."""
        try:
            from sklearn.ensemble import HistGradientBoostingRegressor
        except ImportError as exc:  # a test dependency, not a runtime one
            raise PredictorError("baselines", "scikit-learn is not installed (pip install scikit-learn)") from exc
        if isinstance(X, np.ndarray):
            raise PredictorError("X", "the gradient-boosting baseline needs designs")
        self.features = FeatureSpace.fit(list(X))
        cols = self.features.columns
        self.columns = np.array([j for j, c in enumerate(cols) if not self.media_only or c.startswith("medium:")],
                                dtype=int)
        y = np.asarray(y, dtype=float)
        self.names = list(names) if names is not None else [f"y{j}" for j in range(y.shape[1])]
        A = self._matrix(X)
        self.models = []
        for j in range(y.shape[1]):
            keep = np.isfinite(y[:, j])
            reg = HistGradientBoostingRegressor(max_iter=self.max_iter, random_state=self.seed,
                                                early_stopping=False)
            self.models.append(reg.fit(A[keep], y[keep, j]) if keep.sum() >= 2 else None)

    def predict(self, X: Sequence[Design]) -> PredictionResult:
        """Point predictions (sd NaN: the baseline has no uncertainty)."""
        A = self._matrix(X)
        mean = np.column_stack([m.predict(A) if m is not None else np.full(len(A), np.nan) for m in self.models])
        nan = np.full_like(mean, np.nan)
        return PredictionResult(mean, nan, self.names, nan)


def baseline(name: str, seed: int = 0, max_iter: int = 500) -> GradientBoosting:
    """A baseline by name (`gbm` or `gbm_media_only`)."""
    if name not in BASELINES:
        raise PredictorError("baseline", f"unknown baseline '{name}' (choose {', '.join(BASELINES)})")
    return GradientBoosting(media_only=name == "gbm_media_only", max_iter=max_iter, seed=seed)
