"""Tracker service: records every event and dead letter; answers campaign queries."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from schemas.queries import CampaignList, CampaignQuery, RecordList
from services.runtime.consumer import ConsumerSpec, Envelope, subject_parser
from services.runtime.failpoints import failpoint
from services.runtime.service import RpcError, Service
from services.tracker import queries
from services.tracker.repository import IncomingEvent, Repository


class TrackerService(Service):
    """Consumes `<ns>.evt.>` and `<ns>.dlq.>` into the database."""

    name = "tracker"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.repo: Repository | None = None

    async def setup(self) -> None:
        self.repo = await asyncio.to_thread(Repository, self.settings.resolved_db_url())
        subjects = self.bus.subjects
        parse = subject_parser(self.bus)
        self.add_consumer(ConsumerSpec(
            service=self.name, durable="tracker-events", stream=subjects.events_stream,
            filter_subjects=[subjects.all_events], parse=parse, handler=self.record, batch=1000, fetch_timeout_s=0.5,
            ack_wait_s=5.0,
        ))
        self.add_consumer(ConsumerSpec(
            service=self.name, durable="tracker-dlq", stream=subjects.dlq_stream, filter_subjects=[subjects.all_dlq],
            parse=parse, handler=self.record, batch=1000, fetch_timeout_s=0.5, max_bytes=4 * 1024 * 1024,
            dead_letter=False,
        ))
        await self.add_endpoints({
            "campaigns": (subjects.rpc(self.name, "campaigns"), self.rpc_campaigns),
            "proposals": (subjects.rpc(self.name, "proposals"), self.rpc_proposals),
            "measurements": (subjects.rpc(self.name, "measurements"), self.rpc_measurements),
            "best": (subjects.rpc(self.name, "best"), self.rpc_campaigns),
            "work_orders": (subjects.rpc(self.name, "work_orders"), self.rpc_work_orders),
            "reviews": (subjects.rpc(self.name, "reviews"), self.rpc_reviews),
            "models": (subjects.rpc(self.name, "models"), self.rpc_models),
        })

    async def record(self, envelopes: list[Envelope]) -> None:
        """Commit a batch; the consumer acks only after this returns."""
        assert self.repo is not None
        events = [IncomingEvent(e.msg_id, e.subject, e.model, e.msg.data) for e in envelopes]
        await asyncio.to_thread(self.repo.ingest, events)
        failpoint("tracker.after_commit")  # fault tests: committed, not yet acked

    async def rpc_campaigns(self, data: bytes) -> BaseModel:
        """Summary of one campaign, or of every campaign."""
        assert self.repo is not None
        query = CampaignQuery.model_validate_json(data or b"{}")
        repo = self.repo
        ids = [query.campaign_id] if query.campaign_id else await asyncio.to_thread(queries.campaign_ids, repo)
        summaries = [await asyncio.to_thread(queries.summary, repo, cid) for cid in ids]
        if query.campaign_id and summaries[0] is None:
            raise RpcError("campaign_id", f"unknown campaign '{query.campaign_id}'")
        return CampaignList(campaigns=[s for s in summaries if s is not None])

    async def rpc_proposals(self, data: bytes) -> BaseModel:
        """Proposals of a campaign (optionally by status)."""
        assert self.repo is not None
        query = _require_campaign(CampaignQuery.model_validate_json(data or b"{}"))
        records = await asyncio.to_thread(queries.proposals, self.repo, query.campaign_id or "", query.status)
        return RecordList(records=records[: query.limit])

    async def rpc_measurements(self, data: bytes) -> BaseModel:
        """Measurements of a campaign."""
        assert self.repo is not None
        query = _require_campaign(CampaignQuery.model_validate_json(data or b"{}"))
        items = await asyncio.to_thread(queries.measurements, self.repo, query.campaign_id or "")
        return RecordList(records=[m.model_dump(mode="json") for m in items[: query.limit]])

    async def rpc_work_orders(self, data: bytes) -> BaseModel:
        """Work orders (campaign optional; `status` filters by order status; bench and robot alike)."""
        assert self.repo is not None
        query = CampaignQuery.model_validate_json(data or b"{}")
        records = await asyncio.to_thread(queries.work_orders, self.repo, query.campaign_id, None, query.status)
        return RecordList(records=records[: query.limit])

    async def rpc_reviews(self, data: bytes) -> BaseModel:
        """Review decisions of a campaign."""
        assert self.repo is not None
        query = _require_campaign(CampaignQuery.model_validate_json(data or b"{}"))
        return RecordList(records=await asyncio.to_thread(queries.reviews, self.repo, query.campaign_id or ""))

    async def rpc_models(self, data: bytes) -> BaseModel:
        """Model versions and metrics of a campaign."""
        assert self.repo is not None
        query = _require_campaign(CampaignQuery.model_validate_json(data or b"{}"))
        return RecordList(records=await asyncio.to_thread(queries.model_versions, self.repo, query.campaign_id or ""))

    async def teardown(self) -> None:
        if self.repo is not None:
            self.repo.dispose()


def _require_campaign(query: CampaignQuery) -> CampaignQuery:
    if not query.campaign_id:
        raise RpcError("campaign_id", "required")
    return query
