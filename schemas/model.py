"""Predictor messages: trained models and predict request/reply."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.base import FiniteFloat, Identifier, Message, UtcDatetime, WireModel, utcnow
from schemas.design import Design
from schemas.proposal import Prediction


class ModelTrained(Message):
    """A new model version is available, and which of the campaign's measurements it accounts for.

    v2 adds `covers` (a v1 payload is a valid v2 one; a v1 reader, which forbids unknown fields, would
    refuse a v2 message that sets it, hence the new version).
    """

    SCHEMA = "model_trained.v2"

    campaign_id: Identifier
    version: int = Field(ge=1)
    artifact: str = Field(max_length=512, description="Object name in the `fluxlab-models` bucket.")
    model_kind: str = Field(max_length=32)
    n_train: int = Field(ge=0)
    metrics: dict[str, FiniteFloat] = Field(default_factory=dict)
    trained_at: UtcDatetime = Field(default_factory=utcnow)
    covers: int | None = Field(default=None, ge=0, description=(
        "Accepted measurements of the campaign this version accounts for: those it trained on plus those "
        "left out of training (dead-lettered). The optimizer waits for a model until `covers` reaches the "
        "measurements it has; None (a v1 event) means `n_train`."))


class DeclineCause(StrEnum):
    """Why the predictor did not train a model of the data it has."""

    TOO_FEW = "too_few_measurements"
    FAILED = "training_failed"


class ModelDeclined(Message):
    """The predictor will not deliver a model of the campaign's measurements so far (the optimizer stops waiting)."""

    SCHEMA = "model_declined.v1"

    campaign_id: Identifier
    covers: int = Field(ge=0, description="Accepted measurements the predictor had when it declined.")
    cause: DeclineCause
    reason: str = Field(max_length=4000)


class PredictRequest(WireModel):
    """Ask the predictor about a batch of designs."""

    SCHEMA = "predict_request.v1"

    campaign_id: Identifier
    designs: list[Design] = Field(min_length=1, max_length=5000)
    outputs: list[Identifier] | None = Field(default=None, description="Outputs wanted; None = all.")
    attributions: bool = Field(default=False, description="Return per-intervention attributions.")


class DesignPrediction(WireModel):
    """Predictions for one design."""

    outputs: dict[Identifier, Prediction]
    attributions: dict[str, FiniteFloat] | None = Field(
        default=None, description="Intervention/modality -> contribution to the objective (objective units)."
    )
    unseen: list[str] = Field(
        default_factory=list, max_length=1000,
        description="This design's interventions no training run had (`ko:<id>`, `expr:<gene>`, "
                    "`medium:<exchange>`): the model extrapolates, and its sd is widened for it.",
    )


class ErrorDetail(WireModel):
    """One clear error: which field, and why."""

    field: str = Field(max_length=500)
    reason: str = Field(max_length=2000)


class PredictReply(WireModel):
    """The predictor's answer; exactly one of `predictions` and `error` is meaningful."""

    SCHEMA = "predict_reply.v1"

    model_version: int | None = None
    predictions: list[DesignPrediction] = Field(default_factory=list)
    sd_scale: dict[str, float] = Field(default_factory=dict, description=(
        "Per output, the factor already applied to each predicted sd by the prospective recalibration "
        "(missing: 1). A planner that ranks by the model's own uncertainty divides it out."))
    error: ErrorDetail | None = None
