"""Ids outside the organism model kept as plain feature columns (`outside_ids="raw"`), never mapped into the network.

`outside_ids` finds them in designs (as `ko:<id>`, `expr:<gene>`, `medium:<exchange>`); `without_outside` gives a
design as the organism model sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from schemas.design import Design

if TYPE_CHECKING:
    from services.predictor.features import OrganismLike


def outside_ids(designs: Sequence[Design], organism: OrganismLike) -> list[str]:
    """Every knockout, expression gene and medium id of `designs` that `organism` lacks (`ko:<id>` etc.), sorted."""
    genes, reactions, exchanges = set(organism.gene_ids), set(organism.reaction_ids), set(organism.exchange_ids)
    found: set[str] = set()
    for d in designs:
        found.update(f"ko:{k}" for k in d.knockouts if k not in genes and k not in reactions)
        found.update(f"expr:{g}" for g in d.expression if g not in genes)
        found.update(f"medium:{m}" for m in d.medium if m not in exchanges)
    return sorted(found)


def without_outside(design: Design, outside: Sequence[str]) -> Design:
    """The design the organism model sees: ids listed in `outside` (`ko:<id>`, ...) removed."""
    if not outside:
        return design
    out = set(outside)
    kos = [k for k in design.knockouts if f"ko:{k}" not in out]
    expr = {g: f for g, f in design.expression.items() if f"expr:{g}" not in out}
    medium = {m: v for m, v in design.medium.items() if f"medium:{m}" not in out}
    if len(kos) == len(design.knockouts) and len(expr) == len(design.expression) and len(medium) == len(design.medium):
        return design
    return design.model_copy(update={"knockouts": kos, "expression": expr, "medium": medium})
