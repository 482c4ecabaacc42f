"""A strain screen with batch and plate effects that can be confounded with the design.

Every strain (and each on-plate wild-type control, which carries no intervention) is a hit with
probability ``base[batch] x prod_j RR_j ** x_j``: a log-linear (log-binomial) model whose per-intervention
relative risks `RR_j` are the ground truth, homogeneous across batches. Batch baselines vary
(lognormal), and one *bad plate* lowers both the baseline chance of a hit and every readout on it.
Confounding: carriers of the interventions in `confounded` are put preferentially into batches with a
high (exponent > 0) or low (< 0) baseline, so a naive pooled comparison credits them with the batch.
Within a batch the interventions are drawn independently, so the Mantel–Haenszel and log-binomial
estimands equal the true RRs.

Readouts: the latent normalised value is ~1 for a non-hit control, below 1 for a non-hit mutant and
above the hit threshold (1 + margin) for a hit; the measured value multiplies it by the wild-type
level and a multiplicative batch offset, so only values normalised to the on-plate controls can be
thresholded. A small fraction of wells are gross lab outliers (x or / a factor 10-30, e.g. a pipetting failure).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from schemas import Design, Measurement
from schemas.measurement import Value

READOUT = "EX_succ_e"


@dataclass(frozen=True)
class ScreenConfig:
    """Size, effects and lab artefacts of one simulated screen."""

    effects: dict[str, float] = field(default_factory=lambda: {"sdhA": 3.0, "pta": 2.0, "ldhA": 1.0,
                                                               "pykF": 0.5})
    confounded: dict[str, float] = field(default_factory=lambda: {"sdhA": 2.0, "pykF": -1.5})
    carrier_rate: float = 0.3
    n_batches: int = 40
    strains_per_batch: int = 24
    controls_per_batch: int = 2
    batches_per_plate: int = 2
    base_risk: float = 0.05
    base_sd: float = 0.5
    base_bounds: tuple[float, float] = (0.01, 0.1)
    bad_plate_risk: float = 0.3
    batch_offset_sd: float = 0.25
    bad_plate_offset: float = 0.5
    margin: float = 0.1
    wild_type_level: float = 2.0
    outlier_rate: float = 0.01


@dataclass
class Screen:
    """The measurements of one screen and its ground truth."""

    measurements: list[Measurement]
    true_rr: dict[str, float]
    hits: dict[str, bool]
    baseline: dict[str, float]
    corrupted: set[str] = field(default_factory=set)


def _baselines(cfg: ScreenConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    base = cfg.base_risk * np.exp(rng.normal(0.0, cfg.base_sd, cfg.n_batches))
    base = np.clip(base, *cfg.base_bounds)
    offset = np.exp(rng.normal(0.0, cfg.batch_offset_sd, cfg.n_batches))
    bad = np.arange(cfg.n_batches) // cfg.batches_per_plate == int(rng.integers(cfg.n_batches // cfg.batches_per_plate))
    return np.where(bad, base * cfg.bad_plate_risk, base), np.where(bad, offset * cfg.bad_plate_offset, offset)


def _strains(cfg: ScreenConfig, genes: list[str], base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each batch's strains: intervention j carried with odds (carrier odds) x (base / mean) ** gamma_j,
    independently per intervention, so carriers crowd into good (gamma > 0) or poor (< 0) batches while
    the interventions stay independent within every batch."""
    rel = base / base.mean()
    gamma = np.array([cfg.confounded.get(g, 0.0) for g in genes])
    odds = cfg.carrier_rate / (1 - cfg.carrier_rate) * rel[:, None] ** gamma[None, :]
    rate = np.repeat(odds / (1 + odds), cfg.strains_per_batch, axis=0)
    return (rng.random(rate.shape) < rate).astype(float)


def simulate_screen(cfg: ScreenConfig | None = None, seed: int = 0, campaign_id: str = "screen") -> Screen:
    """One screen: strains with random intervention sets, confounded batch assignment, controls per batch."""
    cfg = cfg or ScreenConfig()
    rng = np.random.default_rng(seed)
    genes = sorted(cfg.effects)
    base, offset = _baselines(cfg, rng)
    x = _strains(cfg, genes, base, rng)
    batch = np.repeat(np.arange(cfg.n_batches), cfg.strains_per_batch)
    controls = np.zeros((cfg.n_batches * cfg.controls_per_batch, len(genes)))
    x = np.vstack([x, controls])
    batch = np.concatenate([batch, np.repeat(np.arange(cfg.n_batches), cfg.controls_per_batch)])
    log_rr = np.log(np.array([cfg.effects[g] for g in genes]))
    risk = base[batch] * np.exp(x @ log_rr)
    if risk.max() >= 1:
        raise ValueError("effects: the chosen baselines and relative risks give a hit probability >= 1")
    hit = rng.random(len(risk)) < risk
    latent = _latent(hit, x.sum(axis=1) == 0, cfg, rng)
    measurements, hits, corrupted = [], {}, set()
    for i in rng.permutation(len(risk)):
        run_id = f"r{i:05d}"
        value = cfg.wild_type_level * latent[i] * offset[batch[i]]
        if rng.random() < cfg.outlier_rate:
            factor = rng.uniform(10.0, 30.0)
            value = value * factor if rng.random() < 0.5 else value / factor
            corrupted.add(run_id)
        design = Design(knockouts=[g for g, on in zip(genes, x[i], strict=True) if on])
        measurements.append(Measurement(
            id=f"{campaign_id}-{run_id}", campaign_id=campaign_id, run_id=run_id, design=design,
            values={READOUT: Value(value=float(value))}, batch_id=f"b{batch[i]:03d}",
            plate_id=f"p{batch[i] // cfg.batches_per_plate:03d}", well=f"W{i % 96:02d}"))
        hits[run_id] = bool(hit[i])
    true_rr = {f"Δ{g}": cfg.effects[g] for g in genes}
    return Screen(measurements, true_rr, hits, {f"b{b:03d}": float(base[b]) for b in range(cfg.n_batches)},
                  corrupted)


def _latent(hit: np.ndarray, control: np.ndarray, cfg: ScreenConfig, rng: np.random.Generator) -> np.ndarray:
    """Normalised readouts: hits above 1 + margin, non-hit controls ~1, non-hit mutants below 1."""
    n = len(hit)
    above = (1 + cfg.margin) * np.exp(rng.uniform(0.1, 0.9, n))
    wild = np.exp(rng.normal(0.0, 0.02, n))
    below = np.exp(rng.uniform(-1.2, -0.05, n))
    return np.where(hit, above, np.where(control, wild, below))
