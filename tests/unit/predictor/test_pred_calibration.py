"""Interval calibration: a held-out split by group covers unseen groups; small samples widen honestly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from services.predictor import metrics
from services.predictor.calibration import validation_split
from services.predictor.deepmodel import DeepModel
from services.predictor.ensemble import Z95, Calibration, conformal_factor

FAST = {"epochs": 300, "patience": 60, "hidden": (64, 64)}


def _group_shift(n_groups: int = 50, per_group: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray,
                                                                                   list[str]]:
    """Each group (a strain) has a random code vector among its inputs and an offset no input explains
    beyond it: a model learns the offsets of the groups it saw and cannot know an unseen group's."""
    rng = np.random.default_rng(seed)
    codes = rng.normal(size=(n_groups, 6))
    offsets = rng.normal(0, 1.0, size=n_groups)
    g = np.repeat(np.arange(n_groups), per_group)
    m = rng.uniform(-1, 1, size=(len(g), 2))
    y = np.sin(2 * m[:, 0]) + m[:, 1] + offsets[g] + rng.normal(0, 0.05, size=len(g))
    return np.hstack([codes[g], m]), y[:, None], [f"g{i}" for i in g]


class _RandomSplit:
    """The same model, trained without the groups (a random held-out split, as before)."""

    def __init__(self) -> None:
        self.model = DeepModel("mlp", organism=None, ensemble=4, seed=0, **FAST)

    def train(self, X: Any, y: np.ndarray, *, names: Sequence[str] | None = None,
              sd: np.ndarray | None = None) -> None:
        self.model.train(X, y, names=names, sd=sd)

    def predict(self, X: Any) -> Any:
        return self.model.predict(X)


def test_a_group_aware_calibration_covers_unseen_groups_where_a_random_split_does_not() -> None:
    X, y, groups = _group_shift()
    grouped = metrics.cross_validate(lambda: DeepModel("mlp", organism=None, ensemble=4, seed=0, **FAST),
                                     X, y, folds=5, seed=0, groups=groups)
    random = metrics.cross_validate(_RandomSplit, X, y, folds=5, seed=0, groups=groups)
    assert random["coverage95"] < 0.82  # calibrated on rows of seen groups: too narrow on new ones
    assert 0.88 <= grouped["coverage95"] <= 0.99  # calibrated on whole held-out groups


def test_the_grouped_split_holds_whole_groups_out() -> None:
    groups = [f"g{i // 7}" for i in range(140)]
    val, train = validation_split(140, 0.15, np.random.default_rng(0), groups)
    held = {groups[i] for i in val}
    assert held and not held & {groups[i] for i in train}
    assert len(val) >= 35 and len(val) + len(train) == 140
    val, _ = validation_split(60, 0.15, np.random.default_rng(0))
    assert len(val) == 15  # a quarter of a small set, so the 95 % conformal quantile can exist
    assert len(validation_split(19, 0.15, np.random.default_rng(0))[0]) == 0


def test_conformal_factor_keeps_nominal_coverage_at_small_samples() -> None:
    rng = np.random.default_rng(1)
    for n in (8, 12, 30):
        new = np.abs(rng.normal(size=(400, 2000)))
        cal = rng.normal(size=(400, n))
        conformal = np.mean([(row <= Z95 * conformal_factor(c)).mean() for row, c in zip(new, cal, strict=True)])
        gaussian = np.mean([(row <= Z95 * np.sqrt(np.mean(c**2))).mean() for row, c in zip(new, cal, strict=True)])
        assert conformal >= 0.945, (n, conformal)  # honest: at least nominal on average, also below 19 points
        assert gaussian < conformal  # the plain variance fit is too narrow on few points


def test_calibration_is_saved_with_the_model_and_old_models_still_load() -> None:
    cal = Calibration.fit(np.array([[0.0], [1.0], [2.0]] * 10), np.zeros((30, 1)), np.ones((30, 1)),
                          np.zeros(1), grouped=True)
    again = Calibration.from_dict(cal.to_dict())
    assert again.grouped and again.n_points == 30 and again.factor is not None
    np.testing.assert_allclose(again.predictive_sd(np.ones((2, 1))), cal.predictive_sd(np.ones((2, 1))))
    old = Calibration.from_dict({"scale": [2.0], "noise_sd": [0.0]})  # saved before the conformal factor
    np.testing.assert_allclose(old.predictive_sd(np.ones((1, 1))), [[np.sqrt(2.0)]])
    X, y, groups = _group_shift(n_groups=12, per_group=5)
    model = DeepModel("mlp", organism=None, ensemble=2, seed=0, epochs=20)
    model.train(X, y, groups=groups)
    loaded = DeepModel.from_bytes(model.to_bytes())
    assert loaded.calibration is not None and loaded.calibration.grouped
    np.testing.assert_allclose(loaded.predict(X).sd, model.predict(X).sd, rtol=1e-5)
