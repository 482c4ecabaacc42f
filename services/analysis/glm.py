"""GLMs of hits on interventions plus stratum: log-binomial (relative risk) and logistic (odds ratio).

Log-binomial: `GLM(Binomial(link=Log()))` maximised by L-BFGS from the Poisson fit with its intercept
lowered until every fitted risk is below 1 (statsmodels' default IRLS clips the risk at 1 and stalls
there). It can still fail to converge or end on the boundary (a fitted risk of 1); then the documented
fallback is Zou's (2004) "modified Poisson":
a Poisson GLM with a log link and robust (HC0 sandwich) standard errors, which estimates the same
relative risks consistently. Which model produced the estimates, and why, is in `GlmFit.model`.
Strata with no hit (or only hits) carry no information on the relative risks (their intercept runs to
the boundary) and are left out of both fits, counted in `strata_dropped`.

The logistic GLM is also cross-validated as a classifier of hits (stratified k-fold; accuracy,
precision, recall, F1 and ROC-AUC from scikit-learn on the held-out folds).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from sklearn import metrics
from sklearn.model_selection import StratifiedKFold

Z95 = 1.959963984540054


@dataclass
class Effect:
    """One intervention's ratio (RR or OR) with its 95 % CI."""

    estimate: float
    ci: tuple[float, float]
    p: float | None


@dataclass
class GlmFit:
    """Per-intervention ratios from one GLM."""

    model: str
    effects: dict[str, Effect]
    strata_dropped: int = 0
    notes: list[str] = field(default_factory=list)


def design_matrix(table: pd.DataFrame, interventions: list[str], by: str) -> tuple[pd.DataFrame, list[str]]:
    """Intercept, the interventions that vary, and stratum indicators (first stratum as reference)."""
    varying = [x for x in interventions if table[x].nunique() > 1]
    strata = pd.get_dummies(table[by].astype(str), prefix="stratum", drop_first=True, dtype=float)
    x = pd.concat([table[varying].astype(float), strata], axis=1)
    x.insert(0, "const", 1.0)
    return x, varying


def underdetermined(x: pd.DataFrame) -> str | None:
    """Why a GLM on this design matrix has no unique fit (None when it has one): fewer runs than
    parameters, or interventions that always occur together (or with a batch), so their effects cannot
    be told apart."""
    runs, parameters = x.shape
    if runs < parameters:
        return (f"the GLMs need at least as many runs as parameters: {runs} runs in informative strata, "
                f"{parameters} parameters (intercept, {parameters - 1} interventions and strata)")
    if np.linalg.matrix_rank(x.to_numpy(dtype=float)) < parameters:
        return ("the GLMs cannot separate the interventions: some always occur together "
                "(or only in one batch), so their effects cannot be told apart")
    return None


def informative(table: pd.DataFrame, hit: str, by: str) -> tuple[pd.DataFrame, int]:
    """Rows of the strata holding both hits and non-hits, and the number of strata left out."""
    rates = table.groupby(by)[hit].mean()
    keep = rates[(rates > 0) & (rates < 1)].index
    return table[table[by].isin(keep)], int(len(rates) - len(keep))


def _effects(result: Any, names: list[str], notes: list[str]) -> dict[str, Effect]:
    """Ratios with Wald CIs; a coefficient that runs away (separation, |log ratio| > 20) is noted, not shown."""
    out = {}
    for name in names:
        b, se = float(result.params[name]), float(result.bse[name])
        if not (math.isfinite(b) and math.isfinite(se)) or abs(b) > 20 or abs(b) + Z95 * se > 700:
            notes.append(f"{name}: not estimable (separation or no information)")
            continue
        p = float(result.pvalues[name])
        out[name] = Effect(math.exp(b), (math.exp(b - Z95 * se), math.exp(b + Z95 * se)),
                           p if math.isfinite(p) else None)
    return out


def _prepare(table: pd.DataFrame, interventions: list[str], by: str,
             hit: str) -> tuple[np.ndarray, pd.DataFrame, list[str], int] | GlmFit:
    """Outcome, design matrix, effect names and dropped-run count; or the empty fit saying why there is none."""
    data, dropped = informative(table, hit, by)
    if data.empty:
        return GlmFit("none", {}, dropped, ["no stratum holds both hits and non-hits"])
    x, names = design_matrix(data, interventions, by)
    too_few = underdetermined(x)
    if too_few:
        return GlmFit("none", {}, dropped, [too_few])
    return data[hit].to_numpy(dtype=float), x, names, dropped


