"""Measurements coming back from the lab (or the simulator)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.base import FiniteFloat, Identifier, Message, NonNegFloat, UtcDatetime, WireModel, utcnow
from schemas.design import Design
from schemas.timecourse import InitialConcentrations, TimeCourses


class Value(WireModel):
    """A measured value with its standard deviation (units of the quantity)."""

    value: FiniteFloat
    sd: NonNegFloat = 0.0


class MeasurementSource(StrEnum):
    """Where a measurement came from."""

    ROBOT = "robot"
    BENCH = "bench"
    IMPORT = "import"


class Measurement(Message):
    """The outcome of one run: fluxes, growth, products, omics, time courses and QC.

    v2 adds `time_courses` and `initial_concentrations` (both optional, so every v1 payload is a valid v2 one).
    """

    SCHEMA = "measurement.v2"

    campaign_id: Identifier
    run_id: Identifier
    design: Design
    fluxes: dict[Identifier, Value] = Field(
        default_factory=dict, max_length=5000, description="Reaction id -> net flux (mmol/gDW/h), e.g. 13C-MFA."
    )
    growth_rate: Value | None = Field(default=None, description="Specific growth rate (1/h).")
    products: dict[Identifier, Value] = Field(
        default_factory=dict, max_length=500, description="Exchange id -> secretion rate (mmol/gDW/h)."
    )
    titers: dict[Identifier, Value] = Field(default_factory=dict, max_length=500, description="Product -> titer (g/L).")
    values: dict[Identifier, Value] = Field(
        default_factory=dict, max_length=500, description="Black-box readouts (units of the assay)."
    )
    omics: dict[Identifier, dict[Identifier, FiniteFloat]] = Field(
        default_factory=dict, max_length=8,
        description="Block ('transcriptomics' log2 ratio, 'proteomics', 'metabolomics' mM) -> feature -> value.",
    )
    time_courses: TimeCourses = Field(
        default_factory=dict, max_length=100,
        description="Readout ('ln_od', 'od', 'biomass', metabolite id e.g. 'ac_e') -> values over time (h).",
    )
    initial_concentrations: InitialConcentrations = Field(
        default_factory=dict, max_length=500, description="Extracellular metabolite id -> initial mM in the culture."
    )
    qc_flags: list[str] = Field(default_factory=list, max_length=50)
    batch_id: str = Field(default="", max_length=128)
    plate_id: str = Field(default="", max_length=128)
    well: str = Field(default="", max_length=16)
    station: Identifier | None = None
    source: MeasurementSource = MeasurementSource.ROBOT
    measured_at: UtcDatetime = Field(default_factory=utcnow)

    def readout(self, name: str) -> float | None:
        """Look up a readout by name: 'growth', a product/flux id, or a black-box value."""
        reading = self.reading(name)
        return reading.value if reading is not None else None

    def reading(self, name: str) -> Value | None:
        """A readout by name, as measured (value and sd); the same lookup as `readout`."""
        if name == "growth":
            return self.growth_rate
        for table in (self.values, self.products, self.fluxes, self.titers):
            if name in table:
                return table[name]
        return None
