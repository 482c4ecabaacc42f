"""What a campaign's model trains on, and how its previous version did on the runs it never saw.

Pure helpers of the predictor service (no NATS): the training rows (batch-normalised when the spec
asks), the previous model's prospective error and coverage, and which training row a field error names.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from schemas import CampaignSpec, Measurement

if TYPE_CHECKING:
    from services.predictor.deepmodel import DeepModel, PredictionResult
    from services.predictor.over_time import OverTimeModel


def training_data(spec: CampaignSpec, measurements: list[Measurement]) -> list[Measurement]:
    """What a campaign's model trains on: the accepted measurements, batch-normalised to their wild-type
    controls when the spec asks for it (`[analysis] normalise`); the target's reading is the objective's value
    (`services.domain.objective`: a titre, yield or productivity read off the time course when the spec asks)."""
    from services.domain.objective import objective_view

    measurements = objective_view(spec, measurements)
    if not spec.analysis.normalise:
        return measurements
    from services.analysis.normalise import normalise_measurements  # pandas: only when asked for

    return normalise_measurements(measurements, spec.analysis.by).measurements


def unseen_predictions(model: DeepModel | OverTimeModel | None, unseen: list[Measurement]
                       ) -> PredictionResult | None:
    """The previous version's predictions for the measurements it never saw (None without a model or on failure).

    One prediction feeds both `prospective_metrics` and the prospective recalibration's z-scores.
    """
    if model is None or not unseen:
        return None
    try:
        return model.predict([m.design for m in unseen])
    except Exception:
        return None


def prospective_metrics(result: PredictionResult | None, unseen: list[Measurement], target: str) -> dict[str, float]:
    """How the previous version did on measurements it never saw (`unseen_predictions` of them)."""
    if result is None:
        return {}
    out: dict[str, float] = {}
    for name, label in ((target, "objective"), ("growth", "growth")):
        if name not in result.names:
            continue
        j = result.names.index(name)
        pairs = [(m.readout(name), result.mean[i, j], result.sd[i, j]) for i, m in enumerate(unseen)]
        pairs = [(y, mu, sd) for y, mu, sd in pairs if y is not None]
        if not pairs:
            continue
        errors = [abs(y - mu) for y, mu, _ in pairs]
        out[f"prev_model_mae_{label}"] = float(sum(errors) / len(errors))
        out[f"prev_model_coverage95_{label}"] = float(
            sum(abs(y - mu) <= 1.959964 * sd for y, mu, sd in pairs) / len(pairs))
    return {k: v for k, v in out.items() if math.isfinite(v)}


def offending_row(field_name: str, n: int) -> tuple[int, str] | None:
    """`designs[24].knockouts[0]` -> (24, '.knockouts[0]') when 24 is a row of the training data."""
    match = re.fullmatch(r"designs\[(\d+)\](.*)", field_name)
    if match is None or int(match.group(1)) >= n:
        return None
    return int(match.group(1)), match.group(2)
