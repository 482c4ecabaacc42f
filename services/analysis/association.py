"""Per-intervention stratified association of hits, with statsmodels' `Table2x2` and `StratifiedTable`.

For intervention X and each stratum (batch or plate) the 2x2 table is
``[[a, b], [c, d]]``: rows X present / absent, columns hit / not a hit. Crude estimates come from the
strata summed; the Mantel–Haenszel pooled OR (Robins–Breslow–Greenland CI), the CMH test (with the
continuity correction, as R's `mantelhaen.test`) and the Breslow–Day test with Tarone's adjustment come
from `StratifiedTable`. statsmodels gives the MH risk ratio without an interval; its 95 % CI uses the
Greenland–Robins (1985) variance, which reduces to Katz's for one stratum (a test checks this against
`Table2x2.riskratio_confint`).

Degenerate input gives a documented result instead of an error: strata lacking exposed or unexposed
runs carry no information and are left out (counted); when a pooled numerator or denominator is zero
the Haldane correction (0.5 added to every cell of the informative strata) is applied and reported;
with one informative stratum the homogeneity test is undefined (None, with a warning); with no hit or
no non-hit at all nothing is estimated and the reason is given.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statsmodels.stats.contingency_tables import StratifiedTable, Table2x2

Z95 = 1.959963984540054
SPARSE_STRATA = 3


@dataclass
class Association:
    """Crude and stratum-adjusted effect of one intervention on the chance of a hit."""

    intervention: str
    n_exposed: int
    hits_exposed: int
    n_strata: int
    strata_dropped: int = 0
    crude_or: float | None = None
    crude_or_ci: tuple[float, float] | None = None
    crude_rr: float | None = None
    crude_rr_ci: tuple[float, float] | None = None
    mh_or: float | None = None
    mh_or_ci: tuple[float, float] | None = None
    mh_rr: float | None = None
    mh_rr_ci: tuple[float, float] | None = None
    cmh_statistic: float | None = None
    cmh_p: float | None = None
    homogeneity_p: float | None = None
    haldane: bool = False
    warnings: list[str] = field(default_factory=list)


def strata_tables(hit: np.ndarray, exposed: np.ndarray, strata: np.ndarray) -> tuple[list[np.ndarray], int]:
    """2x2 tables of the strata holding both exposed and unexposed runs, and how many strata were not."""
    tables, dropped = [], 0
    for key in pd.unique(strata):
        inside = strata == key
        e, h = exposed[inside], hit[inside]
        table = np.array([[np.sum(e & h), np.sum(e & ~h)], [np.sum(~e & h), np.sum(~e & ~h)]], dtype=float)
        if table[0].sum() == 0 or table[1].sum() == 0:
            dropped += 1
            continue
        tables.append(table)
    return tables, dropped


def mh_risk_ratio(tables: list[np.ndarray]) -> tuple[float, tuple[float, float]]:
    """Mantel–Haenszel risk ratio and its Greenland–Robins 95 % CI (rows exposed/unexposed, cols hit/not)."""
    t = np.asarray(tables, dtype=float)
    a, b, c, d = t[:, 0, 0], t[:, 0, 1], t[:, 1, 0], t[:, 1, 1]
    n1, n0 = a + b, c + d
    n = n1 + n0
    r, s = np.sum(a * n0 / n), np.sum(c * n1 / n)
    variance = np.sum((n1 * n0 * (a + c) - a * c * n) / n**2) / (r * s)
    rr = float(r / s)
    half = Z95 * math.sqrt(max(float(variance), 0.0))
    return rr, (rr * math.exp(-half), rr * math.exp(half))


def _pair(values: tuple[float, float]) -> tuple[float, float]:
    return float(values[0]), float(values[1])


def associate(label: str, hit: np.ndarray, exposed: np.ndarray, strata: np.ndarray) -> Association:
    """Crude and MH estimates for one intervention (arrays: hit 0/1, exposed 0/1, stratum keys)."""
    hit, exposed = hit.astype(bool), exposed.astype(bool)
    result = Association(label, int(exposed.sum()), int((hit & exposed).sum()), 0)
    if exposed.all() or not exposed.any():
        result.warnings.append("every run carries it" if exposed.all() else "no run carries it")
        return result
    tables, result.strata_dropped = strata_tables(hit, exposed, strata)
    result.n_strata = len(tables)
    if not tables:
        result.warnings.append("no stratum holds runs both with and without it")
        return result
    _crude(result, np.sum(tables, axis=0))
    _pooled(result, tables)
    if result.n_strata < SPARSE_STRATA:
        result.warnings.append(f"sparse: {result.n_strata} informative strata")
    return result


def _crude(result: Association, total: np.ndarray) -> None:
    # Haldane: +0.5 to every cell (statsmodels' shift_zeros shifts only the zero cells, and in place)
    if (total == 0).any():
        total = total + 0.5
        result.warnings.append("crude table has a zero cell: Haldane correction (+0.5) applied")
    crude = Table2x2(total)
    result.crude_or, result.crude_or_ci = float(crude.oddsratio), _pair(crude.oddsratio_confint())
    result.crude_rr, result.crude_rr_ci = float(crude.riskratio), _pair(crude.riskratio_confint())


def _pooled(result: Association, tables: list[np.ndarray]) -> None:
    t = np.asarray(tables)
    n = t.sum(axis=(1, 2))
    numerators = (np.sum(t[:, 0, 0] * t[:, 1, 1] / n), np.sum(t[:, 0, 1] * t[:, 1, 0] / n),
                  np.sum(t[:, 0, 0] * t[:, 1].sum(axis=1) / n), np.sum(t[:, 1, 0] * t[:, 0].sum(axis=1) / n))
    if min(numerators) == 0:
        tables = [x + 0.5 for x in tables]
        result.haldane = True
        result.warnings.append("a pooled numerator or denominator is zero: Haldane correction (+0.5) applied")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        st = StratifiedTable(tables)
        result.mh_or, result.mh_or_ci = float(st.oddsratio_pooled), _pair(st.oddsratio_pooled_confint())
        result.mh_rr, result.mh_rr_ci = mh_risk_ratio(tables)
        test = st.test_null_odds(correction=True)
        result.cmh_statistic, result.cmh_p = _finite(test.statistic), _finite(test.pvalue)
        result.homogeneity_p = _homogeneity(result, tables)


def _homogeneity(result: Association, tables: list[np.ndarray]) -> float | None:
    """Breslow–Day with Tarone's adjustment over the strata whose margins are all non-zero."""
    full = [t for t in tables if (t.sum(axis=0) > 0).all() and (t.sum(axis=1) > 0).all()]
    if len(full) < 2:
        result.warnings.append("fewer than 2 strata with both hits and non-hits: homogeneity not testable")
        return None
    return _finite(StratifiedTable(full).test_equal_odds(adjust=True).pvalue)


def _finite(value: object) -> float | None:
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None
