"""A campaign's outcome computed from the tracker's records (pure functions)."""

from __future__ import annotations

from typing import Any, cast

from schemas import CampaignSpec, Measurement, Sense
from services.domain.floor import GrowthFloor, below_floor, best_meeting_floor, growth_floor, meeting_floor
from services.domain.objective import objective_view
from services.domain.pareto import hypervolume_2d, pareto_front
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
    measurements = objective_view(spec, measurements)
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
        summary["hypervolume"] = hypervolume_by_round(spec, proposals, work_orders, measurements, floor)
    return summary


def hypervolume_by_round(spec: CampaignSpec, proposals: list[dict[str, Any]], work_orders: list[dict[str, Any]],
                         measurements: list[Measurement], floor: GrowthFloor | None = None) -> dict[str, Any]:
    """Hypervolume of the measured (target, second target) readings after each proposal round.

    Designs below the growth floor (mean measured growth) are left out, as for the best. One reference point
    serves every round, so the series only rises: per objective, the worst reading among those designs over
    the whole campaign; for growth as an objective, the floor itself where it is known. None: no reading yet.
    """
    first, second = spec.objective.target, spec.objective.second_target or ""
    senses = [spec.objective.sense, spec.objective.second_sense]
    floor = floor or growth_floor(spec, measurements)
    excluded = below_floor(measurements, floor)
    round_of = {p["id"]: p["round"] for p in proposals}
    proposal_of = {w["run_id"]: w["proposal_id"] for w in work_orders}
    points: list[tuple[int, float, float]] = []
    for m in measurements:
        a, b = m.readout(first), m.readout(second)
        round_ = round_of.get(proposal_of.get(m.run_id, ""))
        if m.design.key() not in excluded and a is not None and b is not None and round_ is not None:
            points.append((round_, a, b))
    rounds = sorted({p["round"] for p in proposals})
    if not points:
        return {"reference": None, "by_round": [None] * len(rounds), "rounds": rounds}
    reference = [_worst([p[1 + j] for p in points], senses[j]) for j in range(2)]
    for j, name in enumerate((first, second)):
        if name == "growth" and floor.threshold is not None and senses[j] == Sense.MAXIMIZE:
            reference[j] = floor.threshold
    by_round = [hypervolume_2d([(a, b) for r, a, b in points if r <= round_], reference, senses) for round_ in rounds]
    return {"reference": {first: reference[0], second: reference[1]}, "by_round": by_round, "rounds": rounds}


def _worst(values: list[float], sense: Sense) -> float:
    return min(values) if sense == Sense.MAXIMIZE else max(values)


def pareto_set(spec: CampaignSpec, measurements: list[Measurement]) -> list[dict[str, Any]]:
    """Measured designs not dominated in (target, second target), best first by the target."""
    first, second = spec.objective.target, spec.objective.second_target or ""
    items = [(m, a, b) for m in measurements
             if (a := m.readout(first)) is not None and (b := m.readout(second)) is not None]
    front = pareto_front(items, spec.objective.sense, spec.objective.second_sense)
    designs = [cast(Measurement, m).design for m, _, _ in front]
    return [{"design": d.model_dump(mode="json"), "design_text": d.describe(), first: a, second: b}
            for d, (_, a, b) in zip(designs, front, strict=True)]
