"""Prospective recalibration of the published sd: conformal on earlier rounds' fresh results."""

from __future__ import annotations

import numpy as np

from services.predictor.prospective_calibration import (
    MIN_SHRINK_EVIDENCE,
    PRIOR_SCALE,
    Z95,
    ProspectiveCalibration,
    conformal_scale,
    fit_scale,
    zscores,
)


def _shifted_round(rng: np.random.Generator, n: int, true_sd: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A round where the model claims sd 1 but the designs lie where its error is `true_sd` (a shift)."""
    mu = rng.normal(size=n)
    return mu + rng.normal(scale=true_sd, size=n), mu, np.ones(n)


def test_coverage_on_shifted_data_reaches_nominal_where_the_raw_sd_does_not() -> None:
    rng = np.random.default_rng(0)
    calibration = ProspectiveCalibration()
    raw_hits, cal_hits = [], []
    for _ in range(12):  # rounds of 8, the loop's batch; each round scored with the factor of the earlier ones
        y, mu, sd = _shifted_round(rng, 8, true_sd=2.5)
        scale = calibration.scale("y")
        raw_hits += list(np.abs(y - mu) <= Z95 * sd)
        cal_hits += list(np.abs(y - mu) <= Z95 * sd * scale)
        calibration = calibration.with_round({"y": zscores(y, mu, sd)})
    assert np.mean(raw_hits) < 0.6
    assert 0.88 <= np.mean(cal_hits) <= 0.99
    assert 2.0 < calibration.scale("y") < 3.2


def test_the_factor_does_not_shrink_below_one_without_evidence() -> None:
    rng = np.random.default_rng(1)
    assert fit_scale([]) == PRIOR_SCALE  # a first round is not as confident as the raw ensemble
    over_wide = list(np.abs(rng.normal(scale=0.3, size=MIN_SHRINK_EVIDENCE - 1)))
    assert fit_scale(over_wide) == 1.0  # intervals look too wide, but on too few results to narrow them
    many = list(np.abs(rng.normal(scale=0.3, size=400)))
    assert 0.25 < fit_scale(many) < 1.0  # enough evidence: narrower than the model's own
    calibrated = fit_scale(list(np.abs(rng.normal(size=400))))
    assert 0.9 < calibrated < 1.15  # a calibrated model keeps its sd


def test_conformal_quantile_and_the_prior_weight() -> None:
    z = [float(v) for v in range(1, 20)]  # 19 results: ceil(20 * 0.95) = 19 -> the largest
    assert conformal_scale(z) == 19 / Z95
    assert fit_scale(z) == (19 * (19 / Z95) + 8 * PRIOR_SCALE) / 27
    assert zscores([1.0, 2.0, float("nan")], [0.0, 0.0, 0.0], [0.5, 0.0, 1.0]) == [2.0]


def test_round_trip_and_metrics() -> None:
    calibration = ProspectiveCalibration().with_round({"EX_succ_e": [0.5, 3.0], "growth": []})
    again = ProspectiveCalibration.from_bytes(calibration.to_bytes())
    assert again == calibration and "growth" not in again.rounds
    metrics = again.metrics({"EX_succ_e": "objective", "growth": "growth"})
    assert metrics["sd_scale_n_objective"] == 2 and metrics["sd_scale_growth"] == PRIOR_SCALE
    assert ProspectiveCalibration.from_bytes(b"not json") == ProspectiveCalibration()


def test_a_first_models_misses_stop_widening_once_later_rounds_are_calibrated() -> None:
    rng = np.random.default_rng(2)
    calibration = ProspectiveCalibration().with_round({"y": list(np.abs(rng.normal(scale=8.0, size=8)))})
    assert calibration.scale("y") > 3.0
    for _ in range(3):
        calibration = calibration.with_round({"y": list(np.abs(rng.normal(size=8)))})
    assert 1.0 <= calibration.scale("y") < 2.0  # the latest rounds decide; the early misses no longer count
    assert len(calibration.pooled("y")) == 32  # but are kept (and reported as evidence)
