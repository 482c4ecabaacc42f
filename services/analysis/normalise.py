"""Batch-normalised measurements for training a campaign's predictor (`[analysis] normalise = true`).

Each readout of a run is multiplied by (median of that readout over every wild-type control of the
campaign) / (median over the controls of the run's batch), so a multiplicative batch offset cancels
while the values keep the campaign's units (the wild-type level of the whole campaign). Controls with
a failed QC flag (anything but an outcome flag such as `no_growth`) are not used. A readout whose
control medians are not positive, and every run of a batch without a control, stay raw.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from schemas import Measurement, Value
from services.analysis.cleaning import CleaningPolicy
from services.analysis.frame import is_wild_type

TABLES = ("products", "fluxes", "titers", "values")


@dataclass
class Normalised:
    """The rescaled measurements (same order) and what could not be normalised."""

    measurements: list[Measurement]
    factors: dict[tuple[str, str], float] = field(default_factory=dict)
    """(group, readout) -> the factor applied."""
    raw_groups: list[str] = field(default_factory=list)
    """Groups (batches or plates) without a usable control: their runs stay raw."""


def _readouts(m: Measurement) -> Iterator[tuple[str, float]]:
    if m.growth_rate is not None:
        yield "growth", m.growth_rate.value
    for table in TABLES:
        for name, v in getattr(m, table).items():
            yield name, v.value


def _group(m: Measurement, by: str) -> str:
    return str(getattr(m, by) or "(none)")


def _usable_control(m: Measurement, outcome_flags: frozenset[str]) -> bool:
    return is_wild_type(m.design) and all(f in outcome_flags for f in m.qc_flags)


def _scaled(m: Measurement, factor: dict[str, float]) -> Measurement:
    def scale(name: str, v: Value) -> Value:
        f = factor.get(name, 1.0)
        return Value(value=v.value * f, sd=v.sd * f)

    update: dict[str, object] = {t: {k: scale(k, v) for k, v in getattr(m, t).items()} for t in TABLES}
    if m.growth_rate is not None:
        update["growth_rate"] = scale("growth", m.growth_rate)
    return m.model_copy(update=update)


def normalise_measurements(measurements: Sequence[Measurement], by: str = "batch_id",
                           outcome_flags: frozenset[str] = CleaningPolicy().outcome_flags) -> Normalised:
    """Rescale every run's readouts by its group's wild-type control (see the module docstring)."""
    per_group: dict[tuple[str, str], list[float]] = defaultdict(list)
    overall: dict[str, list[float]] = defaultdict(list)
    for m in measurements:
        if _usable_control(m, outcome_flags):
            for name, value in _readouts(m):
                per_group[(_group(m, by), name)].append(value)
                overall[name].append(value)
    level = {name: float(np.median(v)) for name, v in overall.items()}
    factors = {}
    for (group, name), values in per_group.items():
        local = float(np.median(values))
        if local > 0 and level[name] > 0:
            factors[(group, name)] = level[name] / local
    groups = {_group(m, by) for m in measurements}
    covered = {g for g, _ in factors}
    out = Normalised([], factors, sorted(groups - covered))
    for m in measurements:
        group = _group(m, by)
        out.measurements.append(_scaled(m, {n: f for (g, n), f in factors.items() if g == group}))
    return out
