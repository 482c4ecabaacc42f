"""Small request/reply models for `<ns>.rpc.<service>.<verb>` endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from schemas.base import Identifier, WireModel
from schemas.design import Design


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
