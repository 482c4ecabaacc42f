"""What a running stack looks like from outside: services answering `$SRV.PING`, streams, consumers, campaigns."""

from __future__ import annotations

import json
import time
from typing import Any

from schemas.queries import CampaignQuery
from schemas.rpc import TRACKER_CAMPAIGNS
from services.runtime.bus import Bus
from services.runtime.rpc import ask
from services.runtime.settings import Settings


async def connect(settings: Settings, name: str, ensure: bool = False) -> Bus:
    """A bus with the settings' credentials (a secure stack's `cli` user); `ensure` creates/updates the streams."""
    return await Bus.connect(settings.resolved_nats_url(), settings.namespace, name=name, ensure=ensure,
                             user=settings.nats_user, password=settings.nats_password,
                             creds=str(settings.nats_creds) if settings.nats_creds else None)


async def ping_services(bus: Bus, wait_s: float = 0.5) -> list[dict[str, Any]]:
    inbox = bus.nc.new_inbox()
    replies: list[dict[str, Any]] = []
    sub = await bus.nc.subscribe(inbox)
    await bus.nc.publish("$SRV.PING", b"", reply=inbox)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            msg = await sub.next_msg(timeout=max(deadline - time.monotonic(), 0.01))
        except Exception:
            break
        try:
            info = json.loads(msg.data)
        except ValueError:
            continue  # a status message (e.g. no responders), not a service's answer
        if (info.get("metadata") or {}).get("namespace") == bus.subjects.ns:
            replies.append({"name": info["name"], "id": info["id"], "version": info["version"]})
    await sub.unsubscribe()
    return sorted(replies, key=lambda r: r["name"])


async def collect_status(settings: Settings) -> dict[str, Any]:
    """Services answering $SRV.PING, stream and consumer lag, campaigns."""
    bus = await connect(settings, "fluxlab-status")
    try:
        services = await ping_services(bus)
        streams: list[dict[str, Any]] = []
        consumers: list[dict[str, Any]] = []
        s = bus.subjects
        for stream in (s.events_stream, s.work_stream, s.dlq_stream):
            try:
                info = await bus.js.stream_info(stream)
                consumer_infos = await bus.js.consumers_info(stream)
            except Exception:
                continue
            streams.append({"stream": stream, "messages": info.state.messages, "bytes": info.state.bytes})
            for c in consumer_infos:
                consumers.append({"stream": stream, "consumer": c.name, "durable": bool(c.config.durable_name),
                                  "pending": c.num_pending,
                                  "ack_pending": c.num_ack_pending, "redelivered": c.num_redelivered})
        campaigns: list[dict[str, Any]] = []
        try:
            listing = await ask(bus, TRACKER_CAMPAIGNS, CampaignQuery(), 3.0)
            campaigns = [c.model_dump(mode="json") for c in listing.campaigns]
        except Exception:
            pass
        return {"nats_url": bus.nc.connected_url.geturl() if bus.nc.connected_url else "",
                "namespace": s.ns, "services": services, "streams": streams, "consumers": consumers,
                "campaigns": campaigns}
    finally:
        await bus.close()




async def answering_services(settings: Settings) -> set[str]:
    """Names of this namespace's services answering `$SRV.PING` (nothing else is asked)."""
    bus = await connect(settings, "fluxlab-ready")
    try:
        return {s["name"] for s in await ping_services(bus)}
    finally:
        await bus.close()
