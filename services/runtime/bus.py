"""The bus: one NATS connection, idempotent streams, typed publish and dead letters."""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, PubAck, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from schemas import DeadLetter, Message, new_id
from services.runtime.subjects import KIND_OF_MODEL, Subjects

log = logging.getLogger(__name__)

MSG_ID = "Nats-Msg-Id"
SCHEMA = "Fluxlab-Schema"
DUPLICATE_WINDOW_S = 2 * 60 * 60.0


_COMPARED = ("subjects", "retention", "storage", "num_replicas", "duplicate_window", "max_msg_size", "discard")


def _differs(current: StreamConfig, wanted: StreamConfig) -> bool:
    """Whether a stream needs updating (lab users may read stream info but not update streams)."""
    return any(getattr(current, key) != getattr(wanted, key) for key in _COMPARED)


class Bus:
    """A connected bus for one namespace."""

    def __init__(self, nc: Client, subjects: Subjects, replicas: int = 1) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.subjects = subjects
        self.replicas = replicas

    @classmethod
    async def connect(
        cls,
        url: str,
        namespace: str = "fluxlab",
        name: str = "fluxlab",
        *,
        user: str | None = None,
        password: str | None = None,
        creds: str | None = None,
        replicas: int = 1,
        ensure: bool = True,
    ) -> Bus:
        """Connect with reconnect settings and (by default) create/update the streams."""

        async def on_error(exc: Exception) -> None:
            log.warning("nats error: %s", exc)

        options: dict[str, Any] = {
            "servers": url.split(","),
            "name": name,
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": 0.5,
            "connect_timeout": 5,
            "error_cb": on_error,
            "drain_timeout": 10,
            "pending_size": 64 * 1024 * 1024,
        }
        if user:
            options["user"], options["password"] = user, password
        if creds:
            options["user_credentials"] = creds
        nc = await nats.connect(**options)
        bus = cls(nc, Subjects(namespace), replicas=replicas)
        if ensure:
            await bus.ensure_streams()
        return bus

    def stream_configs(self) -> list[StreamConfig]:
        """The three streams of docs/design.md (from the channel table, schemas/channels.py)."""
        s = self.subjects
        return [
            StreamConfig(
                name=s.events_stream, subjects=[s.all_events], storage=StorageType.FILE,
                retention=RetentionPolicy.LIMITS, duplicate_window=DUPLICATE_WINDOW_S,
                num_replicas=self.replicas, max_msg_size=1024 * 1024,
            ),
            StreamConfig(
                name=s.work_stream, subjects=[s.all_work], storage=StorageType.FILE,
                retention=RetentionPolicy.WORK_QUEUE, duplicate_window=DUPLICATE_WINDOW_S,
                num_replicas=self.replicas, discard=DiscardPolicy.NEW,
            ),
            StreamConfig(
                name=s.dlq_stream, subjects=[s.all_dlq], storage=StorageType.FILE,
                retention=RetentionPolicy.LIMITS, duplicate_window=DUPLICATE_WINDOW_S,
                num_replicas=self.replicas, max_msg_size=4 * 1024 * 1024,
            ),
        ]

    async def ensure_streams(self) -> None:
        """Create the streams, or update them in place; safe to call from every process."""
        for config in self.stream_configs():
            assert config.name is not None
            try:
                current = (await self.js.stream_info(config.name)).config
            except NotFoundError:
                try:
                    await self.js.add_stream(config)
                    continue
                except BadRequestError:
                    current = (await self.js.stream_info(config.name)).config  # created concurrently
            if _differs(current, config):
                await self.js.update_stream(config)

    async def publish(self, subject: str, message: Message, timeout: float = 10.0) -> PubAck:
        """Publish one model with `Nats-Msg-Id` and `Fluxlab-Schema`, awaiting the JetStream ack."""
        headers = {MSG_ID: message.id, SCHEMA: type(message).SCHEMA}
        return await self.js.publish(subject, message.to_bytes(), headers=headers, timeout=timeout)

    async def publish_event(self, message: Message) -> PubAck:
        """Publish an event on `<ns>.evt.<kind>.<campaign_id>`."""
        kind = KIND_OF_MODEL[type(message)]
        return await self.publish(self.subjects.event(kind, message.campaign_id), message)  # type: ignore[attr-defined]

    async def publish_many(self, items: Sequence[tuple[str, Message]]) -> list[PubAck]:
        """Publish many messages pipelined (async publish), then await every ack."""
        futures = []
        for subject, message in items:
            headers = {MSG_ID: message.id, SCHEMA: type(message).SCHEMA}
            futures.append(await self.js.publish_async(subject, message.to_bytes(), headers=headers))
        return [await f for f in futures]

    async def dead_letter(
        self, service: str, msg: Msg, reason: str, field: str = "", error: str = "", deliveries: int = 1
    ) -> None:
        """Publish the original message to `<ns>.dlq.<service>` with the reason (deduplicated)."""
        headers = dict(msg.headers or {})
        original_id = headers.get(MSG_ID)
        letter = DeadLetter(
            id=f"dlq-{service}-{original_id}" if original_id else new_id(),
            service=service, subject=msg.subject[:512], data_b64=base64.b64encode(msg.data).decode(),
            headers={str(k)[:200]: str(v)[:2000] for k, v in list(headers.items())[:50]},
            field=field[:500], reason=reason[:4000], error=error[:8000], deliveries=max(deliveries, 1),
            original_msg_id=original_id[:256] if original_id else None,
        )
        await self.publish(self.subjects.dlq(service), letter)

    async def request(self, subject: str, payload: bytes, timeout: float = 10.0) -> bytes:
        """Core NATS request/reply."""
        reply = await self.nc.request(subject, payload, timeout=timeout)
        return reply.data

    async def close(self) -> None:
        """Drain and close the connection."""
        if not self.nc.is_closed:
            try:
                await self.nc.drain()
            except Exception:  # pragma: no cover - connection already gone
                await self.nc.close()

