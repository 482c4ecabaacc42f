"""Prospective recalibration: widen the published sd by what earlier rounds' fresh results showed.

A model's own calibration is fitted on a random validation split of its training data; the designs the
optimizer then picks lie elsewhere (higher predicted values, further from the data), and the intervals
published with them under-cover. Each round's fresh results are scored by the previous model version
(z = |y - mu| / sd, before they join the training set); the published sd is multiplied by the split-
conformal factor of every earlier round's z, so that a 95 % interval mu +- 1.96 * factor * sd covers 95 %
of those earlier prospective results.

Two guards: the factor is shrunk towards a prior (PRIOR_SCALE, 4) by a pseudo-count, so a first round (no
evidence) is not as over-confident as the raw ensemble, and it never falls below 1 (it only widens the
model's intervals) until MIN_SHRINK_EVIDENCE prospective results say it should.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from schemas import Measurement
    from services.predictor.deepmodel import PredictionResult

Z95 = 1.959964
PRIOR_SCALE = 4.0
"""The factor before any prospective evidence. A first model (trained on one in-silico batch) needed
2.8-17.7 (median 6.6, lower quartile 5.7) to cover its first round of proposals in 10 loop-benchmark
campaigns (succinate_core and kinetic, seeds 5-9, hybrid); 4 stays below most of them."""
PRIOR_WEIGHT = 8.0
"""Pseudo-count of the prior: with n prospective results the fitted factor weighs n / (n + PRIOR_WEIGHT)."""
MIN_SHRINK_EVIDENCE = 40
"""Prospective results needed before the factor may go below 1 (narrow the model's own intervals)."""
MAX_SCALE = 20.0
WINDOW_ROUNDS = 2
"""The factor is fitted on the latest rounds only: a campaign's first models (one in-silico batch of data) miss
by far more than its later ones, and their z-scores would keep every later interval too wide."""


def zscores(y: Iterable[float], mean: Iterable[float], sd: Iterable[float]) -> list[float]:
    """|y - mean| / sd for each finite triple with sd > 0."""
    out = []
    for yi, mi, si in zip(y, mean, sd, strict=True):
        if all(math.isfinite(v) for v in (yi, mi, si)) and si > 0:
            out.append(abs(yi - mi) / si)
    return out


def conformal_scale(z: Sequence[float], level: float = 0.95) -> float:
    """The factor f such that |y - mu| <= z_level * f * sd for a `level` share of the pooled results.

    Split-conformal: the ceil((n + 1) * level)-th smallest z (the largest when n is too small for that)
    divided by the normal quantile of `level`. NaN without results.
    """
    if not z:
        return math.nan
    ranked = np.sort(np.asarray(z, dtype=float))
    k = min(math.ceil((len(ranked) + 1) * level), len(ranked))
    return float(ranked[k - 1]) / _normal_quantile(level)


def fit_scale(z: Sequence[float], level: float = 0.95, prior: float = PRIOR_SCALE,
              prior_weight: float = PRIOR_WEIGHT, n_evidence: int | None = None) -> float:
    """The published-sd factor from prospective z-scores (prior-shrunk, floored at 1 without evidence).

    `n_evidence`: prospective results behind the estimate (default len(z); more when `z` is a recent window).
    """
    if not z:
        return prior
    n = max(len(z), n_evidence or 0)
    fitted = conformal_scale(z, level)
    scale = (n * fitted + prior_weight * prior) / (n + prior_weight)
    if n < MIN_SHRINK_EVIDENCE:
        scale = max(scale, 1.0)
    return float(min(max(scale, 1e-3), MAX_SCALE))


def _normal_quantile(level: float) -> float:
    """Two-sided normal quantile (1.96 for 0.95)."""
    if abs(level - 0.95) < 1e-12:
        return Z95
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2)


@dataclass
class ProspectiveCalibration:
    """Per-output pools of prospective z-scores, by round, and the sd factors they imply."""

    rounds: dict[str, list[list[float]]] = field(default_factory=dict)
    """Output name -> one list of z-scores per round of fresh results (oldest first)."""

    def pooled(self, name: str) -> list[float]:
        """Every earlier round's z-scores of an output."""
        return [z for r in self.rounds.get(name, []) for z in r]

    def scale(self, name: str) -> float:
        """The factor to multiply an output's published sd by (the prior before any evidence).

        Conformal on the latest WINDOW_ROUNDS rounds' z-scores, shrunk towards the prior by the evidence of all
        rounds (the prior's weight fades as results accumulate, whatever the window holds)."""
        recent = [z for r in self.rounds.get(name, [])[-WINDOW_ROUNDS:] for z in r]
        return fit_scale(recent, n_evidence=len(self.pooled(name)))

    def with_round(self, zs: Mapping[str, Sequence[float]]) -> ProspectiveCalibration:
        """A copy with one more round of fresh results (outputs without any are left as they were)."""
        rounds = {k: [list(r) for r in v] for k, v in self.rounds.items()}
        for name, z in zs.items():
            if z:
                rounds.setdefault(name, []).append([float(v) for v in z])
        return ProspectiveCalibration(rounds)

    def metrics(self, labels: Mapping[str, str]) -> dict[str, float]:
        """`sd_scale_<label>` and `sd_scale_n_<label>` for ModelTrained.metrics (label: objective, growth)."""
        out: dict[str, float] = {}
        for name, label in labels.items():
            out[f"sd_scale_{label}"] = round(self.scale(name), 4)
            out[f"sd_scale_n_{label}"] = float(len(self.pooled(name)))
        return out

    def to_bytes(self) -> bytes:
        """JSON form (saved next to the model artifact)."""
        return json.dumps({"format": 1, "rounds": self.rounds}).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> ProspectiveCalibration:
        """Inverse of `to_bytes` (an unreadable payload gives an empty calibration: the prior)."""
        try:
            payload = json.loads(data)
            rounds = {str(k): [[float(z) for z in r] for r in v] for k, v in payload["rounds"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            return cls()
        return cls(rounds)


def prospective_zscores(result: PredictionResult | None, unseen: list[Measurement],
                        names: Sequence[str]) -> dict[str, list[float]]:
    """The previous version's z-scores on the measurements it never saw (`trainset.unseen_predictions` of
    them), per output in `names`."""
    if result is None:
        return {}
    out: dict[str, list[float]] = {}
    for name in names:
        if name not in result.names:
            continue
        j = result.names.index(name)
        rows = [(y, float(result.mean[i, j]), float(result.sd[i, j])) for i, m in enumerate(unseen)
                if (y := m.readout(name)) is not None]
        out[name] = zscores([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    return out
