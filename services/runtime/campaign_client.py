"""Client-side campaign operations over the bus: start, lifecycle events, waiting, summaries."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from nats.js.api import DeliverPolicy

from schemas import CampaignEvent, CampaignEventKind, CampaignSpec, Measurement, WorkOrderStatus, rpc
from schemas.queries import CampaignQuery
from schemas.rpc import R, RpcSpec
from services.domain.summary import campaign_summary
from services.runtime.bus import Bus
from services.runtime.rpc import ask

ProgressFn = Callable[[int, int, float | None], None]
"""Called with (experiments done, budget, best so far)."""


class CampaignClient:
    """Operations a user (CLI, demo, tests) performs on campaigns."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def publish(self, event: CampaignEvent) -> None:
        """Publish a lifecycle event."""
        await self.bus.publish_event(event)

    async def start(self, spec: CampaignSpec) -> None:
        """Publish 'created' (with the spec) and 'started' (idempotent ids)."""
        await self.publish(CampaignEvent(id=f"created-{spec.id}", campaign_id=spec.id,
                                         kind=CampaignEventKind.CREATED, spec=spec))
        await self.publish(CampaignEvent(id=f"started-{spec.id}", campaign_id=spec.id,
                                         kind=CampaignEventKind.STARTED))

    async def tracker(self, spec: RpcSpec[CampaignQuery, R], campaign_id: str | None, status: str | None = None) -> R:
        """Ask the tracker."""
        query = CampaignQuery(campaign_id=campaign_id, status=status)
        return await ask(self.bus, spec, query, timeout=30.0)

    async def summaries(self, campaign_id: str | None) -> list[dict[str, Any]]:
        """Tracker summaries of one or every campaign."""
        listing = await self.tracker(rpc.TRACKER_CAMPAIGNS, campaign_id)
        return [c.model_dump(mode="json") for c in listing.campaigns]

    async def wait_completed(self, spec: CampaignSpec, timeout_s: float, progress: ProgressFn | None = None,
                             poll_s: float = 1.0) -> CampaignEvent:
        """Wait for the campaign's completed (or stopped) event, reporting progress from the tracker."""
        finished: asyncio.Future[CampaignEvent] = asyncio.get_running_loop().create_future()

        async def on_msg(msg: Any) -> None:
            event = CampaignEvent.model_validate_json(msg.data)
            if event.kind in (CampaignEventKind.COMPLETED, CampaignEventKind.STOPPED) and not finished.done():
                finished.set_result(event)

        sub = await self.bus.js.subscribe(self.bus.subjects.event("campaign", spec.id), cb=on_msg,
                                          ordered_consumer=True,
                                       stream=self.bus.subjects.events_stream, deliver_policy=DeliverPolicy.ALL)
        deadline = time.monotonic() + timeout_s
        try:
            while not finished.done():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"campaign {spec.id} did not complete within {timeout_s:.0f}s")
                if progress is not None:
                    with contextlib.suppress(Exception):
                        s = (await self.summaries(spec.id))[0]
                        progress(s["n_measurements"] + s["n_failed"], spec.budget, s["best_value"])
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(finished), poll_s)
            return finished.result()
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def settled(self, campaign_id: str, timeout_s: float = 30.0) -> None:
        """Wait until the tracker has recorded the campaign's completion (so every earlier event too)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                summaries = await self.summaries(campaign_id)
                if summaries and summaries[0]["status"] in ("completed", "stopped"):
                    return
            await asyncio.sleep(0.3)

    async def records(self, campaign_id: str) -> dict[str, list[dict[str, Any]]]:
        """Every record of a campaign the tracker holds."""
        out: dict[str, list[dict[str, Any]]] = {}
        for spec in (rpc.TRACKER_PROPOSALS, rpc.TRACKER_WORK_ORDERS, rpc.TRACKER_MEASUREMENTS, rpc.TRACKER_REVIEWS,
                     rpc.TRACKER_MODELS):
            out[spec.name] = (await self.tracker(spec, campaign_id)).records
        return out

    async def summary(self, spec: CampaignSpec) -> dict[str, Any]:
        """The `campaign run` JSON summary, from the tracker's records."""
        await self.settled(spec.id)
        r = await self.records(spec.id)
        measurements = [Measurement.model_validate(m) for m in r["measurements"]]
        failed = sum(1 for w in r["work_orders"] if w["status"] == WorkOrderStatus.FAILED)
        return campaign_summary(spec, r["proposals"], r["work_orders"], measurements, failed, r["reviews"],
                                r["models"])
