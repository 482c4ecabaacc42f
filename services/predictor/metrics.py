"""Metrics: MSE, R², Q² under k-fold CV, classification of 'beats the reference', chi², plots.

All functions ignore NaN targets (not measured). Overall R²/Q² is the uniform average over outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def mse(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Mean squared error per output (NaN targets skipped)."""
    y_true, y_pred = np.atleast_2d(y_true.T).T, np.atleast_2d(y_pred.T).T
    m = np.isfinite(y_true)
    sq = np.where(m, (y_true - y_pred) ** 2, 0.0)
    return np.where(m.sum(0) > 0, sq.sum(0) / np.maximum(m.sum(0), 1), np.nan)


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Coefficient of determination per output: 1 - SSE / SST (NaN for < 2 points or zero variance)."""
    y_true, y_pred = np.atleast_2d(y_true.T).T, np.atleast_2d(y_pred.T).T
    out = np.full(y_true.shape[1], np.nan)
    for j in range(y_true.shape[1]):
        m = np.isfinite(y_true[:, j])
        if m.sum() < 2:
            continue
        t, p = y_true[m, j], y_pred[m, j]
        sst = float(((t - t.mean()) ** 2).sum())
        if sst > 0:
            out[j] = 1.0 - float(((t - p) ** 2).sum()) / sst
    return out


def overall(values: np.ndarray) -> float:
    """Uniform average over outputs that have a value."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def regression_report(y_true: np.ndarray, y_pred: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """`r2`, `mse` overall plus `r2:<name>` per output."""
    per = r2(y_true, y_pred)
    out = {"r2": overall(per), "mse": overall(mse(y_true, y_pred))}
    out.update({f"r2:{n}": float(v) for n, v in zip(names, per, strict=True) if np.isfinite(v)})
    return out


def coverage(y_true: np.ndarray, mean: np.ndarray, sd: np.ndarray, z: float) -> float:
    """Fraction of measured values inside mean ± z·sd."""
    m = np.isfinite(y_true)
    if not m.any():
        return float("nan")
    return float((np.abs(y_true[m] - mean[m]) <= z * sd[m]).mean())


def chi_squared(y_true: np.ndarray, y_pred: np.ndarray, sd: np.ndarray) -> dict[str, float]:
    """Σ((y - ŷ)/sd)² over entries with a measured value and sd > 0; reduced = chi² / number of entries."""
    m = np.isfinite(y_true) & np.isfinite(sd) & (sd > 0)
    chi2 = float((((y_true[m] - y_pred[m]) / sd[m]) ** 2).sum())
    n = int(m.sum())
    return {"chi2": chi2, "reduced_chi2": chi2 / n if n else float("nan"), "n": float(n)}


def classification(truth: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float]:
    """The call 'beats the reference by at least `threshold`': truth > threshold vs score > threshold.

    Returns precision, recall, F1 (of the thresholded score) and ROC-AUC (of the raw score).
    """
    truth, score = np.asarray(truth, dtype=float), np.asarray(score, dtype=float)
    keep = np.isfinite(truth) & np.isfinite(score)
    actual, called = truth[keep] > threshold, score[keep] > threshold
    tp = float((actual & called).sum())
    precision = tp / called.sum() if called.sum() else 0.0
    recall = tp / actual.sum() if actual.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "roc_auc": roc_auc(actual, score[keep])}


def roc_auc(labels: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve = P(score of a positive > score of a negative), ties count one half."""
    labels = np.asarray(labels, dtype=bool)
    pos, neg = score[labels], score[~labels]
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (pos.size * neg.size))


