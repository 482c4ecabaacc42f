"""Errors as one clear line, field and reason: the base class of such errors, and pydantic's in that form."""

from __future__ import annotations

from pydantic import ValidationError


class FieldError(Exception):
    """An error about one field: `str()` is ``"<field>: <reason>"``; both parts are kept for replies and
    dead letters. Subclasses only name the situation (and may add ValueError as a second base)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def describe_validation_error(exc: ValidationError) -> tuple[str, str]:
    """Return (field, reason) for the first error of a pydantic ValidationError."""
    err = exc.errors(include_url=False)[0]
    field = ".".join(str(p) for p in err.get("loc", ())) or "(message)"
    reason = str(err.get("msg", "invalid"))
    if reason.startswith("Value error, "):
        reason = reason[len("Value error, "):]
    return field, reason
