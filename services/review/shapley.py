"""Exact Shapley values of a prediction over a design's interventions (pure; no model, no bus).

Why not the integrated gradients alone: the hybrid model (the default) takes the organism model's MOMA
response to the *whole* design as one input, so its gradients credit most of a design's gain to
"the organism-model prior" and leave the knockouts only the learned correction (measured on the demo's
campaign: "organism-model prior +3.4, ΔsdhA −0.52" for a design whose gain the prior owes mostly to ΔsdhA).
Shapley values over the interventions ask the predictor about every sub-design instead: each intervention's
average marginal gain, in objective units, summing exactly to prediction(design) - prediction(wild type).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from math import factorial

from schemas import Design

MAX_INTERVENTIONS = 8
"""Up to 2**8 = 256 sub-designs per design; larger designs fall back to the integrated gradients."""


def interventions(design: Design) -> list[str]:
    """The design's interventions as attribution keys: 'ko:<id>', 'expr:<gene>', 'medium:<exchange>'."""
    return ([f"ko:{k}" for k in design.knockouts]
            + [f"expr:{g}" for g, v in sorted(design.expression.items()) if abs(v - 1.0) > 1e-9]
            + [f"medium:{r}" for r in sorted(design.medium)])


def sub_design(design: Design, keys: Sequence[str]) -> Design:
    """The design with only these interventions (the rest at wild type / the campaign's medium)."""
    chosen = set(keys)
    return Design(knockouts=[k for k in design.knockouts if f"ko:{k}" in chosen],
                  expression={g: v for g, v in design.expression.items() if f"expr:{g}" in chosen},
                  medium={r: v for r, v in design.medium.items() if f"medium:{r}" in chosen})


def explainable(design: Design) -> bool:
    """Shapley values apply: a cell design (no black-box parameters) of at most MAX_INTERVENTIONS changes."""
    return not design.parameters and len(interventions(design)) <= MAX_INTERVENTIONS


def sub_designs(design: Design) -> list[Design]:
    """Every sub-design whose prediction the Shapley values need (2**k of them, the wild type included)."""
    keys = interventions(design)
    return [sub_design(design, subset) for n in range(len(keys) + 1) for subset in itertools.combinations(keys, n)]


def shapley(keys: Sequence[str], value: Callable[[frozenset[str]], float]) -> dict[str, float]:
    """Key -> its Shapley value for the set function `value` (exact: every subset of the other keys)."""
    k = len(keys)
    out: dict[str, float] = {}
    for key in keys:
        others = [x for x in keys if x != key]
        total = 0.0
        for n in range(k):
            weight = factorial(n) * factorial(k - n - 1) / factorial(k)
            for subset in itertools.combinations(others, n):
                base = frozenset(subset)
                total += weight * (value(base | {key}) - value(base))
        out[key] = total
    return out


def design_shapley(design: Design, predicted: Callable[[Design], float]) -> dict[str, float]:
    """Shapley values of `predicted` (objective mean by sub-design) over the design's interventions."""
    return shapley(interventions(design), lambda subset: predicted(sub_design(design, sorted(subset))))
