"""Metrics of predicted growth curves (the dAMN authors' curve R², growth rate and end point R², coverage)."""

from __future__ import annotations

import numpy as np


def _r2(true: np.ndarray, pred: np.ndarray) -> float:
    m = np.isfinite(true)
    t, p = true[m], pred[m]
    sst = float(((t - t.mean()) ** 2).sum()) if t.size else 0.0
    return float("nan") if sst <= 0 else 1.0 - float(((t - p) ** 2).sum()) / sst


def curve_r2(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per curve (rows): R² of predicted vs measured ln OD over its time points, clipped at 0."""
    return np.array([max(0.0, _r2(t, p)) if np.isfinite(_r2(t, p)) else 0.0 for t, p in zip(true, pred, strict=True)])


def mu_max(times: np.ndarray, ln_od: np.ndarray) -> np.ndarray:
    """Per curve: the largest slope of ln OD between consecutive time points (1/h)."""
    return np.nanmax(np.diff(ln_od, axis=1) / np.diff(times)[None, :], axis=1)


def final_value(ln_od: np.ndarray) -> np.ndarray:
    """Per curve: the last measured ln OD."""
    return np.array([row[np.isfinite(row)][-1] for row in ln_od])


def coverage(true: np.ndarray, mean: np.ndarray, sd: np.ndarray, z: float = 1.959964) -> float:
    """Fraction of measured points inside mean ± z·sd."""
    m = np.isfinite(true)
    return float((np.abs(true - mean)[m] <= z * sd[m]).mean())


def curve_report(times: np.ndarray, true: np.ndarray, mean: np.ndarray, sd: np.ndarray | None = None
                 ) -> dict[str, float]:
    """curve_r2_mean, mu_max_r2, final_r2 (and coverage95 when sd is given) over held-out curves."""
    out = {
        "curve_r2_mean": float(curve_r2(true, mean).mean()),
        "mu_max_r2": _r2(mu_max(times, true), mu_max(times, mean)),
        "final_r2": _r2(final_value(true), final_value(mean)),
        "n_runs": float(true.shape[0]),
    }
    if sd is not None:
        out["coverage95"] = coverage(true, mean, sd)
    return out


def profile_r2(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per profile (leading axes; positions on the last): R² of predicted vs true values, clipped at 0."""
    flat_t, flat_p = true.reshape(-1, true.shape[-1]), pred.reshape(-1, pred.shape[-1])
    return curve_r2(flat_t, flat_p)


def band_coverage(true: np.ndarray, lower: np.ndarray, upper: np.ndarray, mask: np.ndarray) -> float:
    """Fraction of the masked true values inside [lower, upper]."""
    inside = (true >= lower) & (true <= upper)
    return float(inside[mask].mean()) if mask.any() else float("nan")
