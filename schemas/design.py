"""A design: the interventions applied to one strain/culture."""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import Field, field_validator

from schemas.base import MAX_ITEMS, FiniteFloat, Identifier, NonNegFloat, WireModel

FoldChange = Annotated[float, Field(gt=0.0, le=1000.0, allow_inf_nan=False)]


class Design(WireModel):
    """Knockouts, expression levels and medium of one experiment (or a black-box point)."""

    SCHEMA = "design.v1"

    knockouts: list[Identifier] = Field(
        default_factory=list, max_length=64,
        description="Gene ids (knocked out through GPR rules) or reaction ids (blocked directly).",
    )
    expression: dict[Identifier, FoldChange] = Field(
        default_factory=dict, max_length=512,
        description="Gene id -> expression fold change relative to wild type (dimensionless, > 0; 1 = unchanged).",
    )
    medium: dict[Identifier, NonNegFloat] = Field(
        default_factory=dict, max_length=512,
        description="Exchange reaction id -> maximum uptake rate (mmol/gDW/h); 0 removes the component.",
    )
    parameters: dict[Identifier, FiniteFloat] = Field(
        default_factory=dict, max_length=MAX_ITEMS,
        description="Named continuous parameters of a black-box objective (units of the parameter).",
    )

    @field_validator("knockouts")
    @classmethod
    def _unique_sorted(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("knockouts must not repeat an id")
        return sorted(value)

    def key(self) -> str:
        """Canonical string identifying this design (used to detect repeats)."""
        payload = {
            "k": sorted(self.knockouts),
            "e": {g: round(v, 6) for g, v in sorted(self.expression.items()) if abs(v - 1.0) > 1e-9},
            "m": {r: round(v, 6) for r, v in sorted(self.medium.items())},
            "p": {n: round(v, 9) for n, v in sorted(self.parameters.items())},
        }
        return json.dumps(payload, sort_keys=True, separators=(",", ":"))

    def describe(self) -> str:
        """Short human-readable description in biological terms."""
        parts: list[str] = []
        if self.knockouts:
            parts.append("Δ" + " Δ".join(self.knockouts))
        parts += [f"{g}×{v:.2g}" for g, v in sorted(self.expression.items()) if abs(v - 1.0) > 1e-9]
        parts += [f"{r}≤{v:.3g}" for r, v in sorted(self.medium.items())]
        parts += [f"{n}={v:.4g}" for n, v in sorted(self.parameters.items())]
        return ", ".join(parts) if parts else "wild type"
