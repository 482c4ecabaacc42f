"""Deep ensemble: member predictions -> mean and sd; post-hoc calibration of the intervals.

Predictive sd of output j = c_j · sqrt(a_j · ensemble variance + noise_j² + extra), where noise_j is the
typical measurement sd of that output (0 when unknown), extra the variance added for unseen ids
(`unseen.py`), a_j is fitted on the held-out split so that the mean squared z-score there is 1 (the
shape: how ensemble spread and noise mix), and c_j is a split-conformal factor: the ⌈(n+1)·0.95⌉-th
smallest |z| of the n held-out rows over 1.96, so that mean ± 1.96·sd covers 95 % of new rows exchangeable
with the held-out ones. Below 19 rows that order statistic does not exist; the factor is then the larger
of the biggest |z| and a Student-t quantile (n degrees of freedom) times the rms |z| (an honest widening).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from services.predictor.models import Batch

MIN_CALIBRATION_POINTS = 8
LEVEL = 0.95
Z95 = 1.959964


@torch.no_grad()
def member_outputs(net: nn.Module, batch: Batch) -> torch.Tensor:
    """Outputs of every member (members x n x targets), network in eval mode."""
    net.eval()
    return net(batch)


def mean_and_sd(outputs: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Ensemble mean and (population) sd over members."""
    out = outputs.double().cpu().numpy()
    return out.mean(axis=0), out.std(axis=0)


def _solve_scale(r2: np.ndarray, var: np.ndarray, noise2: np.ndarray) -> float:
    """Find a >= 0 with mean(r² / (a·var + noise²)) = 1 (bisection in log a)."""
    def excess(a: float) -> float:
        return float(np.mean(r2 / np.maximum(a * var + noise2, 1e-12))) - 1.0

    lo, hi = 1e-4, 1e6
    if excess(lo) <= 0:
        return lo
    if excess(hi) >= 0:
        return hi
    for _ in range(60):
        mid = float(np.sqrt(lo * hi))
        lo, hi = (mid, hi) if excess(mid) > 0 else (lo, mid)
    return float(np.sqrt(lo * hi))


def conformal_factor(z: np.ndarray, level: float = LEVEL) -> float:
    """Multiplier c for the sd so that ±1.96·c·sd covers `level` of new rows, from held-out |z| scores."""
    z = np.sort(np.abs(np.asarray(z, dtype=float)))
    n = z.size
    if n == 0:
        return 1.0
    k = int(np.ceil((n + 1) * level))
    if k <= n:
        q = float(z[k - 1])
    else:
        from scipy.stats import t

        q = max(float(z[-1]), float(t.ppf(0.5 + level / 2, df=n)) * float(np.sqrt(np.mean(z**2))))
    return max(q, 1e-6) / Z95


@dataclass
class Calibration:
    """Per-output variance multiplier, measurement-noise sd (target units) and conformal factor."""

    scale: np.ndarray
    noise_sd: np.ndarray
    factor: np.ndarray | None = None
    """Per-output split-conformal multiplier of the sd (None: 1, models saved before it existed)."""
    n_points: int = 0
    """Held-out rows it was fitted on (0: not fitted)."""
    grouped: bool = False
    """Whether the held-out rows were whole groups (unseen interventions), not random rows."""

    @classmethod
    def identity(cls, n_outputs: int, noise_sd: np.ndarray | None = None) -> Calibration:
        """No scaling (used when there is no validation data)."""
        noise = np.zeros(n_outputs) if noise_sd is None else noise_sd
        return cls(np.ones(n_outputs), noise)

    @classmethod
    def fit(cls, y: np.ndarray, mean: np.ndarray, ens_sd: np.ndarray, noise_sd: np.ndarray,
            extra: np.ndarray | None = None, grouped: bool = False) -> Calibration:
        """Fit a_j, then c_j, on held-out residuals; outputs with too few points use the pooled values."""
        resid2 = (y - mean) ** 2
        noise2 = np.broadcast_to(noise_sd**2, y.shape) + (0.0 if extra is None else extra)
        var = ens_sd**2
        measured = np.isfinite(y)
        enough = measured.sum() >= MIN_CALIBRATION_POINTS
        pooled = _solve_scale(resid2[measured], var[measured], noise2[measured]) if enough else 1.0
        scale = np.full(y.shape[1], pooled)
        for j in range(y.shape[1]):
            m = measured[:, j]
            if m.sum() >= MIN_CALIBRATION_POINTS:
                scale[j] = _solve_scale(resid2[m, j], var[m, j], noise2[m, j])
        z = np.sqrt(resid2 / np.maximum(scale * var + noise2, 1e-24))
        factor = np.full(y.shape[1], conformal_factor(z[measured]) if enough else 1.0)
        for j in range(y.shape[1]):
            m = measured[:, j]
            if m.sum() >= MIN_CALIBRATION_POINTS:
                factor[j] = conformal_factor(z[m, j])
        return cls(scale, np.asarray(noise_sd, dtype=float), factor, int(measured.any(axis=1).sum()), grouped)

    def predictive_sd(self, ens_sd: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
        """Calibrated predictive sd (covers a new measurement, noise included); `extra`: added variance."""
        var = self.scale * ens_sd**2 + self.noise_sd**2 + (0.0 if extra is None else extra)
        return (1.0 if self.factor is None else self.factor) * np.sqrt(var)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form."""
        return {"scale": self.scale.tolist(), "noise_sd": self.noise_sd.tolist(),
                "factor": None if self.factor is None else self.factor.tolist(), "n_points": self.n_points,
                "grouped": self.grouped}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        """Inverse of `to_dict` (models saved before the conformal factor have none)."""
        factor = data.get("factor")
        return cls(np.asarray(data["scale"], dtype=float), np.asarray(data["noise_sd"], dtype=float),
                   None if factor is None else np.asarray(factor, dtype=float), int(data.get("n_points", 0) or 0),
                   bool(data.get("grouped", False)))


def typical_noise_sd(sd: np.ndarray | None, n_outputs: int) -> np.ndarray:
    """Root-mean-square measurement sd per output (0 where unknown)."""
    if sd is None:
        return np.zeros(n_outputs)
    sd = np.asarray(sd, dtype=float)
    finite = np.isfinite(sd)
    sq = np.where(finite, sd**2, 0.0).sum(axis=0) / np.maximum(finite.sum(axis=0), 1)
    return np.sqrt(sq)


def bootstrap_weights(n_members: int, n_rows: int, rng: np.random.Generator, bootstrap: bool) -> np.ndarray:
    """Row weights per member: bootstrap counts, or all ones."""
    if not bootstrap:
        return np.ones((n_members, n_rows))
    return np.stack([np.bincount(rng.integers(0, n_rows, n_rows), minlength=n_rows) for _ in range(n_members)])
