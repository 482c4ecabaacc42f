"""Time-course readouts: growth curves and extracellular concentrations sampled over time."""

from __future__ import annotations

from enum import StrEnum
from itertools import pairwise

from pydantic import Field, field_validator, model_validator

from schemas.base import FiniteFloat, Identifier, NonNegFloat, WireModel

MAX_TIME_POINTS = 2000
"""Largest number of points in one time course."""


class TimeCourseUnit(StrEnum):
    """Unit of a time course: biomass as OD, gDW/L or ln OD; concentrations in mM."""

    OD = "od"
    GDW_PER_L = "gDW/L"
    LN_OD = "ln_od"
    MM = "mM"


BIOMASS_UNITS = frozenset({TimeCourseUnit.OD, TimeCourseUnit.GDW_PER_L, TimeCourseUnit.LN_OD})


class TimePoint(WireModel):
    """One sample: time (h), value (unit of its course), optional replicate sd and per-point QC."""

    time_h: NonNegFloat
    value: FiniteFloat
    sd: NonNegFloat | None = None
    qc_flags: list[str] = Field(default_factory=list, max_length=10)


class TimeCourse(WireModel):
    """A readout sampled over time; times strictly increase."""

    unit: TimeCourseUnit
    points: list[TimePoint] = Field(min_length=1, max_length=MAX_TIME_POINTS)
    position_mm: FiniteFloat | None = Field(
        default=None, description="Position (mm from the inoculum centre) for a spatial profile; None when mixed."
    )

    @model_validator(mode="after")
    def _times_increase(self) -> TimeCourse:
        times = [p.time_h for p in self.points]
        for i, (a, b) in enumerate(pairwise(times), start=1):
            if b <= a:
                raise ValueError(f"points[{i}].time_h {b} must be greater than the previous {a}")
        if self.unit in (TimeCourseUnit.OD, TimeCourseUnit.GDW_PER_L, TimeCourseUnit.MM):
            for i, p in enumerate(self.points):
                if p.value < 0:
                    raise ValueError(f"points[{i}].value {p.value} must be >= 0 in unit {self.unit.value}")
        return self

    @property
    def times(self) -> list[float]:
        """Sample times (h)."""
        return [p.time_h for p in self.points]

    @property
    def values(self) -> list[float]:
        """Sampled values."""
        return [p.value for p in self.points]


TimeCourses = dict[Identifier, TimeCourse]
"""Readout name ('ln_od', 'od', 'biomass' or an extracellular metabolite id such as 'ac_e') -> course."""

InitialConcentrations = dict[Identifier, NonNegFloat]
"""Extracellular metabolite id -> initial concentration in the medium (mM)."""


class TimeCourseRequest(WireModel):
    """A batch culture to run and sample: the initial medium (mM), the sampling times (h) and extra metabolites
    to follow (`tracked`, added with campaign_spec.v3 / work_order.v3; optional)."""

    times_h: list[NonNegFloat] = Field(
        min_length=1, max_length=MAX_TIME_POINTS,
        description="Sampling times (h from inoculation), strictly increasing.",
    )
    initial_mM: InitialConcentrations = Field(
        min_length=1, max_length=500,
        description="Extracellular metabolite id (e.g. 'glc__D_e') -> concentration at t = 0 (mM).",
    )
    tracked: list[Identifier] = Field(
        default_factory=list, max_length=100,
        description="Extracellular metabolites to follow besides the medium's (and acetate), e.g. a product: "
        "0 mM at t = 0 unless in initial_mM. Empty (the default): the medium's and acetate only.",
    )

    @field_validator("times_h")
    @classmethod
    def _times_increase(cls, times: list[float]) -> list[float]:
        for i, (a, b) in enumerate(pairwise(times), start=1):
            if b <= a:
                raise ValueError(f"times_h[{i}] = {b} h must be greater than the previous {a} h (sorted, no repeats)")
        return times
