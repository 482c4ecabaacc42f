"""Campaign specification and lifecycle events."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from schemas.base import FiniteFloat, Identifier, Message, NonNegFloat, UtcDatetime, WireModel, new_id, utcnow
from schemas.timecourse import TimeCourseRequest


class Strategy(StrEnum):
    """How the optimizer proposes designs."""

    GA = "ga"
    BO = "bo"
    HYBRID = "hybrid"
    RANDOM = "random"


class Sense(StrEnum):
    """Direction of optimisation."""

    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"


class OrganismSpec(WireModel):
    """The genome-scale model the campaign works on."""

    model: str = Field(
        default="textbook", min_length=1, max_length=1024,
        description="Bundled model name ('textbook' = E. coli core, 'iJO1366') or a path to an SBML/JSON file.",
    )
    medium: dict[Identifier, NonNegFloat] = Field(
        default_factory=dict, description="Base medium overrides: exchange id -> max uptake (mmol/gDW/h)."
    )


class OverTimeKind(StrEnum):
    """What an objective over time reads off a run's time course."""

    TITRE = "titre"
    YIELD = "yield"
    PRODUCTIVITY = "productivity"


OVER_TIME_UNITS = {OverTimeKind.TITRE: "mM", OverTimeKind.YIELD: "mol/mol", OverTimeKind.PRODUCTIVITY: "mM/h"}
"""Unit of each kind of objective over time."""


class OverTimeObjective(WireModel):
    """An objective read off the batch culture's time course at a harvest time (needs `readout.time_course`).

    titre: the metabolite's concentration at harvest (mM, linear interpolation of the measured course);
    yield: metabolite formed / substrate consumed by harvest (mol/mol); productivity: titre / harvest_h (mM/h).
    """

    kind: OverTimeKind = Field(description="titre (mM at harvest), yield (mol/mol) or productivity (mM/h).")
    metabolite: Identifier = Field(description="The product: an extracellular metabolite id, e.g. 'succ_e'.")
    harvest_h: float = Field(gt=0.0, allow_inf_nan=False, description="Harvest time (h after inoculation).")
    substrate: Identifier | None = Field(
        default=None, description="yield only: the substrate whose consumption it divides by (one of initial_mM)."
    )

    @model_validator(mode="after")
    def _substrate_for_yield(self) -> OverTimeObjective:
        if self.kind == OverTimeKind.YIELD and self.substrate is None:
            raise ValueError("substrate: a yield needs the substrate it is computed on (e.g. 'glc__D_e')")
        if self.kind != OverTimeKind.YIELD and self.substrate is not None:
            raise ValueError(f"substrate: only a yield has a substrate, not a {self.kind.value}")
        if self.substrate is not None and self.substrate == self.metabolite:
            raise ValueError("substrate: must differ from the metabolite")
        return self

    @property
    def unit(self) -> str:
        """Unit of the objective's value."""
        return OVER_TIME_UNITS[self.kind]

    def describe(self) -> str:
        """E.g. 'titre of succ_e at 24 h'."""
        per = f" per {self.substrate}" if self.substrate else ""
        return f"{self.kind.value} of {self.metabolite}{per} at {self.harvest_h:g} h"


class Objective(WireModel):
    """What to optimise, under which constraints.

    `over_time` (campaign_spec.v3, optional): the objective's value of a run is read off its time course
    (titre, yield or productivity at a harvest time) instead of the target's end-point readout.
    """

    target: Identifier = Field(
        description="Readout to optimise: an exchange/flux reaction id (mmol/gDW/h), 'growth' (1/h), "
        "or the name of a black-box function output."
    )
    sense: Sense = Sense.MAXIMIZE
    growth_floor: float = Field(
        default=0.2, ge=0.0, le=1.0, allow_inf_nan=False,
        description="Minimum growth as a fraction of wild-type growth (dimensionless); 0 disables.",
    )
    second_target: Identifier | None = Field(
        default=None, description="Optional second readout to optimise with the target: the optimizer plans for both "
        "(expected hypervolume improvement), the summary gives the Pareto set and the hypervolume by round."
    )
    second_sense: Sense = Sense.MAXIMIZE
    over_time: OverTimeObjective | None = Field(
        default=None, description="Optimise a titre, yield or productivity at a harvest time, read off each run's "
        "time course (needs readout.time_course) instead of the target's end-point reading; the target stays the "
        "product's end-point readout the lab also measures. None (the default): the target's reading.",
    )


