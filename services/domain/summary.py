"""A campaign's outcome computed from the tracker's records (pure functions)."""

from __future__ import annotations

from typing import Any, cast

from schemas import CampaignSpec, Measurement, Sense
from services.domain.floor import GrowthFloor, below_floor, best_meeting_floor, growth_floor, meeting_floor
from services.domain.pareto import pareto_front
from services.domain.posterior import noise_estimate, posterior_best, priors_from_proposals


def best_by_batch(spec: CampaignSpec, proposals: list[dict[str, Any]], work_orders: list[dict[str, Any]],
                  measurements: list[Measurement], floor: GrowthFloor | None = None) -> list[float | None]:
    """Best measured objective value so far after each proposal round (designs meeting the growth floor)."""
    round_of = {p["id"]: p["round"] for p in proposals}
    proposal_of = {w["run_id"]: w["proposal_id"] for w in work_orders}
    excluded = below_floor(measurements, floor or growth_floor(spec, measurements))
    by_round: dict[int, list[float]] = {}
    for m in measurements:
        if m.design.key() in excluded:
            continue
        value = m.readout(spec.objective.target)
        round_ = round_of.get(proposal_of.get(m.run_id, ""))
        if value is not None and round_ is not None:
            by_round.setdefault(round_, []).append(value)
    pick = max if spec.objective.sense == Sense.MAXIMIZE else min
    out: list[float | None] = []
    best: float | None = None
    for round_ in sorted({p["round"] for p in proposals}):
        values = by_round.get(round_, [])
        if values:
            best = pick([*values, best]) if best is not None else pick(values)
        out.append(best)
    return out


def campaign_summary(spec: CampaignSpec, proposals: list[dict[str, Any]], work_orders: list[dict[str, Any]],
                     measurements: list[Measurement], failures: int, reviews: list[dict[str, Any]],
                     models: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON summary of `fluxlab campaign run`: the named best is the posterior best among designs meeting the
    floor (`services.domain.posterior`: replicate mean shrunk toward the model's prediction, with its interval);
    the best single reading is kept beside it (`best_reading`)."""
    floor = growth_floor(spec, measurements)
    reading_value, reading = best_meeting_floor(spec, measurements, floor)
    noise = noise_estimate(spec.objective.target, meeting_floor(spec, measurements, floor))
    best = posterior_best(spec, measurements, priors_from_proposals(spec.objective.target, proposals), floor)
    interval = best.interval() if best is not None else None
    floor_rule = " among designs whose mean measured growth meets the growth floor" if floor.threshold is not None \
        else ""
    summary: dict[str, Any] = {
        "campaign_id": spec.id,
        "best_value": best.mean if best else None,
        "best_design": best.design.model_dump(mode="json") if best else None,
        "best_design_text": best.design.describe() if best else None,
        "best_interval95": list(interval) if interval else None,
        "best_posterior": best.as_json() if best else None,
        "best_noise": {"sd": noise.sd, "source": noise.source},
        "best_reading": reading_value,
        "best_reading_design": reading.design.model_dump(mode="json") if reading else None,
        "best_by_batch": best_by_batch(spec, proposals, work_orders, measurements, floor),
        "best_rule": "best posterior mean (replicate mean shrunk toward the model's prediction made before the "
                     f"design was measured){floor_rule}",
        "growth_floor_measured": {"threshold_per_h": floor.threshold, "source": floor.source,
                                  "n_designs_below": len(below_floor(measurements, floor))},
        "n_measurements": len(measurements),
        "n_failed": failures,
        "n_rejected": sum(1 for r in reviews if r["action"] == "reject"),
        "model_versions": len(models),
        "n_replicate_runs": sum(1 for p in proposals if p.get("strategy") == "replicate"),
    }
    if spec.objective.second_target:
        summary["pareto"] = pareto_set(spec, measurements)
    return summary


def pareto_set(spec: CampaignSpec, measurements: list[Measurement]) -> list[dict[str, Any]]:
    """Measured designs not dominated in (target, second target), best first by the target."""
    first, second = spec.objective.target, spec.objective.second_target or ""
    items = [(m, a, b) for m in measurements
             if (a := m.readout(first)) is not None and (b := m.readout(second)) is not None]
    front = pareto_front(items, spec.objective.sense, spec.objective.second_sense)
    designs = [cast(Measurement, m).design for m, _, _ in front]
    return [{"design": d.model_dump(mode="json"), "design_text": d.describe(), first: a, second: b}
            for d, (_, a, b) in zip(designs, front, strict=True)]
