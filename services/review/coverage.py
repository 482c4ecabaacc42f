"""The review dashboard's prospective coverage: each round's published intervals against what was measured."""

from __future__ import annotations

from typing import Any

from schemas import CampaignSpec, Measurement
from services.report.prospective import prospective_metrics, prospective_pairs


def coverage_by_round(spec: CampaignSpec, proposals: list[dict[str, Any]], work_orders: list[dict[str, Any]],
                      measurements: list[Measurement], models: list[dict[str, Any]]) -> dict[str, Any]:
    """Campaign and per-round n, R² and 95 % coverage of the proposals' predictions, with the sd factor in force.

    `sd_scale` is the predictor's prospective recalibration (`sd_scale_objective` of the model version that
    answered the round's proposals; None before any model or for versions trained before it existed).
    """
    pairs = prospective_pairs(spec.objective.target, proposals, work_orders, measurements)
    figures = prospective_metrics(pairs)
    scale_of = {m["version"]: (m.get("metrics") or {}).get("sd_scale_objective") for m in models}
    version_of: dict[int, int] = {}
    for p in proposals:
        if p.get("model_version"):
            version_of[p["round"]] = max(version_of.get(p["round"], 0), int(p["model_version"]))
    for row in figures["by_round"]:
        version = version_of.get(row["round"])
        row["model_version"], row["sd_scale"] = version, scale_of.get(version) if version else None
    return figures
