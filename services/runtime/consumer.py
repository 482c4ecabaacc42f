"""Durable pull consumers: parse, handle, ack after the work is durable; nak or dead-letter otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from schemas import MAX_MESSAGE_BYTES, FieldError, Message, describe_validation_error
from services.runtime.bus import Bus

log = logging.getLogger(__name__)


class InvalidMessage(FieldError):
    """The message is well-formed JSON but violates the contract (dead-lettered, never retried)."""


class TransientError(Exception):
    """A temporary failure (database busy, dependency down): nak and retry with backoff."""


class NotYetValid(TransientError, FieldError):
    """Invalid as things stand, but it may become valid (e.g. its run id's work order is still in flight).

    Retried with backoff; after the last delivery it is dead-lettered with this field and reason.
    """


@dataclass
class Envelope:
    """A received message with its parsed model."""

    msg: Msg
    model: Message
    deliveries: int

    @property
    def subject(self) -> str:
        return self.msg.subject

    @property
    def msg_id(self) -> str:
        """The message's own id (the body's `id`; publishers also send it as `Nats-Msg-Id`)."""
        return self.model.id


BatchHandler = Callable[[list[Envelope]], Awaitable[None]]
Parser = Callable[[Msg], Message]


@dataclass
class ConsumerSpec:
    """What one durable consumer reads and how."""

    service: str
    durable: str
    stream: str
    filter_subjects: Sequence[str]
    parse: Parser
    handler: BatchHandler
    batch: int = 256
    max_deliver: int = 5
    """Handler failures (deliveries) before a message is dead-lettered as poison. The server itself never
    gives up on a message (its max_deliver is unlimited): one that reached a limit there would vanish
    without a dead letter, as happens when consumers holding it keep dying before they ack."""
    crash_deliveries: int = 200
    """Deliveries without an ack (every consumer that held it died) before it is dead-lettered anyway."""
    ack_wait_s: float = 5.0
    """Short, so the messages a killed consumer held come back within seconds; a live handler that runs
    longer keeps its batch from redelivery by telling the server it is still working (`keep_alive_s`)."""
    fetch_timeout_s: float = 1.0
    backoff_s: Sequence[float] = (0.2, 1.0, 3.0, 10.0)
    max_ack_pending: int = 20_000
    deliver_all: bool = True
    max_bytes: int = MAX_MESSAGE_BYTES
    dead_letter: bool = True
    """False for consumers of the dead-letter stream itself: a bad dead letter is logged and dropped, never looped."""
    stats: dict[str, int] = field(default_factory=lambda: {"handled": 0, "dead_lettered": 0, "nak": 0})


class PullConsumer:
    """Runs one durable pull consumer until stopped."""

    def __init__(self, bus: Bus, spec: ConsumerSpec) -> None:
        self.bus = bus
        self.spec = spec
        self._stopping = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._done = asyncio.Event()
        self._sub: Any = None

    async def ensure(self) -> None:
        """Create or update the durable consumer (idempotent)."""
        spec = self.spec
        config = ConsumerConfig(
            name=spec.durable, durable_name=spec.durable, ack_policy=AckPolicy.EXPLICIT, max_deliver=-1,
            ack_wait=spec.ack_wait_s, max_ack_pending=spec.max_ack_pending,
            deliver_policy=DeliverPolicy.ALL if spec.deliver_all else DeliverPolicy.NEW,
        )
        if len(spec.filter_subjects) == 1:
            config.filter_subject = spec.filter_subjects[0]
        else:
            config.filter_subjects = list(spec.filter_subjects)
        try:
            current = await self.bus.js.consumer_info(spec.stream, spec.durable)
        except NotFoundError:
            await self.bus.js.add_consumer(spec.stream, config)
        else:
            # made by an older version: never drop messages, and hand a dead consumer's messages back as soon
            stale = current.config.max_deliver not in (-1, None) or current.config.ack_wait != spec.ack_wait_s
            if stale:
                try:
                    await self.bus.js.add_consumer(spec.stream, config)
                except Exception as exc:
                    log.warning("%s: could not update max_deliver / ack_wait: %r", spec.durable, exc)
        self._sub = await self.bus.js.pull_subscribe_bind(spec.durable, stream=spec.stream)

    async def run(self) -> None:
        """Fetch, handle and ack until `stop()`; the next batch is fetched while this one is handled."""
        if self._sub is None:
            await self.ensure()
        pending: asyncio.Task[list[Msg]] | None = None
        while True:
            if pending is None:
                pending = asyncio.create_task(self._fetch())
            msgs = await pending  # a fetch in flight at stop time is still handled: nothing is left unacked
            pending = None if self._stopping.is_set() else asyncio.create_task(self._fetch())
            if msgs:
                self._idle.clear()
                try:
                    await self._process(msgs)
                finally:
                    self._idle.set()
            if pending is None:
                self._done.set()
                return

    async def _fetch(self) -> list[Msg]:
        try:
            msgs: list[Msg] = await self._sub.fetch(self.spec.batch, timeout=self.spec.fetch_timeout_s)
            return msgs
        except (NatsTimeoutError, TimeoutError):
            return []
        except Exception as exc:  # connection hiccup: the client reconnects; back off briefly
            if not self._stopping.is_set():
                log.warning("%s: fetch failed: %r", self.spec.durable, exc)
                await asyncio.sleep(0.5)
            return []

    async def stop(self, grace_s: float) -> None:
        """Stop fetching; wait up to `grace_s` for the batch in hand (and the fetch in flight), then unsubscribe."""
        self._stopping.set()
        try:
            await asyncio.wait_for(self._done.wait(), timeout=grace_s + self.spec.fetch_timeout_s)
        except TimeoutError:
            log.warning("%s: batch still running after %.1fs grace", self.spec.durable, grace_s)
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()

    async def _process(self, msgs: list[Msg]) -> None:
        good: list[Envelope] = []
        for msg in msgs:
            envelope = await self._parse_or_dead_letter(msg)
            if envelope is not None:
                good.append(envelope)
        if not good:
            return
        try:
            await self._handle(good)
        except Exception as exc:
            if len(good) > 1 or isinstance(exc, InvalidMessage):
                # isolate the culprit so its neighbours are not retried or dead-lettered with it
                await self._one_by_one(good)
            else:
                await self._retry_later(good, exc)
            return
        for envelope in good:  # each ack only queues a publish: no need for a task per message
            await envelope.msg.ack()
        self.spec.stats["handled"] += len(good)

    async def _one_by_one(self, envelopes: list[Envelope]) -> None:
        """A batch held an invalid message: handle each alone so only the bad one is dead-lettered."""
        for envelope in envelopes:
            try:
                await self._handle([envelope])
            except InvalidMessage as exc:
                await self._dead_letter(envelope.msg, exc.reason, exc.field, repr(exc), envelope.deliveries)
                continue
            except Exception as exc:
                await self._retry_later([envelope], exc)
                continue
            await envelope.msg.ack()
            self.spec.stats["handled"] += 1

    async def _handle(self, envelopes: list[Envelope]) -> None:
        """Run the handler; while it runs, tell the server every third of ack_wait that the batch is in progress."""
        every = self.spec.ack_wait_s / 3
        beat = asyncio.create_task(keep_alive(envelopes, every, first_after_s=every))
        try:
            await self.spec.handler(envelopes)
        finally:
            beat.cancel()

    async def _parse_or_dead_letter(self, msg: Msg) -> Envelope | None:
        deliveries = _deliveries(msg)
        if len(msg.data) > self.spec.max_bytes:
            reason = f"message of {len(msg.data)} bytes exceeds the {self.spec.max_bytes} byte limit"
            await self._dead_letter(msg, reason, "(message)", "", deliveries)
            return None
        try:
            model = self.spec.parse(msg)
        except ValidationError as exc:
            field_name, reason = describe_validation_error(exc)
            await self._dead_letter(msg, reason, field_name, str(exc)[:2000], deliveries)
            return None
        except InvalidMessage as exc:
            await self._dead_letter(msg, exc.reason, exc.field, "", deliveries)
            return None
        except (KeyError, ValueError) as exc:
            await self._dead_letter(msg, f"cannot parse message on {msg.subject}: {exc}", "(message)", repr(exc),
                                    deliveries)
            return None
        if deliveries > self.spec.crash_deliveries:
            await self._dead_letter(msg, f"delivered {deliveries} times and never acked (its consumers died "
                                    "holding it)", "(message)", "", deliveries)
            return None
        return Envelope(msg=msg, model=model, deliveries=deliveries)

    async def _retry_later(self, envelopes: list[Envelope], exc: Exception) -> None:
        for envelope in envelopes:
            if envelope.deliveries >= self.spec.max_deliver:
                if isinstance(exc, NotYetValid):
                    await self._dead_letter(envelope.msg, f"{exc.reason} (after {envelope.deliveries} deliveries)",
                                            exc.field, repr(exc)[:2000], envelope.deliveries)
                    continue
                await self._dead_letter(
                    envelope.msg, f"handler failed {envelope.deliveries} times (poison message): {str(exc)[:500]}",
                    "(message)", repr(exc)[:2000], envelope.deliveries,
                )
                continue
            backoff = self.spec.backoff_s[min(envelope.deliveries - 1, len(self.spec.backoff_s) - 1)]
            self.spec.stats["nak"] += 1
            await envelope.msg.nak(delay=backoff)
        log.warning("%s: %d message(s) will be retried: %s", self.spec.durable, len(envelopes), str(exc)[:300])

    async def _dead_letter(self, msg: Msg, reason: str, field_name: str, error: str, deliveries: int) -> None:
        """Dead-letter then ack: the original is kept in the DLQ stream, the consumer moves on."""
        log.warning("%s: dead letter (%s: %s)", self.spec.durable, field_name, reason)
        if self.spec.dead_letter:
            await self.bus.dead_letter(self.spec.service, msg, reason, field_name, error, deliveries)
        await msg.ack()
        self.spec.stats["dead_lettered"] += 1


async def keep_alive(envelopes: list[Envelope], every_s: float, first_after_s: float = 0.0) -> None:
    """Tell the server, after `first_after_s` and then every `every_s`, that these messages are still in hand."""
    await asyncio.sleep(first_after_s)
    while True:
        await asyncio.gather(*(e.msg.in_progress() for e in envelopes), return_exceptions=True)
        await asyncio.sleep(every_s)


def _deliveries(msg: Msg) -> int:
    try:
        return int(msg.metadata.num_delivered)
    except Exception:
        return 1


def subject_parser(bus: Bus) -> Parser:
    """Parse by subject (the channel table, docs/design.md) and check the subject's campaign id matches the body's."""

    def parse(msg: Msg) -> Message:
        model_type = bus.subjects.model_for_subject(msg.subject)
        model = model_type.model_validate_json(msg.data)
        subject_campaign = bus.subjects.parse(msg.subject).campaign_id
        campaign_id = getattr(model, "campaign_id", None)
        if subject_campaign is not None and campaign_id is not None and subject_campaign != campaign_id:
            raise InvalidMessage("campaign_id", f"'{campaign_id}' does not match subject campaign '{subject_campaign}'")
        return model

    return parse
