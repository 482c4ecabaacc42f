"""Published examples reproduced by the analysis core (statsmodels underneath)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from factories import expand_2x2
from statsmodels.stats.contingency_tables import StratifiedTable, Table2x2

from benchmarks.stats import (
    BREAST_CANCER_LOG_BINOMIAL_PRINTED,
    BREAST_CANCER_POISSON_PRINTED,
    RABBITS,
    TOLBUTAMIDE,
    breast_cancer_rr,
    breast_cancer_table,
    textbook,
)
from services.analysis.association import associate, mh_risk_ratio
from services.analysis.glm import relative_risks


def test_rabbits_mantel_haenszel_matches_r_documentation() -> None:
    """Agresti (1990) pp. 231-237, penicillin and rabbits, as printed by R's `?mantelhaen.test` example:
    X-squared = 3.9286, p-value = 0.04747, common odds ratio 7, 95 % CI 1.026713 47.725133."""
    result = associate("delay", *expand_2x2(RABBITS))
    assert result.mh_or == pytest.approx(7.0, abs=1e-9)
    assert result.mh_or_ci is not None
    assert result.mh_or_ci[0] == pytest.approx(1.026713, abs=1e-6)
    assert result.mh_or_ci[1] == pytest.approx(47.725133, abs=1e-6)
    assert result.cmh_statistic == pytest.approx(3.9286, abs=1e-4)
    assert result.cmh_p == pytest.approx(0.04747, abs=1e-5)
    assert result.n_strata == 5


def test_tolbutamide_crude_and_mh_risk_ratio_match_rothman() -> None:
    """UGDP tolbutamide trial stratified by age (Rothman, Greenland & Lash, Modern Epidemiology): the text
    prints the crude risk ratio 1.44 and the Mantel–Haenszel risk ratio 1.33."""
    result = associate("tolbutamide", *expand_2x2(TOLBUTAMIDE))
    assert round(result.crude_rr or 0, 2) == 1.44
    assert round(result.mh_rr or 0, 2) == 1.33
    assert result.mh_rr == pytest.approx(StratifiedTable([np.array(t) for t in TOLBUTAMIDE]).riskratio_pooled)


def test_mh_risk_ratio_interval_reduces_to_katz_for_one_stratum() -> None:
    """Greenland–Robins variance with one stratum equals Katz's, which statsmodels' Table2x2 uses."""
    table = np.array([[8.0, 98.0], [5.0, 115.0]])
    rr, ci = mh_risk_ratio([table])
    reference = Table2x2(table)
    assert rr == pytest.approx(reference.riskratio, rel=1e-12)
    assert ci == pytest.approx(reference.riskratio_confint(), rel=1e-9)


def test_log_binomial_of_one_binary_exposure_is_the_crude_risk_ratio() -> None:
    """Saturated log-binomial model: exp(beta) is the 2x2 risk ratio and its Wald CI is Katz's."""
    hit, exposed, strata = expand_2x2([TOLBUTAMIDE[0]])
    table = pd.DataFrame({"hit": hit, "tolbutamide": exposed, "batch_id": strata})
    fit = relative_risks(table, ["tolbutamide"], "batch_id")
    reference = Table2x2(np.array(TOLBUTAMIDE[0], dtype=float))
    assert fit.model == "log-binomial"
    effect = fit.effects["tolbutamide"]
    assert effect.estimate == pytest.approx(reference.riskratio, rel=1e-6)
    assert effect.ci == pytest.approx(reference.riskratio_confint(), rel=1e-5)


def _four_places(computed: dict[str, float], printed: dict[str, float]) -> None:
    """Every printed figure (4 decimals) is the computed one rounded to 4 decimals."""
    assert set(printed) <= set(computed)
    for key, value in printed.items():
        assert round(computed[key], 4) == pytest.approx(value, abs=1e-9), (key, computed[key], value)


