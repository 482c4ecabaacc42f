"""Published examples reproduced by the analysis core (statsmodels underneath)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import StratifiedTable, Table2x2

from benchmarks.stats import RABBITS, TOLBUTAMIDE, textbook
from services.analysis.association import associate, mh_risk_ratio
from services.analysis.glm import relative_risks


def _rows(tables: list[list[list[int]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand 2x2 tables (rows exposed/unexposed, cols hit/not) into per-unit arrays."""
    hit, exposed, strata = [], [], []
    for k, t in enumerate(tables):
        for (e, h), n in (((1, 1), t[0][0]), ((1, 0), t[0][1]), ((0, 1), t[1][0]), ((0, 0), t[1][1])):
            hit += [h] * n
            exposed += [e] * n
            strata += [k] * n
    return np.array(hit), np.array(exposed), np.array(strata)


def test_rabbits_mantel_haenszel_matches_r_documentation() -> None:
    """Agresti (1990) pp. 231-237, penicillin and rabbits, as printed by R's `?mantelhaen.test` example:
    X-squared = 3.9286, p-value = 0.04747, common odds ratio 7, 95 % CI 1.026713 47.725133."""
    result = associate("delay", *_rows(RABBITS))
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
    result = associate("tolbutamide", *_rows(TOLBUTAMIDE))
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
    hit, exposed, strata = _rows([TOLBUTAMIDE[0]])
    table = pd.DataFrame({"hit": hit, "tolbutamide": exposed, "batch_id": strata})
    fit = relative_risks(table, ["tolbutamide"], "batch_id")
    reference = Table2x2(np.array(TOLBUTAMIDE[0], dtype=float))
    assert fit.model == "log-binomial"
    effect = fit.effects["tolbutamide"]
    assert effect.estimate == pytest.approx(reference.riskratio, rel=1e-6)
    assert effect.ci == pytest.approx(reference.riskratio_confint(), rel=1e-5)


def test_benchmark_textbook_block_agrees_with_printed_values() -> None:
    """`fluxlab bench stats` reports the same examples beside the printed figures."""
    block = textbook()
    for name in ("rabbits", "tolbutamide"):
        computed, printed = block[name]["computed"], block[name]["printed"]
        for key, value in printed.items():
            digits = len(str(value).split(".")[1]) if "." in str(value) else 0
            assert round(computed[key], digits) == pytest.approx(value, abs=10 ** -digits), (name, key)
