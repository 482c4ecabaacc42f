"""Training claims: before training version v of a campaign a replica claims `<cid>.v<v>` in a key-value bucket.

The create fails when another replica holds the claim, so each version is trained once; the holder renews it
while it trains, and a killed trainer's claim lapses `CLAIM_TTL_S` later, so another replica can take over.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from typing import Any

from nats.js.errors import BucketNotFoundError, KeyWrongLastSequenceError, NotFoundError

from services.runtime.bus import Bus

log = logging.getLogger(__name__)

CLAIM_TTL_S = 6.0
"""A training claim lapses this long after its holder last renewed it (a killed trainer's version is free soon)."""
CLAIM_RENEW_S = 1.5
"""How often a trainer renews its claim while it trains."""


class TrainingClaims:
    """One replica's view of the claims bucket (`open` it before use)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.bucket: Any = None

    async def open(self) -> None:
        """Open (or create) the namespace's claims bucket."""
        self.bucket = await _bucket(self.bus, f"{self.bus.subjects.ns}-predictor-claims")

    def _value(self) -> bytes:
        client_id = self.bus.nc.client_id
        return client_id.to_bytes(8, "little") if isinstance(client_id, int) else b"1"

    async def claim(self, key: str) -> bool:
        """Take the claim; False when another replica holds it."""
        try:
            await self.bucket.create(key, self._value())
        except KeyWrongLastSequenceError:
            return False
        return True

    async def renew(self, key: str) -> None:
        """Keep a claim alive while its version trains (cancel the task when done)."""
        while True:
            await asyncio.sleep(CLAIM_RENEW_S)
            try:
                await self.bucket.put(key, self._value())
            except Exception as exc:  # a broker hiccup: the next renewal tries again
                log.warning("%s: could not renew the training claim: %r", key, exc)

    async def release(self, key: str) -> None:
        """Give a claim up (a failed training: another attempt may claim the version)."""
        with contextlib.suppress(Exception):
            await self.bucket.delete(key)


async def _bucket(bus: Bus, name: str) -> Any:
    """The claims bucket (created on first use; one made with a longer TTL by an older version is shortened)."""
    try:
        bucket = await bus.js.key_value(name)
    except (BucketNotFoundError, NotFoundError):
        # a claim outlives its trainer by CLAIM_TTL_S: a killed trainer's version is claimable again soon
        return await bus.js.create_key_value(bucket=name, history=1, ttl=CLAIM_TTL_S)
    stream = f"KV_{name}"
    info = await bus.js.stream_info(stream)
    if info.config.max_age != CLAIM_TTL_S:
        with contextlib.suppress(Exception):  # a user that may not edit streams keeps the old TTL
            await bus.js.update_stream(dataclasses.replace(info.config, max_age=CLAIM_TTL_S))
    return bucket
