"""Association on degenerate input, and the confounded-by-batch simulation: crude vs Mantel–Haenszel."""

from __future__ import annotations

import math

import numpy as np
import pytest
from factories import expand_2x2

from services.analysis.analyze import AnalysisOptions, analyze, render_text, summary_line
from services.analysis.association import associate
from services.analysis.cleaning import clean
from services.analysis.frame import observations
from simulators.screening import ScreenConfig, simulate_screen


def test_single_stratum_pools_to_the_crude_and_homogeneity_is_undefined() -> None:
    result = associate("x", *expand_2x2([[[10, 20], [5, 30]]]))
    assert result.mh_rr == pytest.approx(result.crude_rr)
    assert result.homogeneity_p is None
    assert any("homogeneity not testable" in w for w in result.warnings)
    assert any("sparse" in w for w in result.warnings)


def test_zero_cells_get_the_haldane_correction_and_say_so() -> None:
    result = associate("x", *expand_2x2([[[0, 10], [3, 9]], [[0, 8], [2, 10]]]))
    assert result.haldane and result.mh_rr is not None and result.mh_rr > 0
    assert any("Haldane" in w for w in result.warnings)
    assert all(math.isfinite(v) for v in (result.mh_rr_ci or ()))


def test_stratum_without_unexposed_runs_is_left_out_and_counted() -> None:
    result = associate("x", *expand_2x2([[[4, 6], [2, 8]], [[3, 3], [0, 0]], [[5, 5], [1, 9]]]))
    assert result.n_strata == 2 and result.strata_dropped == 1


def test_no_hits_at_all_is_a_documented_empty_result() -> None:
    screen = simulate_screen(ScreenConfig(n_batches=4, strains_per_batch=10), seed=1)
    result = analyze(observations(screen.measurements), AnalysisOptions(threshold=1e9))
    assert result.n_hits == 0 and result.associations == []
    assert any("no run is a hit" in n for n in result.notes)
    assert result.to_json()["classifier"] is None


def _sdha_log_errors(seed: int) -> tuple[float, float]:
    """log(estimate / true RR 3) for ΔsdhA: crude and MH, after cleaning, hits at the default threshold."""
    obs = observations(simulate_screen(seed=seed).measurements)
    table = clean(obs).table
    hit = (table["norm"] > 1.1).to_numpy(dtype=int)
    result = associate("ΔsdhA", hit, table["ΔsdhA"].to_numpy(), table["batch_id"].to_numpy())
    assert result.crude_rr is not None and result.mh_rr is not None
    return math.log(result.crude_rr / 3.0), math.log(result.mh_rr / 3.0)


def test_mantel_haenszel_removes_the_batch_confounding_the_crude_estimate_keeps() -> None:
    """ΔsdhA carriers crowd into good batches: over 16 screens the crude RR is inflated, MH is not."""
    errors = np.array([_sdha_log_errors(seed) for seed in range(16)])
    crude, adjusted = errors.mean(axis=0)
    assert crude > 0.2
    assert abs(adjusted) < crude / 3


def test_glm_estimates_sit_near_the_truth_on_a_confounded_screen() -> None:
    screen = simulate_screen(seed=2)
    result = analyze(observations(screen.measurements))
    assert result.log_binomial is not None and result.log_binomial.model in ("log-binomial", "poisson-robust")
    for name, effect in result.log_binomial.effects.items():
        assert abs(math.log(effect.estimate / screen.true_rr[name])) < 0.6, name
    assert result.logistic is not None and set(result.logistic.effects) == set(screen.true_rr)


def test_report_line_has_the_adjusted_and_crude_effect_and_strata() -> None:
    screen = simulate_screen(seed=0)
    result = analyze(observations(screen.measurements))
    line = summary_line(result.associations[0], "plate_id")
    assert line.startswith(result.associations[0].intervention + ": MH RR ")
    assert "plates; crude" in line and "homogeneity p" in line
    text = render_text(result)
    assert "logistic classifier (CV): accuracy" in text
    assert result.classifier is not None and 0.5 < (result.classifier["roc_auc"] or 0) <= 1
