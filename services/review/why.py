"""Why this design, in words a biologist reads: the interventions that drive a proposal's predicted gain.

Attributions split prediction(design) - prediction(wild type) over the design's interventions (objective
units; Shapley values over sub-designs, or the predictor's integrated gradients: services/review/explain.py).
`why_words` names the largest few, signed: 'ΔsdhA +1.9, adhE ×4 +0.6,
EX_o2_e ≤ 5 −0.3, 2 others +0.1'. The review page and `fluxlab review show` both print it.
"""

from __future__ import annotations

from collections.abc import Mapping

from schemas import Design

TOP = 3
"""Interventions named; the rest are summed into one 'n others ±x'."""


def signed(value: float) -> str:
    """'+1.9', '−0.31', '+12' (two significant digits, a true minus sign)."""
    text = f"{value:+.0f}" if abs(value) >= 10 else f"{value:+.2g}"
    return text.replace("-", "−")


def intervention_words(key: str, design: Design, names: Mapping[str, str] | None = None) -> str:
    """One attribution key as the intervention it stands for: 'ΔsdhA', 'adhE ×4', 'EX_o2_e ≤ 5'."""
    names = names or {}
    kind, _, ident = key.partition(":")
    if kind == "ko":
        return f"Δ{names.get(ident, ident)}"
    if kind == "expr":
        fold = design.expression.get(ident)
        return f"{names.get(ident, ident)} ×{fold:.2g}" if fold is not None else f"{names.get(ident, ident)} expression"
    if kind == "medium":
        uptake = design.medium.get(ident)
        return f"{ident} ≤ {uptake:.3g}" if uptake is not None else f"{ident} uptake"
    if kind == "param":
        value = design.parameters.get(ident)
        return f"{ident} = {value:.4g}" if value is not None else ident
    if kind == "omics":
        return f"{ident} omics"
    if key == "mechanistic_prior":
        return "organism-model prior"
    return key


def why_words(attributions: Mapping[str, float], design: Design, names: Mapping[str, str] | None = None,
              top: int = TOP) -> str:
    """The `top` largest attributions by magnitude, signed, in objective units; the others summed."""
    ranked = sorted(((k, v) for k, v in attributions.items() if v != 0.0), key=lambda kv: -abs(kv[1]))
    if not ranked:
        return "no intervention moves the prediction away from the wild type"
    named = [f"{intervention_words(k, design, names)} {signed(v)}" for k, v in ranked[:top]]
    rest = ranked[top:]
    if rest:
        named.append(f"{len(rest)} other{'s' if len(rest) > 1 else ''} {signed(sum(v for _, v in rest))}")
    return ", ".join(named)