def kfold_indices(n: int, folds: int, seed: int, groups: Sequence[str] | None = None) -> list[np.ndarray]:
    """Test-row indices per fold: shuffled KFold, or whole groups per fold (GroupKFold-like) when given."""
    rng = np.random.default_rng(seed)
    if groups is None:
        return [np.sort(f) for f in np.array_split(rng.permutation(n), folds)]
    labels = np.asarray(groups, dtype=object)
    uniq = list(dict.fromkeys(labels.tolist()))
    if len(uniq) < folds:
        raise ValueError(f"{len(uniq)} groups cannot fill {folds} folds")
    sizes = {g: int((labels == g).sum()) for g in uniq}
    order = sorted(rng.permutation(len(uniq)).tolist(), key=lambda i: -sizes[uniq[i]])
    fold_rows: list[list[int]] = [[] for _ in range(folds)]
    for gi in order:  # largest groups first, each into the currently smallest fold
        target = min(range(folds), key=lambda f: len(fold_rows[f]))
        fold_rows[target] += np.flatnonzero(labels == uniq[gi]).tolist()
    return [np.sort(np.asarray(f, dtype=int)) for f in fold_rows]


def cross_validate(model_factory: Callable[[], Any], X: Any, y: np.ndarray, folds: int = 5, seed: int = 0,
                   groups: Sequence[str] | None = None, names: Sequence[str] | None = None,
                   sd: np.ndarray | None = None,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """k-fold CV: Q² = 1 - PRESS/SST of the out-of-fold predictions, per output and overall.

    `model_factory()` returns an object with `train(X, y, names=..., sd=...)` and `predict(X).mean/.sd`
    (and optionally `.unseen`, per row the ids its training fold never had). `progress(done, folds)`
    is called after each fold. With `groups`, a model whose `train` takes `groups` gets the training
    rows' labels (it then calibrates on whole held-out groups, as the folds test it).
    """
    y = np.asarray(y, dtype=float)
    names = list(names) if names is not None else [f"y{j}" for j in range(y.shape[1])]
    oof, oof_sd = np.full_like(y, np.nan), np.full_like(y, np.nan)
    unseen = np.zeros(len(y), dtype=bool)

    def take(idx: np.ndarray) -> Any:
        return X[idx] if isinstance(X, np.ndarray) else [X[i] for i in idx]

    for done, test in enumerate(kfold_indices(len(y), folds, seed, groups), start=1):
        train = np.setdiff1d(np.arange(len(y)), test)
        model = model_factory()
        kw = {"groups": [groups[i] for i in train]} if groups is not None and _takes_groups(model) else {}
        model.train(take(train), y[train], names=names, sd=None if sd is None else sd[train], **kw)
        pred = model.predict(take(test))
        oof[test], oof_sd[test] = pred.mean, pred.sd
        unseen[test] = [bool(u) for u in getattr(pred, "unseen", None) or [[]] * len(test)]
        if progress is not None:
            progress(done, folds)
    per = r2(y, oof)
    return {"q2": overall(per), "q2_per_output": {n: float(v) for n, v in zip(names, per, strict=True)},
            "oof_mean": oof, "oof_sd": oof_sd, "coverage95": coverage(y, oof, oof_sd, 1.959964),
            "coverage68": coverage(y, oof, oof_sd, 1.0), "oof_unseen": unseen}


def _takes_groups(model: Any) -> bool:
    import inspect

    return "groups" in inspect.signature(model.train).parameters


def plot_predicted_vs_measured(y_true: np.ndarray, y_pred: np.ndarray, path: str | Path,
                               sd: np.ndarray | None = None, title: str = "") -> Path:
    """Scatter of predicted vs measured with the y = x line (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t, p = np.ravel(y_true), np.ravel(y_pred)
    keep = np.isfinite(t) & np.isfinite(p)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    if sd is not None:
        ax.errorbar(t[keep], p[keep], yerr=np.ravel(sd)[keep], fmt="none", ecolor="0.7", lw=0.8)
    ax.scatter(t[keep], p[keep], s=10)
    lo = float(min(t[keep].min(), p[keep].min())) if keep.any() else 0.0
    hi = float(max(t[keep].max(), p[keep].max())) if keep.any() else 1.0
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="y = x")
    ax.set_xlabel("measured")
    ax.set_ylabel("predicted")
    ax.set_title(title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
