"""The growth floor on measurements: which measured designs may be named a campaign's best (pure, cached FBA).

A cell campaign's floor is ``objective.growth_floor`` x the wild type's growth: the median *measured* growth of
the unmodified strain where the campaign measured it, else the organism model's FBA growth on the campaign's
base medium. A design meets the floor when the mean of its measured growth readings does; a design whose growth
was not measured is not excluded (nothing says it fails). Function campaigns and a floor of 0 have no floor.
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from schemas import CampaignSpec, Design, Measurement, Sense


@dataclass(frozen=True)
class GrowthFloor:
    """The floor in 1/h (None: no floor applies) and where its wild-type growth came from, in words."""

    threshold: float | None
    source: str

    def describe(self) -> str:
        """'0.175 1/h (20 % of the measured wild type, median of 2 runs)' or why no floor applies."""
        if self.threshold is None:
            return f"none ({self.source})"
        return f"{self.threshold:.3g} 1/h ({self.source})"


def growth_floor(spec: CampaignSpec, measurements: Sequence[Measurement]) -> GrowthFloor:
    """The campaign's growth floor on measured growth (see the module doc)."""
    fraction = spec.objective.growth_floor
    if spec.is_function or fraction <= 0:
        return GrowthFloor(None, "no growth floor in this campaign")
    wild_key = Design().key()
    wild = [m.growth_rate.value for m in measurements if m.design.key() == wild_key and m.growth_rate is not None]
    share = f"{fraction:.0%} of the"
    if wild:
        return GrowthFloor(fraction * statistics.median(wild),
                           f"{share} measured wild type, median of {len(wild)} run(s)")
    fba = fba_wild_type_growth(spec.organism.model, tuple(sorted(spec.organism.medium.items())))
    if fba is None:
        return GrowthFloor(None, "no wild-type growth known: none measured, organism model unavailable")
    return GrowthFloor(fraction * fba, f"{share} organism model's wild-type growth (FBA; no wild type measured)")


@functools.lru_cache(maxsize=16)
def fba_wild_type_growth(model: str, medium: tuple[tuple[str, float], ...]) -> float | None:
    """FBA growth (1/h) of the unmodified strain on a base medium (None when the model cannot be loaded)."""
    from services.domain.organism import FastFBA, OrganismError, load_organism

    try:
        result = FastFBA(load_organism(model)).optimize_design(Design(), base_medium=dict(medium) or None)
    except OrganismError:
        return None
    return float(result.growth) if result.status == "optimal" else None


def mean_growth_by_design(measurements: Sequence[Measurement]) -> dict[str, float]:
    """Design key -> mean measured growth (1/h), for designs with at least one growth reading."""
    readings: dict[str, list[float]] = {}
    for m in measurements:
        if m.growth_rate is not None:
            readings.setdefault(m.design.key(), []).append(m.growth_rate.value)
    return {key: sum(v) / len(v) for key, v in readings.items()}


def below_floor(measurements: Sequence[Measurement], floor: GrowthFloor) -> set[str]:
    """Keys of the designs whose mean measured growth is below the floor."""
    if floor.threshold is None:
        return set()
    threshold = floor.threshold
    return {key for key, g in mean_growth_by_design(measurements).items() if g < threshold - 1e-12}


def meeting_floor(spec: CampaignSpec, measurements: Sequence[Measurement],
                  floor: GrowthFloor | None = None) -> list[Measurement]:
    """The measurements of designs that meet the campaign's growth floor (all of them without a floor)."""
    floor = floor or growth_floor(spec, measurements)
    excluded = below_floor(measurements, floor)
    return [m for m in measurements if m.design.key() not in excluded]


def best_meeting_floor(spec: CampaignSpec, measurements: Sequence[Measurement],
                       floor: GrowthFloor | None = None) -> tuple[float | None, Measurement | None]:
    """The best objective reading among designs meeting the floor, and its measurement (None, None: none)."""
    target = spec.objective.target
    scored = [(v, m) for m in meeting_floor(spec, measurements, floor) if (v := m.readout(target)) is not None]
    if not scored:
        return None, None
    pick = max if spec.objective.sense == Sense.MAXIMIZE else min
    return pick(scored, key=lambda vm: vm[0])
