"""Measured growth curves per design and, from a fitted `dynamic` model, the predicted curve with its band.

One module for the campaign report (`time_courses.png`) and the review dashboard (the curves of a selected
design). Pure data and matplotlib axes: the caller makes the figure. ln OD is read from a `ln_od` course, or
from an `od` course (log of its positive values). Predictions come only from a model file written by
`fluxlab predictor fit --model dynamic` (`services/predictor/dynamic_files.py`): the model predicts from the
initial medium alone (its inputs are the `init:` concentrations), so designs grown on one medium share one
predicted curve, and the figure says so. Without a model file only the measurements are drawn, and the
figure says that too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from schemas import Design, Measurement

Z95 = 1.959964
"""Half-width of a 95 % band in sd."""
NO_MODEL = "no dynamic model prediction (give a model fitted with `fluxlab predictor fit --model dynamic`): " \
           "measurements only"
MEDIUM_ONLY = "predicted from the initial medium only (one curve per medium)"
PER_DESIGN = "predicted for this design and medium"
MEASURED_ONLY = "no model prediction: measurements only"


@dataclass
class Band:
    """A predicted ln OD curve: mean and 95 % band (mean ± 1.96 sd) at `times` (h)."""

    times: list[float]
    mean: list[float]
    lower: list[float]
    upper: list[float]
    per_design: bool = False
    """From a model that reads the design (else from the initial medium alone)."""


@dataclass
class DesignCurves:
    """The measured ln OD curves of one design (one per run) and its predicted band, if any."""

    key: str
    text: str
    medium: dict[str, float]
    runs: list[tuple[str, list[float], list[float]]] = field(default_factory=list)
    """(run id, times h, ln OD) per measured run."""
    prediction: Band | None = None
    design: Design | None = None
    """The design itself (a design-aware model predicts each design's own curve)."""

    @property
    def times(self) -> list[float]:
        """Every sampled time of the design's runs, sorted."""
        return sorted({t for _, times, _ in self.runs for t in times})


def ln_od(measurement: Measurement) -> tuple[list[float], list[float]] | None:
    """(times, ln OD) of a measurement's mixed biomass course (`ln_od`, else `od`), None without one."""
    course = measurement.time_courses.get("ln_od")
    if course is not None:
        return course.times, course.values
    course = measurement.time_courses.get("od")
    if course is None:
        return None
    points = [(p.time_h, math.log(p.value)) for p in course.points if p.value > 0]
    return ([t for t, _ in points], [v for _, v in points]) if points else None


def by_design(measurements: list[Measurement], describe: Any = None) -> list[DesignCurves]:
    """The designs with measured curves, in the order they were first measured (`describe(design)`: its text)."""
    groups: dict[tuple[str, tuple[tuple[str, float], ...]], DesignCurves] = {}
    for m in sorted(measurements, key=lambda m: m.measured_at):
        curve = ln_od(m)
        if curve is None:
            continue
        medium = dict(sorted(m.initial_concentrations.items()))
        key = (m.design.key(), tuple(medium.items()))
        if key not in groups:
            text = describe(m.design) if describe is not None else m.design.describe()
            groups[key] = DesignCurves(m.design.key(), text, medium, design=m.design)
        groups[key].runs.append((m.run_id, *curve))
    return list(groups.values())


def predict(model_path: Path, groups: list[DesignCurves]) -> str | None:
    """Fill each group's band from a dynamic model file; returns why nothing was predicted (None: predicted).

    A group whose medium holds a substrate the model was not fitted on keeps no band.
    """
    from services.predictor.dynamic_files import load_with_encoding  # torch: only when a model is given
    from services.predictor.errors import PredictorError

    try:
        model, _, encoding = load_with_encoding(model_path)
    except PredictorError as exc:
        return f"no dynamic model prediction: {exc}"
    predicted = 0
    for group in groups:
        if any(mM > 0 and s not in model.substrates for s, mM in group.medium.items()) or not group.times:
            continue
        init = np.array([[group.medium.get(s, 0.0) for s in model.substrates]])
        times = np.asarray(group.times, dtype=float)
        try:
            design = encoding.features([group.design]) if model.n_design and group.design is not None else None
            out = model.predict(init, times, design)
        except ValueError:  # a design-aware model and a design it cannot read
            continue
        mean, sd = out.mean[0], out.sd[0]
        group.prediction = Band(times.tolist(), mean.tolist(), (mean - Z95 * sd).tolist(), (mean + Z95 * sd).tolist(),
                                per_design=design is not None)
        predicted += 1
    if not predicted:
        return (f"no dynamic model prediction: the model knows {', '.join(model.substrates)}, and no design's "
                "medium is made of those")
    return None


def draw(ax: Any, group: DesignCurves) -> None:
    """Measured ln OD of each run (points and lines) and the predicted mean with its 95 % band, titled; a
    corner note says whether the curve is predicted (from the medium only) or the panel holds measurements only."""
    if group.prediction is not None:
        band = group.prediction
        ax.fill_between(band.times, band.lower, band.upper, color="C1", alpha=0.25, label="95 % band")
        ax.plot(band.times, band.mean, color="C1", lw=2, label="predicted (dynamic)")
    for i, (_, times, values) in enumerate(group.runs):
        ax.plot(times, values, "o-", color="C0", ms=3, lw=0.8, alpha=0.8, label="measured" if i == 0 else None)
    medium = ", ".join(f"{s} {mM:g} mM" for s, mM in group.medium.items())
    ax.set_title(f"{group.text}\n{medium}" if medium else group.text, fontsize=8)
    ax.set_xlabel("time (h)")
    ax.set_ylabel("ln OD")
    ax.legend(fontsize=7, loc="lower right")
    label = MEASURED_ONLY if group.prediction is None else PER_DESIGN if group.prediction.per_design else MEDIUM_ONLY
    ax.text(0.02, 0.98, label, transform=ax.transAxes,
            va="top", fontsize=6, color="0.35")
