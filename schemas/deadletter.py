"""Dead letters: messages a consumer could not accept."""

from __future__ import annotations

from pydantic import Field

from schemas.base import Message, UtcDatetime, utcnow


class DeadLetter(Message):
    """An input message rejected by a consumer, kept verbatim with the reason."""

    SCHEMA = "dead_letter.v1"

    service: str = Field(max_length=64)
    subject: str = Field(max_length=512)
    data_b64: str = Field(description="The original message body, base64-encoded.")
    headers: dict[str, str] = Field(default_factory=dict)
    field: str = Field(default="", max_length=500, description="The offending field, when known.")
    reason: str = Field(max_length=4000)
    error: str = Field(default="", max_length=8000, description="Exception type and message.")
    deliveries: int = Field(default=1, ge=1)
    original_msg_id: str | None = Field(default=None, max_length=256)
    received_at: UtcDatetime = Field(default_factory=utcnow)