def relative_risks(table: pd.DataFrame, interventions: list[str], by: str, hit: str = "hit",
                   model: str = "auto") -> GlmFit:
    """Log-binomial RRs, or the Poisson-robust fallback when the log-binomial fit fails.

    `model="poisson-robust"` asks for the fallback directly (a sensitivity analysis, and how the
    fallback's published example is checked).
    """
    if model not in ("auto", "poisson-robust"):
        raise ValueError(f"model: {model!r} is not 'auto' or 'poisson-robust'")
    prepared = _prepare(table, interventions, by, hit)
    if isinstance(prepared, GlmFit):
        return prepared
    y, x, names, dropped = prepared
    try:
        poisson = _poisson_robust(y, x)
    except (ValueError, np.linalg.LinAlgError, FloatingPointError):
        return GlmFit("none", {}, dropped, ["the relative-risk GLM could not be fitted to these runs"])
    if model == "poisson-robust":
        notes: list[str] = ["Poisson with robust (HC0) errors requested"]
        return GlmFit("poisson-robust", _effects(poisson, names, notes), dropped, notes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit, reason = _log_binomial(y, x, poisson)
    if reason is None:
        notes = []
        return GlmFit("log-binomial", _effects(fit, names, notes), dropped, notes)
    notes = [f"log-binomial {reason}: Poisson with robust (HC0) errors used"]
    return GlmFit("poisson-robust", _effects(poisson, names, notes), dropped, notes)


def _poisson_robust(y: np.ndarray, x: pd.DataFrame) -> Any:
    """Zou's modified Poisson: a log-link Poisson GLM with HC0 (sandwich) standard errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.GLM(y, x, family=sm.families.Poisson()).fit(cov_type="HC0")


def _log_binomial(y: np.ndarray, x: pd.DataFrame, poisson: Any) -> tuple[Any, str | None]:
    """The log-binomial fit, or None and the reason it cannot be used."""
    start = poisson.params.to_numpy().copy()
    start[list(x.columns).index("const")] -= math.log(max(float(poisson.fittedvalues.max()), 1e-12)) + 0.05
    try:
        model = sm.GLM(y, x, family=sm.families.Binomial(link=sm.families.links.Log()))
        fit = model.fit(start_params=start, method="lbfgs", maxiter=5000, factr=10.0, pgtol=1e-10)
    except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
        return None, f"failed ({exc})"
    if not fit.mle_retvals.get("converged", False):
        return None, "did not converge"
    if float(np.max(fit.fittedvalues)) >= 1 - 1e-6 or not math.isfinite(float(fit.llf)):
        return None, "ended on the boundary (a fitted risk of 1)"
    if not np.isfinite(np.asarray(fit.bse)).all():
        return None, "has no finite standard errors"
    return fit, None


def _logit(y: np.ndarray, x: pd.DataFrame) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = sm.GLM(y, x, family=sm.families.Binomial())
        try:
            fit = model.fit(maxiter=100)
            if np.isfinite(np.asarray(fit.params)).all() and np.isfinite(np.asarray(fit.bse)).all():
                return fit
        except (ValueError, np.linalg.LinAlgError, FloatingPointError):
            pass
        return model.fit_regularized(alpha=1e-3, L1_wt=0.0)


def odds_ratios(table: pd.DataFrame, interventions: list[str], by: str, hit: str = "hit") -> GlmFit:
    """Logistic-GLM odds ratios adjusted for stratum."""
    prepared = _prepare(table, interventions, by, hit)
    if isinstance(prepared, GlmFit):
        return prepared
    y, x, names, dropped = prepared
    fit = _logit(y, x)
    if not hasattr(fit, "bse"):
        return GlmFit("logistic (penalised, separation)", {}, dropped, ["separation: no intervals"])
    notes: list[str] = []
    return GlmFit("logistic", _effects(fit, names, notes), dropped, notes)


def classifier_metrics(table: pd.DataFrame, interventions: list[str], by: str, hit: str = "hit",
                       folds: int = 5, seed: int = 0) -> dict[str, float | None] | None:
    """Cross-validated accuracy, precision, recall, F1 and ROC-AUC of the logistic GLM as a hit classifier."""
    y = table[hit].to_numpy(dtype=int)
    k = min(folds, int(np.bincount(y, minlength=2).min()))
    if k < 2:
        return None
    x, _ = design_matrix(table, interventions, by)
    scores = np.zeros(len(y))
    for train, test in StratifiedKFold(k, shuffle=True, random_state=seed).split(x, y):
        fit = _logit(y[train].astype(float), x.iloc[train])
        scores[test] = np.clip(np.asarray(fit.predict(x.iloc[test])), 0.0, 1.0)
    predicted = (scores >= 0.5).astype(int)
    return {
        "folds": float(k), "accuracy": float(metrics.accuracy_score(y, predicted)),
        "precision": float(metrics.precision_score(y, predicted, zero_division=0)),
        "recall": float(metrics.recall_score(y, predicted, zero_division=0)),
        "f1": float(metrics.f1_score(y, predicted, zero_division=0)),
        "roc_auc": float(metrics.roc_auc_score(y, scores)),
    }
