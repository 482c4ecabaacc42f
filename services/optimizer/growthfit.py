"""A correction of the organism model's growth fitted to measured growth (what the feasibility filter learns).

FBA re-optimises growth after every change; a real cell does not (it stays near its old flux distribution,
pays for extra enzyme, is regulated), so measured growth is below FBA growth, and by how much depends on the
interventions. The correction is a ridge regression of ``log(measured / FBA)`` growth on the design's
interventions (one indicator per strain, i.e. knockout set, log2 fold per expressed gene, an indicator and
the log(1 + uptake) per medium component the design sets), with an unpenalised intercept:

    corrected(d) = FBA(d) * exp(intercept + sum of the fitted effects of d's interventions)

A strain, not each knocked-out gene, carries an effect: how far a cell falls below FBA after knockouts
depends on the whole set (a MOMA-like response is not additive over genes), and per-gene effects can let
one bad strain condemn good strains sharing a gene with it (with per-gene effects the loop benchmark's
campaigns found the optimum less often). A new design of a measured strain inherits that strain's
shortfall; one of an unmeasured strain gets the typical ratio. The intercept is the robust typical ratio
(designs no intervention explains); an effect is fitted only as far as the data carry it (ridge
``alpha``). Ratios are clipped to [``MIN_RATIO``, ``MAX_RATIO``] so one lethal design (measured growth 0)
counts as a large effect, not an infinite one. Designs FBA calls lethal carry no ratio and are left out.
Fewer than ``MIN_DESIGNS`` usable designs: no correction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from schemas import Design

MIN_RATIO, MAX_RATIO = 0.02, 2.0
MIN_DESIGNS = 4
DEFAULT_ALPHA = 0.25
"""Ridge penalty: a strain measured once keeps 80 % of its log shortfall (n / (n + alpha) of it)."""


@dataclass(frozen=True)
class GrowthCorrection:
    """Fitted log-ratio model of measured over FBA growth (see the module doc)."""

    intercept: float
    effects: dict[str, float]
    n_designs: int
    residual_sd: float

    def log_ratio(self, design: Design) -> float:
        """The fitted log(measured / FBA growth) of a design."""
        return self.intercept + sum(self.effects.get(name, 0.0) * x for name, x in _features(design).items())

    def corrected(self, design: Design, fba_growth: float) -> float:
        """The growth the correction expects a design to measure, from its FBA growth."""
        return fba_growth * math.exp(self.log_ratio(design))

    def describe(self) -> str:
        """'measured/FBA growth 0.83 typical, from 12 designs (strongest effects: strain:b0723 x0.61, ...)'."""
        strongest = sorted(self.effects.items(), key=lambda kv: -abs(kv[1]))[:3]
        effects = ", ".join(f"{k} x{math.exp(v):.2f}" for k, v in strongest if abs(v) > 1e-3)
        return (f"measured/FBA growth {math.exp(self.intercept):.2f} typical, from {self.n_designs} designs"
                + (f" (strongest effects: {effects})" if effects else ""))


def _features(design: Design) -> dict[str, float]:
    out = {"strain:" + "+".join(sorted(design.knockouts)): 1.0} if design.knockouts else {}
    out.update({f"expr:{g}": math.log2(f) for g, f in design.expression.items() if f > 0})
    for exchange, uptake in design.medium.items():  # set at all, and how much (log: uptakes span decades)
        out[f"medium:{exchange}"] = 1.0
        out[f"medium:{exchange}:log_uptake"] = math.log1p(max(float(uptake), 0.0))
    return out


def fit_growth_correction(pairs: Sequence[tuple[Design, float, float]], alpha: float = DEFAULT_ALPHA
                          ) -> GrowthCorrection | None:
    """Fit the correction from (design, measured growth, FBA growth) triples; None with too few usable designs.

    A design measured more than once enters once, with its mean measured growth.
    """
    by_key: dict[str, tuple[Design, list[float], float]] = {}
    for design, measured, fba in pairs:
        if fba > 1e-9 and math.isfinite(measured) and math.isfinite(fba):
            by_key.setdefault(design.key(), (design, [], fba))[1].append(measured)
    if len(by_key) < MIN_DESIGNS:
        return None
    rows = [(_features(d), math.log(min(max(sum(g) / len(g) / fba, MIN_RATIO), MAX_RATIO)))
            for d, g, fba in by_key.values()]
    names = sorted({name for features, _ in rows for name in features})
    x = np.array([[features.get(n, 0.0) for n in names] for features, _ in rows], dtype=float).reshape(len(rows), -1)
    y = np.array([r for _, r in rows])
    intercept = float(np.median(y))
    coef = np.zeros(len(names))
    for _ in range(3):  # intercept (a median: robust) and ridge effects, fitted in turn
        if names:
            centred = y - intercept
            coef = np.linalg.solve(x.T @ x + alpha * np.eye(len(names)), x.T @ centred)
        intercept = float(np.median(y - x @ coef)) if names else intercept
    residual = y - intercept - (x @ coef if names else 0.0)
    return GrowthCorrection(intercept, dict(zip(names, coef.tolist(), strict=True)), len(rows),
                            float(np.sqrt(np.mean(residual**2))))


def correction_from(measured: Sequence[tuple[Design, float]], fba_growth: Callable[[Design], float],
                    alpha: float = DEFAULT_ALPHA) -> GrowthCorrection | None:
    """The correction for measured (design, growth) pairs, with FBA growth from ``fba_growth``."""
    return fit_growth_correction([(d, g, fba_growth(d)) for d, g in measured], alpha)
