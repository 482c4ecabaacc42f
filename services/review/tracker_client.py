"""Typed reads from the tracker, the system of record (request/reply on `<ns>.rpc.tracker.*`)."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from schemas import Measurement, rpc
from schemas.queries import (
    CampaignQuery,
    CampaignSummary,
    ModelRecord,
    ProposalRecord,
    RecordList,
    ReviewRecord,
    WorkOrderRecord,
)
from schemas.rpc import RpcSpec
from services.runtime.bus import Bus
from services.runtime.rpc import ask

T = TypeVar("T", bound=BaseModel)


class TrackerClient:
    """Asks the tracker about campaigns, proposals, reviews, work orders, measurements and models."""

    def __init__(self, bus: Bus, timeout_s: float = 10.0) -> None:
        self.bus = bus
        self.timeout_s = timeout_s

    async def _records(self, spec: RpcSpec[CampaignQuery, RecordList], record: type[T], campaign_id: str | None,
                       status: str | None = None) -> list[T]:
        query = CampaignQuery(campaign_id=campaign_id, status=status)
        reply = await ask(self.bus, spec, query, timeout=self.timeout_s)
        return [record.model_validate(r) for r in reply.records]

    async def campaigns(self) -> list[CampaignSummary]:
        """Every campaign's summary."""
        return (await ask(self.bus, rpc.TRACKER_CAMPAIGNS, CampaignQuery(), timeout=self.timeout_s)).campaigns

    async def proposals(self, campaign_id: str, status: str | None = None) -> list[ProposalRecord]:
        """Proposal records (with `status`: pending, approved, rejected, amended, measured, failed)."""
        return await self._records(rpc.TRACKER_PROPOSALS, ProposalRecord, campaign_id, status)

    async def reviews(self, campaign_id: str) -> list[ReviewRecord]:
        """Review decisions, oldest first."""
        return await self._records(rpc.TRACKER_REVIEWS, ReviewRecord, campaign_id)

    async def work_orders(self, campaign_id: str | None, status: str | None = None) -> list[WorkOrderRecord]:
        """Work orders (status issued, measured or failed)."""
        return await self._records(rpc.TRACKER_WORK_ORDERS, WorkOrderRecord, campaign_id, status)

    async def measurements(self, campaign_id: str) -> list[Measurement]:
        """Measurements, oldest first."""
        return await self._records(rpc.TRACKER_MEASUREMENTS, Measurement, campaign_id)

    async def models(self, campaign_id: str) -> list[ModelRecord]:
        """Model versions with metrics."""
        return await self._records(rpc.TRACKER_MODELS, ModelRecord, campaign_id)
