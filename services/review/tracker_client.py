"""Typed reads from the tracker, the system of record (request/reply on `<ns>.rpc.tracker.*`)."""

from __future__ import annotations

from typing import Any

from schemas.queries import CampaignList, CampaignQuery, CampaignSummary, RecordList
from services.runtime.bus import Bus
from services.runtime.rpc import call


class TrackerClient:
    """Asks the tracker about campaigns, proposals, reviews, work orders, measurements and models."""

    def __init__(self, bus: Bus, timeout_s: float = 10.0) -> None:
        self.bus = bus
        self.timeout_s = timeout_s

    async def _records(self, verb: str, campaign_id: str | None, status: str | None = None) -> list[dict[str, Any]]:
        subject = self.bus.subjects.rpc("tracker", verb)
        query = CampaignQuery(campaign_id=campaign_id, status=status)
        return (await call(self.bus, subject, query, RecordList, timeout=self.timeout_s)).records

    async def campaigns(self) -> list[CampaignSummary]:
        """Every campaign's summary."""
        subject = self.bus.subjects.rpc("tracker", "campaigns")
        return (await call(self.bus, subject, CampaignQuery(), CampaignList, timeout=self.timeout_s)).campaigns

    async def proposals(self, campaign_id: str, status: str | None = None) -> list[dict[str, Any]]:
        """Proposal records (with `status`: pending, approved, rejected, amended, measured, failed)."""
        return await self._records("proposals", campaign_id, status)

    async def reviews(self, campaign_id: str) -> list[dict[str, Any]]:
        """Review decisions, oldest first."""
        return await self._records("reviews", campaign_id)

    async def work_orders(self, campaign_id: str | None, status: str | None = None) -> list[dict[str, Any]]:
        """Work orders (status issued, measured or failed)."""
        return await self._records("work_orders", campaign_id, status)

    async def measurements(self, campaign_id: str) -> list[dict[str, Any]]:
        """Measurements, oldest first."""
        return await self._records("measurements", campaign_id)

    async def models(self, campaign_id: str) -> list[dict[str, Any]]:
        """Model versions with metrics."""
        return await self._records("models", campaign_id)
