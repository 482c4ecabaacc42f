"""Biological names for the ids on the review pages (gene b0723 -> sdhA), from the campaign's organism model."""

from __future__ import annotations

import logging
from functools import lru_cache

log = logging.getLogger(__name__)


@lru_cache(maxsize=8)
def _names(model: str) -> dict[str, str]:
    from services.runtime.organism import load_organism

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
