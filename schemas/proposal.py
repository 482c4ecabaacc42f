"""Proposals from the optimizer and the review decisions on them."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from schemas.base import FiniteFloat, Identifier, Message, NonNegFloat, UtcDatetime, WireModel, utcnow
from schemas.design import Design
from schemas.lifecycle import Origin


class Prediction(WireModel):
    """A predicted quantity: ensemble mean and standard deviation (units of the quantity)."""

    mean: FiniteFloat
    sd: NonNegFloat


class Proposal(Message):
    """A design the optimizer proposes, with its predicted outcome."""

    SCHEMA = "proposal.v1"

    campaign_id: Identifier
    round: int = Field(ge=0, description="Proposal batch number within the campaign.")
    design: Design
    predicted: dict[Identifier, Prediction] = Field(
        default_factory=dict, description="Readout -> prediction (objective, growth, fluxes)."
    )
    strategy: str = Field(max_length=32)
    acquisition: FiniteFloat | None = Field(default=None, description="Acquisition value used to rank it.")
    insilico: FiniteFloat | None = Field(
        default=None,
        description="The organism model's in-silico value of the objective target (MOMA under the design's "
                    "bounds, units of the target, no uncertainty); set while no model is trained yet.",
    )
    feasible: bool = Field(default=True, description="Organism model says it grows above the floor.")
    model_version: int | None = Field(default=None, ge=0)
    version: int = Field(default=1, ge=1, description="Proposal version; an amendment is version + 1.")
    parent_id: str | None = Field(default=None, max_length=128, description="Proposal this one amends.")
    created_at: UtcDatetime = Field(default_factory=utcnow)

    @property
    def origin(self) -> Origin:
        """`strategy` read as an origin: the generator, and the planner it ran inside."""
        return Origin.parse(self.strategy)


class ReviewAction(StrEnum):
    """What a reviewer decided."""

    APPROVE = "approve"
    REJECT = "reject"
    AMEND = "amend"


class ReviewDecision(Message):
    """A reviewer's (or policy's) decision on a proposal; immutable once published."""

    SCHEMA = "review_decision.v1"

    campaign_id: Identifier
    proposal_id: str = Field(min_length=1, max_length=128)
    action: ReviewAction
    reviewer: str = Field(min_length=1, max_length=200, description="User name, or 'policy:<name>'.")
    reason: str = Field(default="", max_length=4000)
    amended_design: Design | None = None
    meaning: str = Field(default="", max_length=1000, description="What the decision means, in words.")
    decided_at: UtcDatetime = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _consistent(self) -> ReviewDecision:
        if self.action == ReviewAction.REJECT and not self.reason.strip():
            raise ValueError("reason: a rejection needs a reason")
        if self.action == ReviewAction.AMEND and self.amended_design is None:
            raise ValueError("amended_design: an amendment needs the edited design")
        return self
