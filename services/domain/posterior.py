"""The posterior best: each design's replicate mean shrunk toward the model's prediction, with an interval (pure).

A single noisy reading names whichever design was luckiest. Here each design's readings of the objective are
averaged, and the mean is combined with the model's prediction for that design made *before* it was measured
(the prediction published with its first proposal, so the model had not seen the readings it is weighed
against), normal-normal:

    precision = 1 / prior_sd² + n / noise_sd²
    mean      = (prior_mean / prior_sd² + n · reading_mean / noise_sd²) / precision,   sd = 1 / √precision

Without a prediction the posterior is the replicate mean with sd noise_sd / √n. The measurement noise is the
within-design sd pooled over the campaign's replicated designs (≥ 2 degrees of freedom), else the median sd
the lab reported with its readings, else unknown (the reading mean, no interval). The 95 % interval is mean ± q·sd
with q Student's t quantile on the pooled sd's degrees of freedom (1.96 with a reported sd). The best is the
design with the best posterior mean among designs meeting the growth floor (`services.domain.floor`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas import CampaignSpec, Design, Measurement, Sense
from services.domain.floor import GrowthFloor, meeting_floor

Z95 = 1.959963984540054
MIN_POOLED_DOF = 2


@dataclass(frozen=True)
class Prior:
    """The model's prediction for a design before it was measured (objective units)."""

    mean: float
    sd: float


@dataclass(frozen=True)
class Noise:
    """The measurement noise sd of one reading, and where it came from, in words (sd None: unknown).

    ``dof``: the degrees of freedom of a pooled replicate sd (its intervals use Student's t), None otherwise.
    """

    sd: float | None
    source: str
    dof: int | None = None


@dataclass(frozen=True)
class Posterior:
    """One design's posterior value of the objective."""

    design: Design
    readings: tuple[float, ...]
    noise_sd: float | None
    prior: Prior | None
    mean: float
    sd: float | None
    dof: int | None = None
    """Degrees of freedom of the noise estimate (pooled replicate spread), None when it was not estimated so."""

    @property
    def n(self) -> int:
        """Number of readings."""
        return len(self.readings)

    @property
    def reading_mean(self) -> float:
        """Mean of the readings."""
        return sum(self.readings) / len(self.readings)

    def interval(self, z: float | None = None) -> tuple[float, float] | None:
        """The central 95 % interval mean ± q·sd, q Student's t quantile on the noise's degrees of freedom (1.96
        without them; ``z`` overrides); None when the noise is unknown."""
        if self.sd is None:
            return None
        q = z if z is not None else t95(self.dof)
        return self.mean - q * self.sd, self.mean + q * self.sd

    def as_json(self) -> dict[str, Any]:
        """The summary's `best_posterior` record."""
        interval = self.interval()
        return {"design": self.design.model_dump(mode="json"), "design_text": self.design.describe(),
                "mean": self.mean, "sd": self.sd, "low95": interval[0] if interval else None,
                "high95": interval[1] if interval else None, "n_readings": self.n,
                "reading_mean": self.reading_mean, "readings": list(self.readings), "noise_sd": self.noise_sd,
                "noise_dof": self.dof,
                "prior_mean": self.prior.mean if self.prior else None,
                "prior_sd": self.prior.sd if self.prior else None}


def t95(dof: int | None) -> float:
    """The two-sided 95 % quantile of Student's t on ``dof`` degrees of freedom (the normal's 1.96 without)."""
    if dof is None or dof <= 0:
        return Z95
    from scipy.stats import t

    return float(t.ppf(0.975, dof))


def shrink(readings: Sequence[float], noise_sd: float | None, prior: Prior | None) -> tuple[float, float | None]:
    """Posterior mean and sd of a design's value from its readings, the noise sd and the model's prior."""
    n = len(readings)
    if n == 0:
        raise ValueError("readings: at least one is needed")
    mean = sum(readings) / n
    if noise_sd is None or noise_sd <= 0:
        return mean, None
    data_precision = n / noise_sd**2
    if prior is None or not math.isfinite(prior.mean) or not (prior.sd > 0 and math.isfinite(prior.sd)):
        return mean, 1.0 / math.sqrt(data_precision)
    prior_precision = 1.0 / prior.sd**2
    precision = prior_precision + data_precision
    return (prior_precision * prior.mean + data_precision * mean) / precision, 1.0 / math.sqrt(precision)


