"""The objective's value of a measurement: the target's reading, or a titre, yield or productivity read off its
time course (`objective.over_time`, docs/dynamic.md). One place, used wherever a run's objective value counts.

Every consumer reads a run's objective as `m.readout(spec.objective.target)` (the tracker's best, the
optimizer's history, summaries, reports, the predictor's training rows); `objective_view` gives them the
measurements with that reading replaced by the value over time, so none of them computes it on its own.
The stored measurement is never changed.

    titre        = P(harvest_h)                                   mM, linear interpolation of the measured course
    yield        = (P(harvest_h) - P0) / (S0 - S(harvest_h))      mol/mol; P0, S0 the initial concentrations
    productivity = titre / harvest_h                              mM/h
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from schemas import CampaignSpec, Measurement, OverTimeKind, OverTimeObjective, Value
from schemas.timecourse import TimeCourse

MIN_CONSUMED_MM = 0.05
"""A yield needs at least this much substrate consumed by harvest (mM; the assay's detection floor)."""


def at_time(course: TimeCourse, time_h: float) -> Value | None:
    """The course's value at `time_h` by linear interpolation (sd likewise, when given); None outside its times."""
    times = np.asarray(course.times, dtype=float)
    if time_h < times[0] - 1e-9 or time_h > times[-1] + 1e-9:
        return None
    value = float(np.interp(time_h, times, np.asarray(course.values, dtype=float)))
    sds = [p.sd for p in course.points]
    sd = float(np.interp(time_h, times, np.asarray(sds, dtype=float))) if all(s is not None for s in sds) else 0.0
    return Value(value=value, sd=sd)


def over_time_value(over: OverTimeObjective, m: Measurement) -> Value | None:
    """The titre, yield or productivity of one run at harvest; None when its course does not give it."""
    course = m.time_courses.get(over.metabolite)
    if course is None:
        return None
    titre = at_time(course, over.harvest_h)
    if titre is None:
        return None
    if over.kind == OverTimeKind.TITRE:
        return titre
    if over.kind == OverTimeKind.PRODUCTIVITY:
        return Value(value=titre.value / over.harvest_h, sd=titre.sd / over.harvest_h)
    assert over.substrate is not None
    substrate = m.time_courses.get(over.substrate)
    s0 = m.initial_concentrations.get(over.substrate)
    left = at_time(substrate, over.harvest_h) if substrate is not None else None
    if left is None or s0 is None:
        return None
    consumed = s0 - left.value
    if consumed < MIN_CONSUMED_MM:
        return None
    formed = titre.value - m.initial_concentrations.get(over.metabolite, 0.0)
    sd = math.hypot(titre.sd, abs(formed / consumed) * left.sd) / consumed
    return Value(value=formed / consumed, sd=sd)


def objective_reading(spec: CampaignSpec, m: Measurement) -> Value | None:
    """The objective's value of one run (with its sd): over time when the spec asks for it, else the target's."""
    over = spec.objective.over_time
    if over is None:
        return m.reading(spec.objective.target)
    return over_time_value(over, m)


def with_objective(spec: CampaignSpec, m: Measurement) -> Measurement:
    """The measurement whose target reading is the objective's value (a copy; itself when nothing changes).

    With `objective.over_time` the value over time replaces the target's end-point reading (in `values`, which
    `Measurement.reading` looks up first); a run whose course does not give it has no target reading at all.
    """
    if spec.objective.over_time is None:
        return m
    target = spec.objective.target
    reading = objective_reading(spec, m)
    tables = {name: {k: v for k, v in getattr(m, name).items() if k != target}
              for name in ("values", "products", "fluxes", "titers")}
    if reading is not None:
        tables["values"][target] = reading
    return m.model_copy(update=tables)


def objective_view(spec: CampaignSpec | None, measurements: Sequence[Measurement]) -> list[Measurement]:
    """Every measurement as `with_objective` gives it (the very list given, for an end-point objective)."""
    if spec is None or spec.objective.over_time is None:
        return measurements if isinstance(measurements, list) else list(measurements)
    return [with_objective(spec, m) for m in measurements]


def objective_unit(spec: CampaignSpec) -> str | None:
    """The unit of an objective over time (mM, mol/mol, mM/h); None for an end-point objective."""
    over = spec.objective.over_time
    return over.unit if over is not None else None
