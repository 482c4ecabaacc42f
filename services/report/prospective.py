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


def round_of_runs(proposals: list[dict[str, Any]], work_orders: list[dict[str, Any]]) -> dict[str, int]:
    """Run id -> the round of the proposal it ran."""
    round_of = {p["id"]: p["round"] for p in proposals}
    return {w["run_id"]: round_of[w["proposal_id"]] for w in work_orders if w["proposal_id"] in round_of}


def fit_figures(pairs: list[Pair]) -> dict[str, Any]:
    """n, R² and 95 % interval coverage of the predictions (None where undefined)."""
    if not pairs:
        return {"n": 0, "r2": None, "coverage95": None}
    y = np.array([p.measured for p in pairs])
    mu = np.array([p.predicted for p in pairs])
    sd = np.array([p.sd for p in pairs])
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(((y - mu) ** 2).sum()) / ss_tot if ss_tot > 0 and len(pairs) >= 2 else None
    coverage = float((np.abs(y - mu) <= 1.959964 * sd).mean())
    return {"n": len(pairs), "r2": None if r2 is None or math.isnan(r2) else round(r2, 4),
            "coverage95": round(coverage, 4)}


def prospective_metrics(pairs: list[Pair]) -> dict[str, Any]:
    """R² and 95 % interval coverage over the campaign and per round."""
    rounds = sorted({p.round for p in pairs})
    return {**fit_figures(pairs),
            "by_round": [{"round": r, **fit_figures([p for p in pairs if p.round == r])} for r in rounds]}
