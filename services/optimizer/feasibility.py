"""Growth-floor filter: designs the organism model says cannot grow enough are not proposed.

Once designs are measured, the filter learns from their measured growth (`calibrate`): the organism model's
growth is corrected by a fit of measured over FBA growth (`services.optimizer.growthfit`), and the floor is
taken from the measured wild type (else the corrected model's wild type), so fewer proposals fall under the
floor in the lab. Without enough measured designs it is the plain FBA check.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from schemas import CampaignSpec, Design, Measurement
from services.optimizer.growthfit import GrowthCorrection, correction_from

GrowthFunction = Callable[[Design], float]
"""Predicted growth rate (1/h) of a design; NaN or a non-optimal solve counts as no growth."""


def fba_growth_function(organism: Any, base_medium: Mapping[str, float] | None = None) -> GrowthFunction:
    """Growth of a design by flux balance analysis on the organism model (FastFBA).

    Solved per strain where the optimum provably carries over to the design's expression changes
    (`services.domain.organism.reuse`): the same growth as one LP per design, with far fewer LPs.
    """
    from services.domain.organism import FastFBA
    from services.domain.organism.reuse import AnchoredSolves

    fba = FastFBA(organism)
    solves = AnchoredSolves(fba.optimize)

    def growth(design: Design) -> float:
        bounds = organism.design_bounds(design, base_medium)
        anchor = Design(knockouts=design.knockouts, medium=design.medium)
        result = solves.solve_for(anchor.key(), lambda: organism.design_bounds(anchor, base_medium), bounds)
        return float(result.growth) if result.status == "optimal" else 0.0

    return growth


class FeasibilityFilter:
    """Rejects designs whose (corrected) FBA growth is below ``growth_floor`` x wild-type growth; cached by key.

    Wild-type growth is the model's growth without interventions on the campaign's base medium,
    unless ``reference_growth`` is given; after `calibrate` with enough measured designs, the measured
    wild type's (else the corrected model's).
    """

    def __init__(
        self,
        organism: Any = None,
        growth_floor: float = 0.2,
        growth_fn: GrowthFunction | None = None,
        reference_growth: float | None = None,
        base_medium: Mapping[str, float] | None = None,
    ) -> None:
        if growth_fn is None and organism is None:
            raise ValueError("a feasibility filter needs an organism or a growth function")
        self.growth_fn = growth_fn or fba_growth_function(organism, base_medium)
        self.growth_floor = growth_floor
        self._growth: dict[str, float] = {}
        if reference_growth is None:
            reference_growth = self.growth(Design())
        self.model_threshold = growth_floor * reference_growth
        self.threshold = self.model_threshold
        self.correction: GrowthCorrection | None = None
        self._cache: dict[str, bool] = {}
        self._checked: set[str] = set()
        self._rejected: set[str] = set()

    @property
    def n_checked(self) -> int:
        """Distinct designs checked."""
        return len(self._checked)

    @property
    def n_rejected(self) -> int:
        """Distinct designs rejected at least once."""
        return len(self._rejected)

    def growth(self, design: Design) -> float:
        """The model's growth rate for the design (0 when the solve fails), cached by design key."""
        key = design.key()
        if key not in self._growth:
            try:
                value = self.growth_fn(design)
            except ValueError:
                value = 0.0
            self._growth[key] = value if math.isfinite(value) else 0.0
        return self._growth[key]

    def expected_growth(self, design: Design) -> float:
        """The growth the filter expects the design to measure: FBA's, corrected once calibrated."""
        fba = self.growth(design)
        return fba if self.correction is None else self.correction.corrected(design, fba)

    def calibrate(self, measured: Sequence[tuple[Design, float]]) -> GrowthCorrection | None:
        """Refit the correction from measured (design, growth) pairs and reset the verdicts; returns the fit.

        The floor becomes ``growth_floor`` x the measured wild type's median growth (else x the corrected
        model's wild-type growth). Too few usable designs: the plain FBA check, as before any measurement.
        """
        self.correction = correction_from(measured, self.growth)
        wild_key = Design().key()
        wild = [g for d, g in measured if d.key() == wild_key]
        if self.correction is None:
            self.threshold = self.model_threshold
        elif wild:
            self.threshold = self.growth_floor * statistics.median(wild)
        else:
            self.threshold = self.growth_floor * self.expected_growth(Design())
        self._cache.clear()
        return self.correction

    def calibrate_from(self, measurements: Sequence[Measurement]) -> GrowthCorrection | None:
        """`calibrate` from measurements that carry a growth reading."""
        return self.calibrate([(m.design, m.growth_rate.value) for m in measurements if m.growth_rate is not None])

    def is_feasible(self, design: Design) -> bool:
        """Whether the design is expected to grow at or above the floor (cached until the next calibration)."""
        key = design.key()
        if key not in self._cache:
            ok = self.expected_growth(design) >= self.threshold - 1e-9
            self._cache[key] = ok
            self._checked.add(key)
            if not ok:
                self._rejected.add(key)
        return self._cache[key]

    def problem(self, design: Design) -> str | None:
        """Why the design fails the floor, in words (None when it meets it)."""
        if self.is_feasible(design):
            return None
        how = "FBA" if self.correction is None else "FBA corrected by measured growth"
        return (f"expected growth {self.expected_growth(design):.3g} 1/h ({how}) is below the campaign's growth "
                f"floor of {self.threshold:.3g} 1/h")

    def filter(self, designs: Sequence[Design]) -> tuple[list[Design], int]:
        """The feasible designs, and how many of the given ones were rejected."""
        kept = [d for d in designs if self.is_feasible(d)]
        return kept, len(designs) - len(kept)


def feasibility_for(spec: CampaignSpec, organism: Any) -> FeasibilityFilter | None:
    """The growth-floor filter a campaign needs: None for black-box functions or a floor of 0."""
    if spec.is_function or spec.objective.growth_floor <= 0 or organism is None:
        return None
    return FeasibilityFilter(organism, spec.objective.growth_floor, base_medium=spec.organism.medium or None)


def growth_floor_problem(design: Design, spec: CampaignSpec, measurements: Sequence[Measurement]) -> str | None:
    """Why a design (e.g. a reviewer's amendment) fails the campaign's growth floor, else None.

    The same check the planner applies: the organism model's growth, corrected by the campaign's measured
    growth (`FeasibilityFilter.calibrate`), against the floor. Cell campaigns with a floor only.
    """
    if spec.is_function or spec.objective.growth_floor <= 0:
        return None
    from services.domain.organism import load_organism

    feasibility = feasibility_for(spec, load_organism(spec.organism.model))
    if feasibility is None:
        return None
    feasibility.calibrate_from(measurements)
    return feasibility.problem(design)
