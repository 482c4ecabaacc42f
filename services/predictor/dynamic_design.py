"""Design inputs of the `dynamic` model: a design's knockouts and log2 expression levels as encoder features.

The batch kinetics of `services/predictor/dynamic.py` come from an encoder of the medium; with a
`DesignEncoding` it also reads the design, so two designs on one medium get their own kinetics (and their own
product formation, `services/predictor/dynamic_products.py`). Features, in a fixed order: one 0/1 column per
knockout (gene or reaction id) and one log2(fold) column per gene whose expression may change (0 = unchanged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from schemas import CampaignSpec, Design


@dataclass(frozen=True)
class DesignEncoding:
    """The knockouts and expression genes a dynamic model reads (the columns of its design features)."""

    knockouts: tuple[str, ...] = ()
    genes: tuple[str, ...] = ()
    unknown: list[str] = field(default_factory=list, compare=False)

    @property
    def width(self) -> int:
        """Number of feature columns."""
        return len(self.knockouts) + len(self.genes)

    @classmethod
    def of(cls, designs: Sequence[Design], spec: CampaignSpec | None = None) -> DesignEncoding:
        """The columns of the designs seen (and of the spec's search space, when given)."""
        knockouts = {k for d in designs for k in d.knockouts}
        genes = {g for d in designs for g in d.expression}
        if spec is not None:
            knockouts |= set(spec.search_space.knockout_candidates)
            genes |= {p.gene for p in spec.search_space.expression}
        return cls(tuple(sorted(knockouts)), tuple(sorted(genes)))

    def features(self, designs: Sequence[Design]) -> np.ndarray:
        """Designs x width: 0/1 per knockout, log2 fold per gene; ids the encoding lacks are an error."""
        ko_index = {k: i for i, k in enumerate(self.knockouts)}
        gene_index = {g: len(self.knockouts) + i for i, g in enumerate(self.genes)}
        out = np.zeros((len(designs), self.width))
        for row, design in enumerate(designs):
            for k in design.knockouts:
                if k not in ko_index:
                    raise ValueError(f"design.knockouts: '{k}' is not a knockout the dynamic model was fitted on")
                out[row, ko_index[k]] = 1.0
            for g, fold in design.expression.items():
                if g not in gene_index:
                    raise ValueError(f"design.expression: '{g}' is not a gene the dynamic model was fitted on")
                out[row, gene_index[g]] = float(np.log2(max(float(fold), 1e-6)))
        return out

    def to_json(self) -> dict[str, Any]:
        """The encoding as saved in a model file."""
        return {"knockouts": list(self.knockouts), "genes": list(self.genes)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> DesignEncoding:
        """Read `to_json`'s form (None: no design inputs)."""
        if not data:
            return cls()
        return cls(tuple(data.get("knockouts", ())), tuple(data.get("genes", ())))
