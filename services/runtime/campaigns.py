"""An event-sourced view of campaigns (spec and lifecycle state), rebuilt from the events stream at start."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nats.js.api import DeliverPolicy

from schemas import CampaignEvent, CampaignEventKind, CampaignSpec
from services.runtime.bus import Bus

log = logging.getLogger(__name__)

Listener = Callable[[CampaignEvent], Awaitable[None]]


@dataclass
class CampaignState:
    """What every service needs to know about a campaign."""

    spec: CampaignSpec
    status: CampaignEventKind

    @property
    def active(self) -> bool:
        """Started or resumed, not paused, stopped or completed."""
        return self.status in (CampaignEventKind.STARTED, CampaignEventKind.RESUMED)


class CampaignDirectory:
    """Replays `<ns>.evt.campaign.>` from the beginning (ordered consumer), then follows new events."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.campaigns: dict[str, CampaignState] = {}
        self.listeners: list[Listener] = []
        self._caught_up = asyncio.Event()
        self._busy = False
        self._sub: object = None

    async def start(self, timeout_s: float = 10.0) -> None:
        """Subscribe and wait until every stored campaign event has been replayed."""
        js = self.bus.js
        self._sub = await js.subscribe(self.bus.subjects.events("campaign"), cb=self._on_msg,
                                       ordered_consumer=True,
                                       stream=self.bus.subjects.events_stream, deliver_policy=DeliverPolicy.ALL)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            info = await self._sub.consumer_info()  # type: ignore[attr-defined]
            if info.num_pending == 0 and self._sub.pending_msgs == 0 and not self._busy:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.02)
        self._caught_up.set()

    async def _on_msg(self, msg: object) -> None:
        self._busy = True
        try:
            await self._handle(msg)
        finally:
            self._busy = False

    async def _handle(self, msg: object) -> None:
        try:
            event = CampaignEvent.model_validate_json(msg.data)  # type: ignore[attr-defined]
        except Exception as exc:  # invalid campaign events are dead-lettered by the tracker; skip here
            log.warning("ignoring invalid campaign event: %s", exc)
            event = None
        if event is not None:
            self.apply(event)
            for listener in self.listeners:
                try:
                    await listener(event)
                except Exception:
                    log.exception("campaign listener failed")

    def apply(self, event: CampaignEvent) -> None:
        """Fold one event into the view."""
        state = self.campaigns.get(event.campaign_id)
        if event.kind == CampaignEventKind.CREATED and event.spec is not None:
            if state is None:
                self.campaigns[event.campaign_id] = CampaignState(event.spec, CampaignEventKind.CREATED)
            return
        if state is not None:
            state.status = event.kind

    def get(self, campaign_id: str) -> CampaignState | None:
        """The campaign's state, if known."""
        return self.campaigns.get(campaign_id)

    async def wait_for(self, campaign_id: str, timeout_s: float = 10.0) -> CampaignState | None:
        """Wait briefly for a campaign's 'created' event to arrive (events may race)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while campaign_id not in self.campaigns and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        return self.campaigns.get(campaign_id)

    async def stop(self) -> None:
        """Unsubscribe."""
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()  # type: ignore[attr-defined]
