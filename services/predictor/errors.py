"""The one error type of the predictor core: a field and a reason."""

from __future__ import annotations


class PredictorError(ValueError):
    """Bad input to the predictor, naming the offending field (e.g. `designs[3].knockouts[0]`)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
