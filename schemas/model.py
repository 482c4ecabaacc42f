"""Predictor messages: trained models and predict request/reply."""

from __future__ import annotations

from pydantic import Field

from schemas.base import FiniteFloat, Identifier, Message, UtcDatetime, WireModel, utcnow
from schemas.design import Design
from schemas.proposal import Prediction


class ModelTrained(Message):
    """A new model version is available."""

    SCHEMA = "model_trained.v1"

    campaign_id: Identifier
    version: int = Field(ge=1)
    artifact: str = Field(max_length=512, description="Object name in the `fluxlab-models` bucket.")
    model_kind: str = Field(max_length=32)
    n_train: int = Field(ge=0)
    metrics: dict[str, FiniteFloat] = Field(default_factory=dict)
    trained_at: UtcDatetime = Field(default_factory=utcnow)


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
    error: ErrorDetail | None = None
