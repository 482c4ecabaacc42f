"""Turn validation errors into one clear line: field and reason."""

from __future__ import annotations

from pydantic import ValidationError


def describe_validation_error(exc: ValidationError) -> tuple[str, str]:
    """Return (field, reason) for the first error of a pydantic ValidationError."""
    err = exc.errors(include_url=False)[0]
    field = ".".join(str(p) for p in err.get("loc", ())) or "(message)"
    reason = str(err.get("msg", "invalid"))
    if reason.startswith("Value error, "):
        reason = reason[len("Value error, "):]
    return field, reason