class ExpressionParam(WireModel):
    """A gene whose expression level is a design variable."""

    gene: Identifier
    min_fold: float = Field(default=0.25, gt=0.0, allow_inf_nan=False, description="Lowest fold change.")
    max_fold: float = Field(default=4.0, gt=0.0, allow_inf_nan=False, description="Highest fold change.")
    levels: list[float] | None = Field(
        default=None, max_length=64, description="Discrete fold-change levels; None = continuous in [min, max]."
    )

    @model_validator(mode="after")
    def _bounds(self) -> ExpressionParam:
        if self.min_fold > self.max_fold:
            raise ValueError("min_fold must not exceed max_fold")
        if self.levels is not None and any(not (lv > 0) for lv in self.levels):
            raise ValueError("levels must be positive fold changes")
        return self


class MediumParam(WireModel):
    """A medium component whose uptake bound is a design variable."""

    exchange: Identifier
    min_uptake: NonNegFloat = 0.0
    max_uptake: NonNegFloat = Field(default=10.0, description="mmol/gDW/h")

    @model_validator(mode="after")
    def _bounds(self) -> MediumParam:
        if self.min_uptake > self.max_uptake:
            raise ValueError("min_uptake must not exceed max_uptake")
        return self


class RangeParam(WireModel):
    """A continuous parameter of a black-box function."""

    name: Identifier
    low: FiniteFloat
    high: FiniteFloat

    @model_validator(mode="after")
    def _bounds(self) -> RangeParam:
        if self.low >= self.high:
            raise ValueError("low must be below high")
        return self


class SearchSpace(WireModel):
    """The interventions the optimizer may combine."""

    knockout_candidates: list[Identifier] = Field(default_factory=list, max_length=2000)
    max_knockouts: int = Field(default=3, ge=0, le=20)
    expression: list[ExpressionParam] = Field(default_factory=list, max_length=500)
    medium: list[MediumParam] = Field(default_factory=list, max_length=200)
    parameters: list[RangeParam] = Field(default_factory=list, max_length=100)
    forbidden: list[list[Identifier]] = Field(
        default_factory=list, description="Knockout combinations that must never be proposed together."
    )
    max_interventions: int | None = Field(default=None, ge=1, description="Knockouts + changed genes + medium.")

    @property
    def is_cell(self) -> bool:
        """Whether the space intervenes on a cell (knockouts, expression or medium), not a black-box function."""
        return bool(self.knockout_candidates or self.expression or self.medium)

    @model_validator(mode="after")
    def _not_empty(self) -> SearchSpace:
        if not (self.knockout_candidates or self.expression or self.medium or self.parameters):
            raise ValueError("search space is empty")
        return self


class ReviewMode(StrEnum):
    """Who decides on proposals."""

    HUMAN = "human"
    AUTO = "auto"


class AutoPolicy(StrEnum):
    """Automatic review policies."""

    APPROVE_ALL = "approve_all"
    GROWTH_AND_UNCERTAINTY = "growth_and_uncertainty"


class ReviewSpec(WireModel):
    """How proposals are reviewed."""

    mode: ReviewMode = ReviewMode.AUTO
    policy: AutoPolicy = AutoPolicy.APPROVE_ALL
    max_relative_uncertainty: float = Field(
        default=1.0, gt=0, allow_inf_nan=False,
        description="growth_and_uncertainty: reject when objective sd / |mean| exceeds this.",
    )


class ExecutorKind(StrEnum):
    """Where approved work goes."""

    ROBOT = "robot"
    BENCH = "bench"


class ExecutorSpec(WireModel):
    """The queue approved designs are sent to."""

    kind: ExecutorKind = ExecutorKind.ROBOT
    station: Identifier = "sim1"


class SimulatorSpec(WireModel):
    """Which stand-in answers the work orders during tests and demos (ignored by a real lab)."""

    kind: Literal["cell", "function"] = "cell"
    profile: str = Field(default="default", description="Named, seeded hidden profile of the true cell.")
    expression: str | None = Field(
        default=None, max_length=2000,
        description="kind=function: a Python expression over the parameters, e.g. 'sin(x0) + cos(x1)'.",
    )
    noise: float = Field(default=0.05, ge=0, le=1, allow_inf_nan=False, description="Relative noise (CV).")
    failure_rate: float = Field(default=0.0, ge=0, le=1, allow_inf_nan=False)


class AnalysisSpec(WireModel):
    """How the campaign treats batch effects (`docs/analysis.md`): on-plate controls and normalised training data."""

    control_per_batch: bool = Field(
        default=False,
        description="Cell campaigns: put the unmodified (wild-type) strain in every batch, not only the first, "
        "so each batch has an on-plate control to normalise against.",
    )
    normalise: bool = Field(
        default=False,
        description="Train the predictor on readouts normalised to the wild-type control of their batch "
        "(value x campaign control median / batch control median); runs of a batch without a control stay raw.",
    )
    by: Literal["batch_id", "plate_id"] = Field(
        default="batch_id", description="The group whose wild-type control normalises a run: batch_id or plate_id.",
    )
    replicates: int = Field(
        default=2, ge=0, le=1000,
        description="At most this many of a batch's slots (and never more than a quarter of the batch) go to "
        "replicates of the leading designs while their readings lie within measurement noise of each other; the "
        "campaign names its best by the posterior (replicate mean shrunk by the model). 0: no replicates.",
    )


