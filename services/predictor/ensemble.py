"""Deep ensemble: member predictions -> mean and sd; post-hoc variance calibration.

Predictive sd of output j = sqrt(a_j · ensemble variance + measurement noise_j²), where noise_j is
the typical measurement sd of that output (0 when unknown) and a_j is fitted on the validation split
so that the mean squared z-score there is 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from services.predictor.models import Batch

MIN_CALIBRATION_POINTS = 8


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


@dataclass
class Calibration:
    """Per-output variance multiplier and measurement-noise sd (target units)."""

    scale: np.ndarray
    noise_sd: np.ndarray

    @classmethod
    def identity(cls, n_outputs: int, noise_sd: np.ndarray | None = None) -> Calibration:
        """No scaling (used when there is no validation data)."""
        noise = np.zeros(n_outputs) if noise_sd is None else noise_sd
        return cls(np.ones(n_outputs), noise)

    @classmethod
    def fit(cls, y: np.ndarray, mean: np.ndarray, ens_sd: np.ndarray, noise_sd: np.ndarray) -> Calibration:
        """Fit a_j on validation residuals; outputs with too few points use the pooled value."""
        resid2 = (y - mean) ** 2
        noise2 = np.broadcast_to(noise_sd**2, y.shape)
        var = ens_sd**2
        measured = np.isfinite(y)
        pooled = (_solve_scale(resid2[measured], var[measured], noise2[measured])
                  if measured.sum() >= MIN_CALIBRATION_POINTS else 1.0)
        scale = np.full(y.shape[1], pooled)
        for j in range(y.shape[1]):
            m = measured[:, j]
            if m.sum() >= MIN_CALIBRATION_POINTS:
                scale[j] = _solve_scale(resid2[m, j], var[m, j], noise2[m, j])
        return cls(scale, np.asarray(noise_sd, dtype=float))

    def predictive_sd(self, ens_sd: np.ndarray) -> np.ndarray:
        """Calibrated predictive sd (covers a new measurement, noise included)."""
        return np.sqrt(self.scale * ens_sd**2 + self.noise_sd**2)

    def to_dict(self) -> dict[str, list[float]]:
        """Plain-data form."""
        return {"scale": self.scale.tolist(), "noise_sd": self.noise_sd.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, list[float]]) -> Calibration:
        """Inverse of `to_dict`."""
        return cls(np.asarray(data["scale"], dtype=float), np.asarray(data["noise_sd"], dtype=float))


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