def test_log_binomial_matches_spiegelman_hertzmark_breast_cancer() -> None:
    """Spiegelman D, Hertzmark E. Easy SAS calculations for risk or prevalence ratios and differences.
    Am J Epidemiol 2005; 162: 199-200 (https://academic.oup.com/aje/article/162/3/199/171116): SAS
    PROC GENMOD `model death=receptor stage2 stage3/dist=bin link=log` on the breast-cancer cohort of
    Greenland (Am J Epidemiol 2004), printed "without rounding": RR 1.5583 (1.0487, 2.3155) for low
    receptor level, 2.5382 (1.1734, 5.4903) for stage II and 5.8680 (2.7458, 12.5406) for stage III.
    Data (192 women, 54 deaths): Newman, Biostatistical Methods in Epidemiology (2001), table 5.3, as
    transcribed in the R package `risks` (github.com/stopsack/risks, data-raw/breastcancer.R)."""
    table = breast_cancer_table()
    assert (len(table), int(table["hit"].sum())) == (192, 54)
    fit = relative_risks(table, ["receptor", "stage2", "stage3"], "all")
    assert fit.model == "log-binomial"
    _four_places(breast_cancer_rr(), BREAST_CANCER_LOG_BINOMIAL_PRINTED)


def test_log_binomial_with_stage_as_stratum_gives_the_same_receptor_rr() -> None:
    """As fluxlab fits it: the intervention plus stratum indicators (stage as the `by` column)."""
    fit = relative_risks(breast_cancer_table(), ["receptor"], "stage")
    assert fit.model == "log-binomial" and fit.strata_dropped == 0
    effect = fit.effects["receptor"]
    computed = {"receptor": effect.estimate, "receptor_low": effect.ci[0], "receptor_high": effect.ci[1]}
    _four_places(computed, {k: v for k, v in BREAST_CANCER_LOG_BINOMIAL_PRINTED.items() if k.startswith("receptor")})


def test_log_binomial_coefficients_match_r_glm_in_risks_readme() -> None:
    """The `risks` README (github.com/stopsack/risks) prints R's log-binomial `glm` coefficients on the
    same data: receptorLow 0.4436, stageStage II 0.9314, stageStage III 1.7695. (Its standard errors
    are not compared: R's `glm` reports expected-information errors (statsmodels' IRLS gives the same
    0.1968 for receptor), while the L-BFGS fit here uses the observed Hessian, whose intervals are the
    ones SAS printed; with the non-canonical log link the two differ.)"""
    rr = breast_cancer_rr()
    printed = {"receptor": 0.4436, "stage2": 0.9314, "stage3": 1.7695}
    for name, value in printed.items():
        assert round(math.log(rr[name]), 4) == pytest.approx(value, abs=1e-9), name


def test_poisson_robust_fallback_matches_spiegelman_hertzmark() -> None:
    """The same letter's modified Poisson (GENMOD dist=poisson link=log, repeated subject=id type=ind):
    1.6308 (1.0745, 2.4751), 2.5207 (1.1663, 5.4479), 5.9134 (2.7777, 17.5890); the last limit is a
    misprint (the log-symmetric Wald limit is 12.589) and is not compared."""
    fit = relative_risks(breast_cancer_table(), ["receptor", "stage2", "stage3"], "all", model="poisson-robust")
    assert fit.model == "poisson-robust"
    _four_places(breast_cancer_rr("poisson-robust"), BREAST_CANCER_POISSON_PRINTED)


def test_relative_risks_rejects_an_unknown_model() -> None:
    with pytest.raises(ValueError, match="model"):
        relative_risks(breast_cancer_table(), ["receptor"], "stage", model="logit")


def test_benchmark_textbook_block_agrees_with_printed_values() -> None:
    """`fluxlab bench stats` reports the same examples beside the printed figures."""
    block = textbook()
    for name in ("rabbits", "tolbutamide", "breast_cancer_log_binomial", "breast_cancer_poisson_robust"):
        computed, printed = block[name]["computed"], block[name]["printed"]
        for key, value in printed.items():
            digits = len(str(value).split(".")[1]) if "." in str(value) else 0
            assert round(computed[key], digits) == pytest.approx(value, abs=10 ** -digits), (name, key)
