"""Work orders sent to the robot or bench queues, and failed runs."""

from __future__ import annotations

from pydantic import Field

from schemas.base import Identifier, Message, UtcDatetime, utcnow
from schemas.campaign import ExecutorKind
from schemas.design import Design
from schemas.timecourse import TimeCourseRequest


class WorkOrder(Message):
    """An approved design to build and measure (one run).

    v2 adds `time_course` (optional, so every v1 order is a valid v2 one).
    v3 adds `time_course.tracked` (optional, so every v2 order is a valid v3 one).
    """

    SCHEMA = "work_order.v3"

    campaign_id: Identifier
    run_id: Identifier = Field(description="Run id the executor must quote in its Measurement.")
    proposal_id: str = Field(min_length=1, max_length=128)
    design: Design
    queue: ExecutorKind
    station: Identifier | None = Field(default=None, description="Robot station; None for the bench.")
    organism: str = Field(default="textbook", max_length=1024, description="Strain background / model.")
    readouts: list[Identifier] = Field(default_factory=list, max_length=500, description="What to measure.")
    function: str | None = Field(
        default=None, max_length=2000, description="Black-box assay expression (function campaigns only)."
    )
    profile: str = Field(default="default", max_length=200, description="Simulator cell profile (tests/demos).")
    noise: float = Field(default=0.05, ge=0, le=1, allow_inf_nan=False)
    failure_rate: float = Field(default=0.0, ge=0, le=1, allow_inf_nan=False)
    time_course: TimeCourseRequest | None = Field(
        default=None, description="Also grow the design in batch culture and sample it (the campaign's "
        "readout.time_course); None: end points only.",
    )
    issued_at: UtcDatetime = Field(default_factory=utcnow)


class RunFailed(Message):
    """An executor could not complete a run."""

    SCHEMA = "run_failed.v1"

    campaign_id: Identifier
    run_id: Identifier
    reason: str = Field(min_length=1, max_length=4000)
    station: Identifier | None = None
    failed_at: UtcDatetime = Field(default_factory=utcnow)
