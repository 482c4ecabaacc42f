"""Prospective evaluation: the prediction published with each proposal, against what was then measured."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from schemas import Measurement


@dataclass
class Pair:
    """One measured design with the prediction made before the experiment."""

    round: int
    predicted: float
    sd: float
    measured: float


def prospective_pairs(target: str, proposals: list[dict[str, Any]], work_orders: list[dict[str, Any]],
                      measurements: list[Measurement]) -> list[Pair]:
    """Join proposals (with predictions) to their measurements through the work orders' run ids."""
    proposal = {p["id"]: p for p in proposals}
    proposal_of = {w["run_id"]: w["proposal_id"] for w in work_orders}
    pairs = []
    for m in measurements:
        p = proposal.get(proposal_of.get(m.run_id, ""))
        value = m.readout(target)
        prediction = (p or {}).get("predicted", {}).get(target)
        if p is None or value is None or prediction is None:
            continue
        pairs.append(Pair(p["round"], float(prediction["mean"]), float(prediction["sd"]), float(value)))
    return pairs


def beats(value: float, reference: float, threshold: float) -> bool:
    """The call 'the design beats the reference by at least `threshold`' (objective units)."""
    return value >= reference + threshold


def prospective_metrics(pairs: list[Pair], reference: float, threshold: float) -> dict[str, Any]:
    """R², 95 % interval coverage, and precision/recall/F1 of the 'beats the reference' call."""
    if not pairs:
        return {"n": 0}
    y = np.array([p.measured for p in pairs])
    mu = np.array([p.predicted for p in pairs])
    sd = np.array([p.sd for p in pairs])
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(((y - mu) ** 2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    coverage = float((np.abs(y - mu) <= 1.959964 * sd).mean())
    truth = np.array([beats(v, reference, threshold) for v in y])
    called = np.array([beats(v, reference, threshold) for v in mu])
    tp = int((truth & called).sum())
    precision = tp / int(called.sum()) if called.any() else float("nan")
    recall = tp / int(truth.sum()) if truth.any() else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else float("nan")
    clean = {"r2": r2, "coverage95": coverage, "precision": precision, "recall": recall, "f1": f1}
    return {"n": len(pairs), "threshold": threshold, "reference": reference, "n_beats_measured": int(truth.sum()),
            "n_beats_predicted": int(called.sum()),
            **{k: (None if isinstance(v, float) and math.isnan(v) else round(v, 4)) for k, v in clean.items()}}