class ReadoutSpec(WireModel):
    """What each run measures beyond the objective's end-point readouts."""

    time_course: TimeCourseRequest | None = Field(
        default=None,
        description="Also grow every design in batch culture from these initial concentrations (mM) and sample "
        "ln OD and the medium's concentrations at these times (h); None (the default): end points only.",
    )


class CampaignSpec(WireModel):
    """Everything needed to run one design-build-test-learn campaign.

    v2 adds `readout` (optional, so every v1 spec is a valid v2 one).
    v3 adds `objective.over_time` and `readout.time_course.tracked` (optional, so every v2 spec is a valid v3 one).
    """

    SCHEMA = "campaign_spec.v3"

    id: Identifier = Field(default_factory=lambda: "c" + new_id()[:12])
    name: str = Field(default="campaign", max_length=200)
    organism: OrganismSpec = Field(default_factory=OrganismSpec)
    objective: Objective
    search_space: SearchSpace
    budget: int = Field(default=48, ge=1, le=100_000, description="Maximum number of experiments.")
    batch_size: int = Field(default=8, ge=1, le=1000)
    strategy: Strategy = Strategy.HYBRID
    review: ReviewSpec = Field(default_factory=ReviewSpec)
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec)
    simulator: SimulatorSpec | None = None
    analysis: AnalysisSpec = Field(default_factory=AnalysisSpec)
    readout: ReadoutSpec = Field(default_factory=ReadoutSpec)
    seed: int = 0
    base_model: str | None = Field(
        default=None,
        description="A model to start from and fine-tune (transfer learning): a base model uploaded with "
                    "`fluxlab models put FILE --name NAME`, or an earlier campaign's id (its latest version).")

    @property
    def is_function(self) -> bool:
        """A black-box function campaign: a simulated function, or a space without cell interventions."""
        return (self.simulator is not None and self.simulator.kind == "function") or not self.search_space.is_cell

    @model_validator(mode="after")
    def _time_course_needs_a_cell(self) -> CampaignSpec:
        if self.readout.time_course is not None and self.is_function:
            raise ValueError("readout.time_course: a black-box function campaign has no culture to sample")
        return self

    @model_validator(mode="after")
    def _over_time_needs_a_time_course(self) -> CampaignSpec:
        over, request = self.objective.over_time, self.readout.time_course
        if over is None:
            return self
        if request is None:
            raise ValueError("objective.over_time: needs readout.time_course (the sampling times and initial medium "
                             "of the batch culture it is read from)")
        if self.objective.target == "growth":
            raise ValueError("objective.target: with objective.over_time the target names the product's end-point "
                             "readout (e.g. 'EX_succ_e'), not 'growth' (the growth floor reads growth)")
        first, last = request.times_h[0], request.times_h[-1]
        if not first <= over.harvest_h <= last:
            raise ValueError(f"objective.over_time.harvest_h: {over.harvest_h:g} h is outside the sampled times "
                             f"({first:g}-{last:g} h, readout.time_course.times_h)")
        if over.substrate is not None and request.initial_mM.get(over.substrate, 0.0) <= 0:
            raise ValueError(f"objective.over_time.substrate: '{over.substrate}' is not in "
                             "readout.time_course.initial_mM (a yield needs a substrate the medium starts with)")
        return self


class CampaignEventKind(StrEnum):
    """Lifecycle of a campaign.

    created -> started -> (paused <-> resumed)* -> completed | stopped
    """

    CREATED = "created"
    STARTED = "started"
    PAUSED = "paused"
    RESUMED = "resumed"
    STOPPED = "stopped"
    COMPLETED = "completed"


class CampaignEvent(Message):
    """A change in a campaign's lifecycle.

    v2: the spec it carries on 'created' is a `campaign_spec.v2` (its `readout`).
    v3: the spec is a `campaign_spec.v3` (its `objective.over_time`, `readout.time_course.tracked`).
    """

    SCHEMA = "campaign_event.v3"

    campaign_id: Identifier
    kind: CampaignEventKind
    spec: CampaignSpec | None = Field(default=None, description="Present on 'created'.")
    detail: str = Field(default="", max_length=4000)
    best_value: FiniteFloat | None = None
    best_design_key: str | None = Field(default=None, max_length=8000)
    at: UtcDatetime = Field(default_factory=utcnow)
