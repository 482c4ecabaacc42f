"""The data that flows into and out of the proposal strategies."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from schemas import Design, Origin, Sense
from services.optimizer.acquisition import DEFAULT_BETA, Acquisition, acquire
from services.optimizer.space import DesignSpace
from services.optimizer.surrogate import CachedSurrogate, Surrogate

Observation = tuple[Design, float]
"""A measured design and its objective value (campaign units)."""


@dataclass
class History:
    """What the campaign has done so far, as the optimizer sees it."""

    measured: list[Observation] = field(default_factory=list)
    pending: list[Design] = field(default_factory=list)
    failed: list[Design] = field(default_factory=list)
    rejected_keys: set[str] = field(default_factory=set)
    """Keys of rejected proposals (an amended design arrives as pending or measured under its own key)."""
    origins: dict[str, str] = field(default_factory=dict)
    """Design key -> the `strategy` (origin) of the proposal that put it in the lab, where known."""
    noise_sd: float | None = None
    """The sd the lab reported with its readings of the objective (median), where it reports one."""
    below_floor: set[str] = field(default_factory=set)
    """Keys of measured designs whose mean measured growth is below the growth floor (never replicated)."""
    pareto_points: list[tuple[Design, float, float]] = field(default_factory=list)
    """Two-objective campaigns: measured designs that meet the growth floor, with their (target, second target)
    readings (`services.optimizer.multiobjective` plans against the front they make)."""

    def excluded_keys(self) -> set[str]:
        """Keys that must not be proposed again: measured, pending, failed or rejected."""
        keys = {d.key() for d, _ in self.measured} | {d.key() for d in self.pending}
        return keys | {d.key() for d in self.failed} | set(self.rejected_keys)


@dataclass
class Candidate:
    """A design one strategy suggests, with the surrogate's view of it when there is one."""

    design: Design
    strategy: str
    acquisition: float | None = None
    mean: float | None = None
    sd: float | None = None

    @property
    def origin(self) -> Origin:
        """`strategy` read as an origin (`schemas/lifecycle.py`): the generator, and the planner around it."""
        return Origin.parse(self.strategy)


@dataclass
class PlannedProposal:
    """A design chosen for the next batch."""

    design: Design
    strategy: str
    acquisition: float | None
    mean: float | None
    sd: float | None
    feasible: bool = True
    growth_mean: float | None = None
    growth_sd: float | None = None


@dataclass
class Context:
    """Everything a strategy may use to propose designs."""

    space: DesignSpace
    history: History
    rng: np.random.Generator
    surrogate: Surrogate | None = None
    sense: Sense = Sense.MAXIMIZE
    acquisition: Acquisition = Acquisition.UCB
    beta: float = DEFAULT_BETA
    excluded: set[str] = field(default_factory=set)
    feasible: Callable[[Design], bool] | None = None
    """Organism-model check (growth floor); strategies that search the surrogate avoid what fails it."""

    def __post_init__(self) -> None:
        self.excluded = self.excluded | self.history.excluded_keys()
        if self.surrogate is not None and not isinstance(self.surrogate, CachedSurrogate):
            self.surrogate = CachedSurrogate(self.surrogate)

    @property
    def sign(self) -> float:
        """+1 to maximise the objective, -1 to minimise it (scores are always maximised)."""
        return 1.0 if self.sense == Sense.MAXIMIZE else -1.0

    def best_score(self) -> float | None:
        """Best measured score (sign-adjusted objective), None before any measurement."""
        if not self.history.measured:
            return None
        return max(self.sign * v for _, v in self.history.measured)

    def score(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Acquisition (on the score), mean and sd (objective units) per design; needs a surrogate."""
        if self.surrogate is None:
            raise ValueError("scoring designs needs a surrogate")
        if not designs:
            empty = np.zeros(0)
            return empty, empty, empty
        mean, sd = self.surrogate.predict(designs)
        mean, sd = np.asarray(mean, float), np.asarray(sd, float)
        return acquire(self.acquisition, self.sign * mean, sd, self.best_score(), self.beta), mean, sd

    def scored(self, designs: Sequence[Design], strategy: str) -> list[Candidate]:
        """Candidates for the designs, with acquisition, mean and sd when a surrogate is present."""
        if self.surrogate is None:
            return [Candidate(d, strategy) for d in designs]
        acq, mean, sd = self.score(designs)
        return [
            Candidate(d, strategy, float(a), float(m), float(s))
            for d, a, m, s in zip(designs, acq, mean, sd, strict=True)
        ]
