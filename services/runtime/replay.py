"""Rebuild in-memory state from the events stream (the system of record) when a service starts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from nats.js.api import DeliverPolicy

from schemas import Message
from services.runtime.bus import Bus

log = logging.getLogger(__name__)


async def replay(bus: Bus, subject: str, apply: Callable[[str, Message], None], timeout_s: float = 60.0) -> int:
    """Feed every stored event on `subject` (a filter within the events stream) to `apply(subject, model)`.

    Invalid events are skipped here (the tracker dead-letters them). Returns the number applied.
    """
    info = await bus.js.stream_info(bus.subjects.events_stream)
    last_seq = info.state.last_seq
    if info.state.messages == 0:
        return 0
    done = asyncio.Event()
    applied = 0

    async def on_msg(msg: Any) -> None:
        nonlocal applied
        try:
            model = bus.subjects.model_for_subject(msg.subject).model_validate_json(msg.data)
        except Exception as exc:
            log.debug("replay: skipping invalid event on %s: %s", msg.subject, exc)
        else:
            apply(msg.subject, model)
            applied += 1
        if msg.metadata.sequence.stream >= last_seq:
            done.set()

    sub = await bus.js.subscribe(subject, cb=on_msg, ordered_consumer=True,
                                 stream=bus.subjects.events_stream, deliver_policy=DeliverPolicy.ALL)
    try:
        # the filter may match nothing near the stream's end: stop once pending reaches zero
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not done.is_set() and asyncio.get_running_loop().time() < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), 0.2)
            if not done.is_set():
                consumer = await sub.consumer_info()
                if consumer.num_pending == 0 and sub.pending_msgs == 0:
                    break
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return applied
