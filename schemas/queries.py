"""Small request/reply models for `<ns>.rpc.<service>.<verb>` endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from schemas.base import Identifier, WireModel
from schemas.design import Design
from schemas.lifecycle import ProposalStatus, WorkOrderStatus
from schemas.proposal import Prediction


class CampaignQuery(WireModel):
    """Ask about one campaign (or all when `campaign_id` is None)."""

    SCHEMA = "campaign_query.v1"

    campaign_id: Identifier | None = None
    status: str | None = Field(default=None, max_length=32, description="Filter proposals by status.")
    limit: int = Field(default=10_000, ge=1, le=100_000)


class CampaignSummary(WireModel):
    """Counts and best-so-far of one campaign."""

    SCHEMA = "campaign_summary.v1"

    campaign_id: str
    name: str
    status: str
    n_proposals: int
    n_pending_review: int
    n_work_orders: int
    n_measurements: int
    n_failed: int
    n_rejected: int
    n_models: int
    best_value: float | None = None
    best_design: Design | None = None
    predictor_problems: list[str] = Field(
        default_factory=list, description="Why the predictor cannot train, or left measurements out (newest first).")


class CampaignList(WireModel):
    """Reply to `tracker.campaigns`."""

    SCHEMA = "campaign_list.v1"

    campaigns: list[CampaignSummary]


class RecordList(WireModel):
    """Reply carrying stored messages (proposals, measurements, ...) as JSON objects."""

    SCHEMA = "record_list.v1"

    records: list[dict[str, Any]]


class ProposalRecord(WireModel):
    """A proposal as the tracker holds it (a `RecordList` item of `tracker.proposals`), with its status."""

    SCHEMA = "proposal_record.v1"

    id: str
    campaign_id: str
    round: int
    design: Design
    predicted: dict[str, Prediction] = Field(default_factory=dict)
    strategy: str
    acquisition: float | None = None
    insilico: float | None = None
    feasible: bool = True
    model_version: int | None = None
    version: int = 1
    parent_id: str | None = None
    status: ProposalStatus
    created_at: str = Field(description="ISO 8601, as stored.")
    failure_reason: str | None = Field(default=None, description="Why its run failed at the executor (failed).")


class ReviewRecord(WireModel):
    """A review decision as the tracker holds it, with its place in the audit chain (`tracker.reviews`)."""

    SCHEMA = "review_record.v1"

    id: str
    campaign_id: str
    proposal_id: str
    action: str
    reviewer: str
    reason: str = ""
    meaning: str = ""
    amended_design_json: str | None = None
    decided_at: str
    seq: int = 0
    prev_hash: str = ""
    hash: str = ""
    signature: str = ""


class WorkOrderRecord(WireModel):
    """A work order as the tracker holds it, with its status (`tracker.work_orders`)."""

    SCHEMA = "work_order_record.v1"

    id: str
    run_id: str
    campaign_id: str
    proposal_id: str
    queue: str
    station: str | None = None
    design_json: str
    status: WorkOrderStatus
    issued_at: str
    design: Design


class ModelRecord(WireModel):
    """A trained model version with its metrics (`tracker.models`)."""

    SCHEMA = "model_record.v1"

    id: str
    campaign_id: str
    version: int
    artifact: str
    model_kind: str
    n_train: int
    metrics_json: str = "{}"
    trained_at: str
    metrics: dict[str, Any] = Field(default_factory=dict)
