"""The one error type of the predictor core: a field and a reason."""

from __future__ import annotations

from schemas import FieldError


class PredictorError(FieldError, ValueError):
    """Bad input to the predictor, naming the offending field (e.g. `designs[3].knockouts[0]`)."""
