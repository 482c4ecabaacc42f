"""Metrics against hand-computed values (no sklearn)."""

from __future__ import annotations

import numpy as np
import pytest

from services.predictor import metrics


def test_mse_and_r2_by_hand() -> None:
    y = np.array([[1.0, 2.0], [2.0, np.nan], [3.0, 4.0], [4.0, 6.0]])
    p = np.array([[1.5, 2.0], [2.0, 9.0], [2.5, 5.0], [4.0, 6.0]])
    # Output 0: errors .5, 0, .5, 0 -> SSE .5, mean 2.5 -> SST 5 -> R² .9, MSE .125
    # Output 1 (the NaN row skipped): errors 0, 1, 0 -> SSE 1, mean 4 -> SST 8 -> R² .875, MSE 1/3
    np.testing.assert_allclose(metrics.mse(y, p), [0.125, 1 / 3])
    np.testing.assert_allclose(metrics.r2(y, p), [0.9, 0.875])
    report = metrics.regression_report(y, p, ["a", "b"])
    assert report["r2"] == pytest.approx((0.9 + 0.875) / 2)
    assert report["r2:b"] == pytest.approx(0.875)


def test_roc_auc_with_ties_by_hand() -> None:
    labels = np.array([True, True, False, False, False])
    score = np.array([0.9, 0.4, 0.4, 0.2, 0.1])
    # Pairs (pos, neg): 0.9 beats all 3; 0.4 ties one, beats two -> (3 + 2.5) / 6
    assert metrics.roc_auc(labels, score) == pytest.approx(5.5 / 6)


def test_classification_by_hand() -> None:
    truth = np.array([1.0, 0.2, 0.9, 0.1, 0.8])
    score = np.array([0.7, 0.6, 0.3, 0.1, 0.9])
    out = metrics.classification(truth, score, threshold=0.5)
    # actual: T F T F T; called: T T F F T -> TP 2, FP 1, FN 1
    assert out["precision"] == pytest.approx(2 / 3)
    assert out["recall"] == pytest.approx(2 / 3)
    assert out["f1"] == pytest.approx(2 / 3)
    # positives' scores .7 .3 .9 vs negatives' .6 .1: 2 + 1 + 2 = 5 of 6 pairs
    assert out["roc_auc"] == pytest.approx(5 / 6)


def test_chi_squared_by_hand() -> None:
    y = np.array([[1.0], [2.0], [np.nan]])
    p = np.array([[1.2], [1.0], [0.0]])
    sd = np.array([[0.1], [0.5], [1.0]])
    out = metrics.chi_squared(y, p, sd)
    assert out["chi2"] == pytest.approx(4.0 + 4.0)
    assert out["reduced_chi2"] == pytest.approx(4.0)


def test_coverage_by_hand() -> None:
    y = np.array([0.0, 1.0, 3.0, np.nan])
    assert metrics.coverage(y, np.zeros(4), np.ones(4), 1.0) == pytest.approx(2 / 3)


def test_group_folds_keep_groups_together() -> None:
    groups = ["a", "a", "b", "b", "b", "c", "d", "d"]
    folds = metrics.kfold_indices(8, 3, seed=0, groups=groups)
    assert sorted(np.concatenate(folds).tolist()) == list(range(8))
    for fold in folds:
        in_fold = {groups[i] for i in fold}
        assert all(groups[j] not in in_fold for other in folds if other is not fold for j in other)
    with pytest.raises(ValueError, match="groups"):
        metrics.kfold_indices(8, 5, seed=0, groups=groups)


def test_plot_predicted_vs_measured(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = metrics.plot_predicted_vs_measured(np.arange(5.0), np.arange(5.0) + 0.1, tmp_path / "pvm.png",
                                              sd=np.full(5, 0.2))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