def readings_by_design(target: str, measurements: Iterable[Measurement]) -> dict[str, tuple[Design, list[float]]]:
    """Design key -> (design, its readings of `target` in measurement order)."""
    out: dict[str, tuple[Design, list[float]]] = {}
    for m in sorted(measurements, key=lambda m: m.measured_at):
        value = m.readout(target)
        if value is not None:
            out.setdefault(m.design.key(), (m.design, []))[1].append(value)
    return out


def pooled_noise(groups: Iterable[Sequence[float]]) -> tuple[float | None, int]:
    """Within-design sd pooled over the groups with ≥ 2 readings, and its degrees of freedom."""
    ss, dof = 0.0, 0
    for values in groups:
        if len(values) >= 2:
            m = sum(values) / len(values)
            ss += sum((v - m) ** 2 for v in values)
            dof += len(values) - 1
    return (math.sqrt(ss / dof) if dof else None), dof


def noise_estimate(target: str, measurements: Sequence[Measurement]) -> Noise:
    """The noise sd of one reading: pooled replicate spread, else the lab's reported sd (see the module doc)."""
    groups = [v for _, v in readings_by_design(target, measurements).values()]
    sd, dof = pooled_noise(groups)
    if sd is not None and dof >= MIN_POOLED_DOF and sd > 0:
        return Noise(sd, f"replicate spread pooled over designs measured more than once ({dof} degrees of freedom)",
                     dof)
    reported = [s for m in measurements if (s := _reported_sd(m, target)) is not None and s > 0]
    if reported:
        return Noise(statistics.median(reported), f"median sd reported with {len(reported)} reading(s)")
    return Noise(None, "unknown: no replicates and no sd reported with the readings")


def _reported_sd(m: Measurement, name: str) -> float | None:
    reading = m.reading(name)
    return reading.sd if reading is not None else None


def priors_from_proposals(target: str, proposals: Iterable[Mapping[str, Any]]) -> dict[str, Prior]:
    """Design key -> the prediction published with the design's first proposal that carried one.

    Records as the tracker returns them (`design`, `round`, `predicted`: {name: {mean, sd}}); a later proposal
    of the same design (a replicate) was predicted by a model that had already seen its readings.
    """
    out: dict[str, Prior] = {}
    for p in sorted(proposals, key=lambda p: int(p.get("round") or 0)):
        predicted = (p.get("predicted") or {}).get(target)
        design = p.get("design")
        if not predicted or design is None:
            continue
        key = (design if isinstance(design, Design) else Design.model_validate(design)).key()
        if key not in out and predicted.get("mean") is not None and predicted.get("sd") is not None:
            out[key] = Prior(float(predicted["mean"]), float(predicted["sd"]))
    return out


def posteriors(spec: CampaignSpec, measurements: Sequence[Measurement], priors: Mapping[str, Prior],
               floor: GrowthFloor | None = None, noise: Noise | None = None) -> list[Posterior]:
    """Every measured design meeting the growth floor with its posterior, best first by the objective's sense."""
    target = spec.objective.target
    noise = noise or noise_estimate(target, measurements)
    out = []
    for key, (design, readings) in readings_by_design(target, meeting_floor(spec, measurements, floor)).items():
        prior = priors.get(key)
        mean, sd = shrink(readings, noise.sd, prior)
        out.append(Posterior(design, tuple(readings), noise.sd, prior, mean, sd, noise.dof))
    sign = 1.0 if spec.objective.sense == Sense.MAXIMIZE else -1.0
    return sorted(out, key=lambda p: -sign * p.mean)


def posterior_best(spec: CampaignSpec, measurements: Sequence[Measurement], priors: Mapping[str, Prior],
                   floor: GrowthFloor | None = None) -> Posterior | None:
    """The design with the best posterior mean among designs meeting the floor (None: nothing measured)."""
    ranked = posteriors(spec, measurements, priors, floor)
    return ranked[0] if ranked else None
