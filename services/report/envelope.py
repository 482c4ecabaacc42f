"""The production envelope: product flux against growth, the plot a metabolic engineer reads first.

The organism model's wild-type envelope (min and max product flux at each growth rate, cobra's
`production_envelope`), the measured designs on it, and the campaign's growth floor as a vertical line.
Works on any matplotlib Axes (report: pyplot; dashboard: a bare Figure).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from schemas import CampaignSpec, Measurement


@dataclass(frozen=True)
class Envelope:
    """Growth grid (1/h) with the lowest and highest product flux (mmol/gDW/h) the model allows there."""

    growth: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    floor: float
    """The campaign's growth floor in 1/h (fraction x wild-type growth)."""


def unit_of(spec: CampaignSpec, readout: str) -> str:
    """The unit of a readout: growth 1/h, a reaction's flux mmol/gDW/h, a black-box value the assay's."""
    if readout == "growth":
        return "1/h"
    if readout == spec.objective.target and spec.objective.over_time is not None:
        return spec.objective.over_time.unit
    return "assay units" if spec.is_function else "mmol/gDW/h"


def envelope_of(spec: CampaignSpec, points: int = 20) -> Envelope | None:
    """The wild-type envelope of the campaign's objective (None for growth or function campaigns)."""
    if spec.is_function or spec.objective.target == "growth" or spec.objective.over_time is not None:
        return None  # a titre, yield or productivity has no flux envelope
    medium = tuple(sorted(spec.organism.medium.items()))
    return _envelope(spec.organism.model, spec.objective.target, medium, spec.objective.growth_floor, points)


@lru_cache(maxsize=8)
def _envelope(model: str, target: str, medium: tuple[tuple[str, float], ...], floor_fraction: float,
              points: int) -> Envelope | None:
    from cobra.flux_analysis import production_envelope

    from services.domain.organism import OrganismError, load_organism
    from services.runtime.quiet import stdout_to_log

    try:
        organism = load_organism(model)
    except OrganismError:
        return None
    if not organism.has_reaction(target):
        return None
    cobra_model = organism.cobra_model
    with cobra_model, stdout_to_log("cobra"):
        for exchange, uptake in medium:
            cobra_model.reactions.get_by_id(exchange).lower_bound = -float(uptake)
        biomass = cobra_model.reactions.get_by_id(organism.biomass_id)
        wild_type = float(cobra_model.slim_optimize(error_value=0.0))
        table = production_envelope(cobra_model, reactions=[biomass], objective=target, points=points)
    return Envelope(growth=tuple(float(g) for g in table[organism.biomass_id]),
                    low=tuple(float(v) for v in table["flux_minimum"]),
                    high=tuple(float(v) for v in table["flux_maximum"]), floor=floor_fraction * wild_type)


def measured_points(spec: CampaignSpec, measurements: list[Measurement]) -> list[tuple[float, float]]:
    """(growth, objective) of every measurement that has both."""
    points = []
    for m in measurements:
        value = m.readout(spec.objective.target)
        if value is not None and m.growth_rate is not None:
            points.append((m.growth_rate.value, value))
    return points


def draw(ax: Any, spec: CampaignSpec, envelope: Envelope | None, points: list[tuple[float, float]]) -> None:
    """The envelope, the measured designs and the growth floor on one Axes."""
    target = spec.objective.target
    if envelope is not None:
        ax.fill_between(envelope.growth, envelope.low, envelope.high, color="C0", alpha=0.15,
                        label="wild-type envelope (organism model)")
        ax.plot(envelope.growth, envelope.high, color="C0", lw=1)
        ax.axvline(envelope.floor, color="C3", ls="--", lw=1,
                   label=f"growth floor ({envelope.floor:.3g} 1/h)")
    if points:
        ax.scatter([g for g, _ in points], [v for _, v in points], s=14, color="C1", zorder=3,
                   label="measured designs")
    ax.set_xlabel("growth rate (1/h)")
    ax.set_ylabel(f"{target} ({unit_of(spec, target)})")
    ax.set_title("Production envelope")
    if envelope is not None or points:
        ax.legend(fontsize=7, loc="upper right")
