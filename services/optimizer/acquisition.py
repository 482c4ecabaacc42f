"""Acquisition functions on a surrogate's mean and sd, for maximisation of a score.

The optimizer turns the campaign objective into a score to maximise (``sign`` = -1 for
minimisation) before calling these.
"""

from __future__ import annotations

import math
from enum import StrEnum

import numpy as np

DEFAULT_BETA = 1.0


class Acquisition(StrEnum):
    """Which acquisition function ranks candidates."""

    UCB = "ucb"
    EI = "ei"


def ucb(mean: np.ndarray, sd: np.ndarray, beta: float = DEFAULT_BETA) -> np.ndarray:
    """Upper confidence bound: mean + beta * sd."""
    return np.asarray(mean, float) + beta * np.asarray(sd, float)


def expected_improvement(mean: np.ndarray, sd: np.ndarray, best: float | None, xi: float = 0.0) -> np.ndarray:
    """Closed-form expected improvement over ``best`` (the mean itself when nothing is measured yet)."""
    mu = np.asarray(mean, float)
    sigma = np.asarray(sd, float)
    if best is None:
        return mu.copy()
    from scipy.special import ndtr  # the normal cdf; scipy.stats (seconds to import) is not needed

    improvement = mu - best - xi
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sigma > 0, improvement / sigma, 0.0)
        ei = improvement * ndtr(z) + sigma * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return np.where(sigma > 0, ei, np.maximum(improvement, 0.0))


def acquire(
    kind: Acquisition, mean: np.ndarray, sd: np.ndarray, best: float | None, beta: float = DEFAULT_BETA
) -> np.ndarray:
    """Evaluate the named acquisition function."""
    if kind == Acquisition.EI:
        return expected_improvement(mean, sd, best)
    return ucb(mean, sd, beta)
