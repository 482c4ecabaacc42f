"""Biological names for the ids on the review pages (gene b0723 -> sdhA), from the campaign's organism model."""

from __future__ import annotations

import logging
from functools import lru_cache

from schemas import Design

log = logging.getLogger(__name__)


@lru_cache(maxsize=8)
def _names(model: str) -> dict[str, str]:
    from services.domain.organism import load_organism

    try:
        cobra_model = load_organism(model).cobra_model
    except Exception as exc:  # an unreadable model only costs the names
        log.warning("no names from organism model %s: %s", model, exc)
        return {}
    names = {g.id: g.name for g in cobra_model.genes if g.name and g.name != g.id}
    names.update({r.id: r.name for r in cobra_model.reactions if r.name and r.name != r.id})
    return names


def label(identifier: str, model: str | None) -> str:
    """'sdhA (b0723)' for a gene or reaction the model names, else the id itself."""
    if not model:
        return identifier
    name = _names(model).get(identifier)
    return f"{name} ({identifier})" if name else identifier


def gene(identifier: str, model: str | None) -> str:
    """'sdhA (b0723)' for genes only (reactions keep their id: their names are long)."""
    if not model:
        return identifier
    from services.domain.organism import load_organism

    name = _names(model).get(identifier)
    try:
        is_gene = identifier in load_organism(model).gene_ids
    except Exception:  # an unreadable model only costs the names
        is_gene = False
    return f"{name} ({identifier})" if name and is_gene else identifier


def describe(design: Design, model: str | None) -> str:
    """Design.describe() with gene names: 'ΔsdhA (b0723) ΔldhA (b1380), ppc (b3956)×2'."""
    parts: list[str] = []
    if design.knockouts:
        parts.append(" ".join("Δ" + gene(k, model) for k in design.knockouts))
    parts += [f"{gene(g, model)}×{v:.2g}" for g, v in sorted(design.expression.items()) if abs(v - 1.0) > 1e-9]
    parts += [f"{r}≤{v:.3g} mmol/gDW/h" for r, v in sorted(design.medium.items())]
    parts += [f"{n}={v:.4g}" for n, v in sorted(design.parameters.items())]
    return ", ".join(parts) if parts else "wild type"


def gene_names(model: str | None) -> dict[str, str]:
    """Gene id -> its short name ('b0723' -> 'sdhA') for the genes the organism model names."""
    if not model:
        return {}
    from services.domain.organism import load_organism

    try:
        genes = set(load_organism(model).gene_ids)
    except Exception:  # an unreadable model only costs the names
        return {}
    return {k: v for k, v in _names(model).items() if k in genes}
