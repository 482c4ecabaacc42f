"""Common base for every wire model: strict, finite, versioned, UTC."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_MESSAGE_BYTES = 256 * 1024
"""Largest accepted message body; larger messages are dead-lettered."""

MAX_ITEMS = 5000
"""Largest number of entries in any list or mapping on the wire."""


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone (UTC)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_require_utc)]
"""A timezone-aware timestamp, normalised to UTC."""


FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
"""A float that is neither NaN nor infinite (checked natively by pydantic-core)."""
NonNegFloat = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-\[\]()]+$")]
"""A gene, reaction, metabolite, campaign or run identifier."""


def utcnow() -> datetime:
    """Current time as an aware UTC datetime."""
    return datetime.now(UTC)


def new_id() -> str:
    """A fresh message/entity id (hex uuid4)."""
    return uuid.uuid4().hex


class WireModel(BaseModel):
    """Base of every message: unknown fields forbidden, NaN/inf rejected."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=False, populate_by_name=True)

    SCHEMA: ClassVar[str] = ""
    """Versioned schema name carried in the `Fluxlab-Schema` header, e.g. `measurement.v2`."""


class Message(WireModel):
    """A top-level message published on a subject; `id` doubles as `Nats-Msg-Id`."""

    id: str = Field(default_factory=new_id, min_length=1, max_length=128, description="Message id (dedup key).")

    def to_bytes(self) -> bytes:
        """Serialise to compact JSON bytes."""
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Any:
        """Parse and validate JSON bytes (raises pydantic.ValidationError)."""
        return cls.model_validate_json(data)
