"""What the predictor knows of one campaign: its accepted measurements, its model and what it announced."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from schemas import Measurement
from services.domain.acceptance import Gate
from services.predictor.prospective_calibration import ProspectiveCalibration

if TYPE_CHECKING:
    from services.predictor.deepmodel import DeepModel
    from services.predictor.over_time import OverTimeModel


@dataclass
class CampaignModel:
    """Training data (accepted measurements only) and the current model of one campaign."""

    measurements: dict[str, Measurement] = field(default_factory=dict)
    gate: Gate = field(default_factory=Gate)
    failed_runs: set[str] = field(default_factory=set)
    """Runs reported failed (their work order will bring no measurement)."""
    failed_at_model: int = 0
    """How many runs had failed when the current version was trained."""
    model: DeepModel | OverTimeModel | None = None
    """The campaign's model: steady state, or with the objective over time from the dynamic model."""
    version: int = 0
    trained_on: int = 0
    covered: int = 0
    """Accepted measurements the current version accounts for (its `ModelTrained.covers`)."""
    announced: int = -1
    """Accepted measurements the last ModelTrained or ModelDeclined spoke for (each count is announced once;
    -1 before any: a campaign seeded from a base model is answered even before its first measurement)."""
    first_untrained_at: float | None = None
    artifact: str | None = None
    trained_ids: set[str] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    excluded: dict[str, str] = field(default_factory=dict)
    """Measurement id -> why training cannot use it (dead-lettered once, with that reason)."""
    failure: str | None = None
    """Why the last training attempt failed (reported once per distinct reason)."""
    backoff_s: float = 0.0
    settled_at_failure: int = 0
    """`settled` when the last attempt failed: a retry waits out its backoff unless a batch's worth came since."""
    base: bytes | None = None
    """The campaign's base model (`CampaignSpec.base_model`), fetched once; every version fine-tunes it."""
    broker_retries: int = 0
    calibration: ProspectiveCalibration = field(default_factory=ProspectiveCalibration)
    """Earlier rounds' prospective z-scores: the factor on the published sd (saved next to each artifact)."""
    """Consecutive attempts a broker error (a restart, a lost leader) stopped; dead-lettered past the limit."""

    def training_data(self) -> list[Measurement]:
        """Accepted measurements training can use."""
        return [m for m in self.measurements.values() if m.id not in self.excluded]

    @property
    def covers(self) -> int:
        """Accepted measurements so far (a model trained now accounts for all of them)."""
        return len(self.measurements)

    @property
    def new(self) -> int:
        """Accepted measurements the current model does not account for."""
        return self.covers - self.covered

    @property
    def settled(self) -> int:
        """Runs settled since the current version: new measurements plus runs that failed since."""
        return self.new + len(self.failed_runs) - self.failed_at_model
