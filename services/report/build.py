"""Build a campaign report from its tracker records: report.html, PNG plots and summary.json.

One builder for every campaign: `fluxlab demo` and `fluxlab report` both call `build_report`. What only a
simulator knows (the true optimum, a design's noise-free value) comes in as a `Truth`, and is left out without one.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas import CampaignSpec, Design, Measurement, Sense
from services.analysis.views import effects_table
from services.domain.floor import best_meeting_floor, growth_floor
from services.domain.summary import campaign_summary
from services.predictor import MIN_TRAINING_MEASUREMENTS
from services.report import classify, curves, envelope, plots
from services.report.page import fmt, render
from services.report.prospective import prospective_metrics, prospective_pairs, round_of_runs
from services.report.records import CampaignRecords
from services.report.replicates import replicate_groups
from services.review.names import describe

__all__ = ["ReportOptions", "Truth", "build_report", "fmt", "measured_in_order"]


@dataclass(frozen=True)
class Truth:
    """What only a simulator knows: the noise-free optimum, the wild type's value, and any design's true value."""

    optimum: float | None
    reference: float | None = None
    value_of: Callable[[Design], float] | None = None


@dataclass(frozen=True)
class ReportOptions:
    """Settings of the prospective calls (objective units; None: the margin from the measured noise)."""

    margin: float | None = None
    hit_threshold: float | None = None
    dynamic_model: Path | None = None
    """A `dynamic` model file (`fluxlab predictor fit --model dynamic`): predicted curves with bands."""


def measured_in_order(spec: CampaignSpec, measurements: list[Measurement]) -> list[float]:
    """Objective values in the order they were measured."""
    ordered = sorted(measurements, key=lambda m: m.measured_at)
    return [v for v in (m.readout(spec.objective.target) for m in ordered) if v is not None]


def build_report(out: Path, records: CampaignRecords, truth: Truth | None = None,
                 options: ReportOptions | None = None) -> dict[str, Any]:
    """Write every file of the report into `out`; returns the summary written to summary.json."""
    options = options or ReportOptions()
    out.mkdir(parents=True, exist_ok=True)
    spec, target = records.spec, records.spec.objective.target
    measurements = records.measured()
    full = campaign_summary(spec, records.proposals, records.work_orders, measurements, records.n_failed,
                            records.reviews, records.models)
    full.update(_truth_figures(full, truth))
    reference, reference_source = _reference(spec, measurements, truth)
    full.update(reference_value=reference, reference_source=reference_source,
                improvement_over_reference=(full["best_value"] - reference
                                            if full["best_value"] is not None and reference is not None else None))
    pairs = prospective_pairs(target, records.proposals, records.work_orders, measurements)
    groups = replicate_groups(target, measurements)
    full["prospective"] = {**prospective_metrics(pairs),
                           **_calls(spec, records, measurements, pairs, groups, options)}
    full["replicates"] = [{"design": g.design.model_dump(mode="json"), "design_text": g.design.describe(),
                           "n": len(g.values), "mean": g.mean, "sd": g.sd, "values": list(g.values)} for g in groups]
    full["models"] = [{"version": m["version"], "n_train": m["n_train"], "trained_at": m.get("trained_at"),
                       "kind": m.get("model_kind"), "metrics": m.get("metrics", {})} for m in records.models]
    _draw(out, spec, records, measurements, pairs, full, truth)
    _draw_time_courses(out, spec, measurements, full, options.dynamic_model)
    effects = effects_table(spec, records.measurements)
    full["batch_adjusted_effects"] = effects.lines or effects.unavailable
    floor = growth_floor(spec, measurements)
    full["growth_floor_per_h"], full["growth_floor_source"] = floor.threshold, floor.source
    full["warnings"] = _warnings(spec, full, measurements)
    (out / "summary.json").write_text(json.dumps(full, indent=2) + "\n")
    (out / "report.html").write_text(render(spec, full, measurements, effects, _best(spec, measurements, full)))
    return full


def _truth_figures(summary: dict[str, Any], truth: Truth | None) -> dict[str, Any]:
    """The true optimum, the true value of the design named best, and whether its interval covers that value."""
    optimum = truth.optimum if truth else None
    best, best_value = summary.get("best_design"), summary.get("best_value")
    true_value = (truth.value_of(Design.model_validate(best))
                  if truth is not None and truth.value_of is not None and best is not None else None)
    interval = summary.get("best_interval95")
    return {"true_optimum": optimum,
            "best_fraction_of_optimum": best_value / optimum if optimum and best_value is not None else None,
            "best_true_value": true_value,
            "best_interval_covers_true_value": (interval[0] <= true_value <= interval[1]
                                                if interval and true_value is not None else None),
            "best_true_fraction_of_optimum": true_value / optimum if optimum and true_value is not None else None}


def _reference(spec: CampaignSpec, measurements: list[Measurement], truth: Truth | None) -> tuple[float | None, str]:
    """The wild type's value: the simulator's noise-free one, else the median of the measured wild-type runs."""
    if truth is not None and truth.reference is not None:
        return truth.reference, "simulated wild type (noise-free)"
    if spec.is_function:
        return None, "none (a black-box function has no wild type)"
    wild = [v for m in measurements if m.design.key() == Design().key()
            and (v := m.readout(spec.objective.target)) is not None]
    if not wild:
        return None, "none (no wild-type run was measured)"
    return statistics.median(wild), f"measured wild type (median of {len(wild)} run(s))"


def _calls(spec: CampaignSpec, records: CampaignRecords, measurements: list[Measurement], pairs: list[Any],
           groups: list[Any], options: ReportOptions) -> dict[str, Any]:
    """The prospective yes/no calls: beats the incumbent by the margin (always), hits (with a threshold)."""
    unit = envelope.unit_of(spec, spec.objective.target)
    rounds = sorted({p.round for p in pairs})
    incumbent = classify.incumbents(spec.objective.sense, spec.objective.target, measurements,
                                    round_of_runs(records.proposals, records.work_orders), rounds)
    margin = classify.choose_margin(groups, options.margin)
    calls: dict[str, Any] = {"beats_incumbent": classify.beats_incumbent(pairs, incumbent, margin,
                                                                         spec.objective.sense, unit)}
    if options.hit_threshold is not None:
        calls["hits"] = classify.hits_above(pairs, options.hit_threshold, spec.objective.sense, unit)
    return calls


def _draw(out: Path, spec: CampaignSpec, records: CampaignRecords, measurements: list[Measurement],
          pairs: list[Any], full: dict[str, Any], truth: Truth | None) -> None:
    """Every plot, or the sentence saying why a plot is missing (`plots_missing`)."""
    target = spec.objective.target
    plots.best_so_far(measured_in_order(spec, measurements), out / "best_so_far.png",
                      truth.optimum if truth else None, full["reference_value"],
                      f"{target} ({envelope.unit_of(spec, target)})", spec.objective.sense == Sense.MAXIMIZE)
    missing = {
        "predicted_vs_measured": _draw_or_say(
            bool(pairs), out / "predicted_vs_measured.png",
            lambda path: plots.predicted_vs_measured(pairs, path, target),
            "No predictions to compare: " + (_no_model(len(measurements)) if not records.models else
                                             "no design proposed after the first model was trained has been "
                                             "measured yet, so none was predicted before its experiment.")),
        "model_metrics": _draw_or_say(
            bool(records.models), out / "model_metrics.png",
            lambda path: plots.model_metrics(records.models, path),
            "No model versions to show: " + _no_model(len(measurements))),
    }
    if spec.objective.second_target:
        missing["pareto"] = _draw_or_say(
            bool(full.get("pareto")), out / "pareto.png",
            lambda path: plots.pareto(spec, measurements, full["pareto"], path, full.get("hypervolume")),
            f"No Pareto front yet: no run has both {target} and {spec.objective.second_target} measured.")
    full["plots_missing"] = {name: why for name, why in missing.items() if why}
    if not spec.is_function:
        plots.production_envelope(spec, measurements, out / "production_envelope.png")


def _draw_time_courses(out: Path, spec: CampaignSpec, measurements: list[Measurement], full: dict[str, Any],
                       model: Path | None) -> None:
    """time_courses.png and the summary's `time_courses` when runs carry curves (or the spec asked for them)."""
    groups = curves.by_design(measurements, lambda d: describe(d, None if spec.is_function else spec.organism.model))
    if not groups:
        if spec.readout.time_course is not None:
            full.setdefault("plots_missing", {})["time_courses"] = (
                "No time courses yet: the spec asks for them, but no measured run carries a growth curve.")
        (out / "time_courses.png").unlink(missing_ok=True)
        return
    best = full.get("best_design")
    if best is not None:
        key = Design.model_validate(best).key()
        groups.sort(key=lambda g: g.key != key)  # stable: the best design's panel first
    why_not = curves.predict(model, groups) if model is not None else curves.NO_MODEL
    plots.time_courses(groups, out / "time_courses.png")
    full["time_courses"] = {
        "n_designs": len(groups), "n_runs": sum(len(g.runs) for g in groups),
        "shown": min(len(groups), plots.MAX_CURVE_PANELS),
        "n_predicted": sum(g.prediction is not None for g in groups),
        "prediction": f"dynamic model {model} (from the initial medium only)" if why_not is None else why_not,
    }


