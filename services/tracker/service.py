"""Tracker service: records every event and dead letter; answers campaign queries."""

from __future__ import annotations

import asyncio
import base64
import logging

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas import DeadLetter, rpc
from schemas.queries import CampaignList, CampaignQuery, RecordList
from services.runtime.bus import Bus
from services.runtime.consumer import ConsumerSpec, Envelope, subject_parser
from services.runtime.failpoints import failpoint
from services.runtime.service import Endpoint, RpcError, Service
from services.runtime.settings import Settings
from services.tracker import queries
from services.tracker.audit import audit_key
from services.tracker.repository import HeldLetter, IncomingEvent, Repository

log = logging.getLogger(__name__)


class TrackerSettings(BaseSettings):
    """Tracker-specific settings (FLUXLAB_TRACKER_*)."""

    model_config = SettingsConfigDict(env_prefix="FLUXLAB_TRACKER_", extra="ignore")

    hold_s: float = Field(default=24 * 3600.0, gt=0, description=(
        "How long a measurement whose run id was never issued is held for its work order before it is "
        "dead-lettered (campaign scale: a work order delayed by crashes or load must still find it)."))
    sweep_s: float = Field(default=2.0, gt=0, description="How often held measurements are looked at.")


class TrackerService(Service):
    """Consumes `<ns>.evt.>` and `<ns>.dlq.>` into the database."""

    name = "tracker"

    def __init__(self, settings: Settings, bus: Bus | None = None, options: TrackerSettings | None = None) -> None:
        super().__init__(settings, bus)
        self.options = options or TrackerSettings()
        self.repo: Repository | None = None

    async def setup(self) -> None:
        key = audit_key(self.settings.data_dir)
        self.repo = await asyncio.to_thread(Repository, self.settings.resolved_db_url(), True, key)
        subjects = self.bus.subjects
        parse = subject_parser(self.bus)
        self.add_consumer(ConsumerSpec(
            service=self.name, durable="tracker-events", stream=subjects.events_stream,
            filter_subjects=[subjects.all_events], parse=parse, handler=self.record, batch=1000, fetch_timeout_s=0.5,
        ))
        self.add_consumer(ConsumerSpec(
            service=self.name, durable="tracker-dlq", stream=subjects.dlq_stream, filter_subjects=[subjects.all_dlq],
            parse=parse, handler=self.record, batch=1000, fetch_timeout_s=0.5, max_bytes=4 * 1024 * 1024,
            dead_letter=False,
        ))
        await self.add_endpoints([
            Endpoint(rpc.TRACKER_CAMPAIGNS, self.rpc_campaigns), Endpoint(rpc.TRACKER_PROPOSALS, self.rpc_proposals),
            Endpoint(rpc.TRACKER_MEASUREMENTS, self.rpc_measurements), Endpoint(rpc.TRACKER_BEST, self.rpc_campaigns),
            Endpoint(rpc.TRACKER_WORK_ORDERS, self.rpc_work_orders), Endpoint(rpc.TRACKER_REVIEWS, self.rpc_reviews),
            Endpoint(rpc.TRACKER_MODELS, self.rpc_models),
        ])
        self.spawn(self._sweeper())

    async def record(self, envelopes: list[Envelope]) -> None:
        """Commit a batch; the consumer acks only after this returns."""
        assert self.repo is not None
        events = [IncomingEvent(e.msg_id, e.subject, e.model, e.msg.data) for e in envelopes]
        await asyncio.to_thread(self.repo.ingest, events)
        failpoint("tracker.after_commit")  # fault tests: committed, not yet acked

    async def _sweeper(self) -> None:
        """Dead-letter held measurements that were refused when their work order came, or never issued in time."""
        while True:
            await asyncio.sleep(self.options.sweep_s)
            try:
                await self.sweep_held()
            except Exception:
                log.exception("tracker: sweeping held measurements failed")

    async def sweep_held(self) -> int:
        """One sweep: publish each due dead letter (deduplicated by id), then forget it. Returns how many."""
        assert self.repo is not None
        letters = await asyncio.to_thread(self.repo.expire_and_list_held, self.options.hold_s)
        for letter in letters:
            await self.bus.publish(self.bus.subjects.dlq(self.name), _dead_letter(self.name, letter))
        if letters:
            await asyncio.to_thread(self.repo.forget_held, [x.msg_id for x in letters])
        return len(letters)

    async def rpc_campaigns(self, query: CampaignQuery) -> CampaignList:
        """Summary of one campaign, or of every campaign."""
        assert self.repo is not None
        repo = self.repo
        ids = [query.campaign_id] if query.campaign_id else await asyncio.to_thread(queries.campaign_ids, repo)
        summaries = [await asyncio.to_thread(queries.summary, repo, cid) for cid in ids]
        if query.campaign_id and summaries[0] is None:
            raise RpcError("campaign_id", f"unknown campaign '{query.campaign_id}'")
        return CampaignList(campaigns=[s for s in summaries if s is not None])

    async def rpc_proposals(self, query: CampaignQuery) -> RecordList:
        """Proposals of a campaign (optionally by status)."""
        assert self.repo is not None
        records = await asyncio.to_thread(queries.proposals, self.repo, _campaign(query), query.status)
        return RecordList(records=records[: query.limit])

    async def rpc_measurements(self, query: CampaignQuery) -> RecordList:
        """Measurements of a campaign."""
        assert self.repo is not None
        items = await asyncio.to_thread(queries.measurements, self.repo, _campaign(query))
        return RecordList(records=[m.model_dump(mode="json") for m in items[: query.limit]])

    async def rpc_work_orders(self, query: CampaignQuery) -> RecordList:
        """Work orders (campaign optional; `status` filters by order status; bench and robot alike)."""
        assert self.repo is not None
        records = await asyncio.to_thread(queries.work_orders, self.repo, query.campaign_id, None, query.status)
        return RecordList(records=records[: query.limit])

    async def rpc_reviews(self, query: CampaignQuery) -> RecordList:
        """Review decisions of a campaign."""
        assert self.repo is not None
        return RecordList(records=await asyncio.to_thread(queries.reviews, self.repo, _campaign(query)))

    async def rpc_models(self, query: CampaignQuery) -> RecordList:
        """Model versions and metrics of a campaign."""
        assert self.repo is not None
        return RecordList(records=await asyncio.to_thread(queries.model_versions, self.repo, _campaign(query)))

    async def teardown(self) -> None:
        if self.repo is not None:
            self.repo.dispose()


def _dead_letter(service: str, letter: HeldLetter) -> DeadLetter:
    return DeadLetter(id=f"dlq-{service}-{letter.msg_id}", service=service, subject=letter.subject[:512],
                      data_b64=base64.b64encode(letter.data.encode()).decode(), field=letter.field[:500],
                      reason=letter.reason[:4000], original_msg_id=letter.msg_id[:256])


def _campaign(query: CampaignQuery) -> str:
    """The query's campaign id, which these reads require."""
    if not query.campaign_id:
        raise RpcError("campaign_id", "required")
    return query.campaign_id
