"""Prospective coverage of the loop benchmark's proposals, with and without the predictor's recalibration.

Each proposal's predicted mean and sd are taken as the planner saw them (through the envelope), before
the design is measured; the noisy reading that follows scores them. ``raw`` is the ensemble's own sd;
``calibrated`` the sd multiplied by services.predictor.prospective_calibration's factor, fitted on the
z-scores of every earlier round's fresh results under the previous model (what the predictor service
publishes). Both are recorded on the same proposals of the same campaign.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from schemas import Design, Measurement
from services.predictor.prospective_calibration import Z95, ProspectiveCalibration, conformal_scale, zscores


@dataclass
class CoverageRecord:
    """Proposals' published predictions and the readings that followed, per round."""

    rows: list[tuple[int, float, float, float, float]] = field(default_factory=list)
    """(round, mean, raw sd, calibrated sd, reading)."""
    scales: list[float] = field(default_factory=list)
    """The objective's sd factor in force at each round with a model."""
    first_round_scale: float | None = None
    """The conformal factor the first model's own prospective z-scores called for (what a prior should be)."""

    def coverage(self, calibrated: bool, round_: int | None = None) -> float | None:
        """Share of readings inside mean +- 1.96 sd (None without rows)."""
        rows = [r for r in self.rows if round_ is None or r[0] == round_]
        if not rows:
            return None
        return float(np.mean([abs(y - mu) <= Z95 * (cal if calibrated else raw) for _, mu, raw, cal, y in rows]))


class CalibrationTracker:
    """What the loop benchmark needs to score and recalibrate its proposals' intervals."""

    def __init__(self, target: str, names: Sequence[str], apply: bool) -> None:
        self.target, self.names, self.apply = target, list(names), apply
        self.calibration = ProspectiveCalibration()
        self.record = CoverageRecord()

    def scales(self) -> dict[str, float]:
        """The factors a freshly trained surrogate publishes with (1 where recalibration is off)."""
        return {n: self.calibration.scale(n) if self.apply else 1.0 for n in self.names}

    def published(self, surrogate: Any, inner: Any, designs: Sequence[Design]) -> list[tuple[float, float, float]]:
        """(mean, raw sd, calibrated sd) of each design as the planner's surrogate publishes it."""
        if surrogate is None or inner is None or not designs:
            return []
        saved = dict(inner.sd_scale)
        try:
            inner.sd_scale = {}
            mean, raw = surrogate.predict(designs)
            inner.sd_scale = {n: self.calibration.scale(n) for n in self.names}
            _, cal = surrogate.predict(designs)
        finally:
            inner.sd_scale = saved
        return [(float(m), float(r), float(c)) for m, r, c in zip(mean, raw, cal, strict=True)]

    def observe(self, round_: int, predictions: Sequence[tuple[float, float, float]], designs: Sequence[Design],
                results: dict[str, Measurement], inner: Any) -> None:
        """Score this round's published intervals; add its fresh results' z-scores under the model that planned it."""
        if not predictions:
            return
        self.record.scales.append(self.calibration.scale(self.target))
        fresh: dict[str, list[float]] = {}
        measured = [(d, results[d.key()]) for d in designs if d.key() in results]
        for design, (mu, raw, cal) in zip(designs, predictions, strict=True):
            m = results.get(design.key())
            y = m.readout(self.target) if m is not None else None
            if y is not None:
                self.record.rows.append((round_, mu, raw, cal, float(y)))
        for name in self.names:
            rows = [(d, y) for d, m in measured if (y := m.readout(name)) is not None]
            if rows:
                mean, sd = inner.raw_column([d for d, _ in rows], name)
                fresh[name] = zscores([y for _, y in rows], mean, sd)
        self.calibration = self.calibration.with_round(fresh)
        if self.record.first_round_scale is None and self.calibration.rounds.get(self.target):
            self.record.first_round_scale = round(conformal_scale(self.calibration.rounds[self.target][0]), 4)


def summarise_coverage(records: Sequence[CoverageRecord]) -> dict[str, Any]:
    """Median over seeds of each campaign's prospective 95 % coverage, raw and recalibrated, and per round."""
    def med(values: list[float | None]) -> float | None:
        kept = [v for v in values if v is not None]
        return round(statistics.median(kept), 4) if kept else None

    rounds = sorted({r[0] for rec in records for r in rec.rows})
    return {
        "coverage95_raw": med([r.coverage(False) for r in records]),
        "coverage95_calibrated": med([r.coverage(True) for r in records]),
        "coverage95_raw_by_seed": [r.coverage(False) for r in records],
        "coverage95_calibrated_by_seed": [r.coverage(True) for r in records],
        "coverage95_by_round": [{"round": k, "raw": med([r.coverage(False, k) for r in records]),
                                 "calibrated": med([r.coverage(True, k) for r in records])} for k in rounds],
        "first_round_scale_by_seed": [r.first_round_scale for r in records],
        "sd_scale_final": med([r.scales[-1] if r.scales else None for r in records]),
        "n_scored": int(statistics.median(len(r.rows) for r in records)) if records else 0,
    }