def _no_model(n: int) -> str:
    """Why a campaign with n accepted measurements has no trained model, in words."""
    if n < MIN_TRAINING_MEASUREMENTS:
        return (f"no model was trained. The predictor trains once {MIN_TRAINING_MEASUREMENTS} runs are measured; "
                f"this campaign has {n}.")
    return (f"no model was trained during this campaign. The predictor trains once {MIN_TRAINING_MEASUREMENTS} "
            f"runs are measured ({n} were), and the campaign ended before its first model was ready.")


def _draw_or_say(drawable: bool, path: Path, draw: Callable[[Path], None], why_not: str) -> str | None:
    """Draw the plot to path, or remove a stale one and return the sentence the report shows instead."""
    if drawable:
        draw(path)
        return None
    path.unlink(missing_ok=True)
    return why_not


def _best(spec: CampaignSpec, measurements: list[Measurement], full: dict[str, Any]) -> Measurement | None:
    """The latest measurement of the design named best (the summary's posterior best), else the best reading."""
    named = full.get("best_design")
    if named is not None:
        key = Design.model_validate(named).key()
        runs = sorted((m for m in measurements if m.design.key() == key), key=lambda m: m.measured_at)
        if runs:
            return runs[-1]
    return best_meeting_floor(spec, measurements)[1]


def _warnings(spec: CampaignSpec, full: dict[str, Any], measurements: list[Measurement]) -> list[str]:
    """What a reader must not miss: the best design barely grows (at most 1.25 x the growth floor)."""
    best, floor = _best(spec, measurements, full), full.get("growth_floor_per_h")
    if best is None or floor is None or best.growth_rate is None:
        return []
    growth = best.growth_rate.value
    if growth < floor:
        return [f"the best design grows at {fmt(growth)} 1/h, below the growth floor of {fmt(floor)} 1/h: "
                "it may not be buildable or stable in production"]
    if growth <= 1.25 * floor:
        return [f"the best design grows at {fmt(growth)} 1/h, close to the growth floor of {fmt(floor)} 1/h"]
    return []
