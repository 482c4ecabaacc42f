"""Write a campaign report: report.html, PNG plots and summary.json."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from schemas import CampaignSpec, Measurement, Sense
from services.analysis.views import EffectsTable, effects_table
from services.predictor import MIN_TRAINING_MEASUREMENTS
from services.report import envelope, plots
from services.report.prospective import prospective_metrics, prospective_pairs
from services.review.names import describe


def measured_in_order(spec: CampaignSpec, measurements: list[Measurement]) -> list[float]:
    """Objective values in the order they were measured."""
    ordered = sorted(measurements, key=lambda m: m.measured_at)
    return [v for v in (m.readout(spec.objective.target) for m in ordered) if v is not None]


def write_report(out: Path, spec: CampaignSpec, records: dict[str, list[dict[str, Any]]], summary: dict[str, Any],
                 true_optimum: float | None, reference: float | None, threshold: float) -> dict[str, Any]:
    """Write every file of the report; returns the full summary written to summary.json."""
    out.mkdir(parents=True, exist_ok=True)
    target = spec.objective.target
    measurements = [Measurement.model_validate(m) for m in records["measurements"]]
    pairs = prospective_pairs(target, records["proposals"], records["work_orders"], measurements)
    ref = reference if reference is not None else 0.0
    full = {
        **summary,
        "true_optimum": true_optimum,
        "best_fraction_of_optimum": (summary["best_value"] / true_optimum
                                     if true_optimum and summary["best_value"] is not None else None),
        "reference_value": reference,
        "improvement_over_reference": (summary["best_value"] - ref if summary["best_value"] is not None else None),
        "prospective": prospective_metrics(pairs, ref, threshold),
    }
    values = measured_in_order(spec, measurements)
    plots.best_so_far(values, out / "best_so_far.png", true_optimum, reference,
                      f"{target} ({envelope.unit_of(spec, target)})",
                      spec.objective.sense == Sense.MAXIMIZE)
    missing = {
        "predicted_vs_measured": _draw_or_say(
            bool(pairs), out / "predicted_vs_measured.png",
            lambda path: plots.predicted_vs_measured(pairs, path, target),
            "No predictions to compare: " + (_no_model(len(measurements)) if not records["models"] else
                                             "no design proposed after the first model was trained has been "
                                             "measured yet, so none was predicted before its experiment.")),
        "model_metrics": _draw_or_say(
            bool(records["models"]), out / "model_metrics.png",
            lambda path: plots.model_metrics(records["models"], path),
            "No model versions to show: " + _no_model(len(measurements))),
    }
    full["plots_missing"] = {name: why for name, why in missing.items() if why}
    effects = effects_table(spec, records["measurements"])
    full["batch_adjusted_effects"] = effects.lines or effects.unavailable
    if not spec.is_function:
        plots.production_envelope(spec, measurements, out / "production_envelope.png")
    full["growth_floor_per_h"] = _floor(spec)
    full["warnings"] = _warnings(spec, full, measurements)
    (out / "summary.json").write_text(json.dumps(full, indent=2) + "\n")
    (out / "report.html").write_text(_html(spec, full, measurements, effects))
    return full


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


def _floor(spec: CampaignSpec) -> float | None:
    """The growth floor in 1/h (None for function campaigns)."""
    found = envelope.envelope_of(spec)
    return found.floor if found is not None else None


def _best(spec: CampaignSpec, measurements: list[Measurement]) -> Measurement | None:
    scored = [m for m in measurements if m.readout(spec.objective.target) is not None]
    if not scored:
        return None
    pick = max if spec.objective.sense == Sense.MAXIMIZE else min
    return pick(scored, key=lambda m: m.readout(spec.objective.target) or 0.0)


def _warnings(spec: CampaignSpec, full: dict[str, Any], measurements: list[Measurement]) -> list[str]:
    """What a reader must not miss: the best design barely grows (at most 1.25 x the growth floor)."""
    best, floor = _best(spec, measurements), full.get("growth_floor_per_h")
    if best is None or floor is None or best.growth_rate is None:
        return []
    growth = best.growth_rate.value
    if growth < floor:
        return [f"the best design grows at {fmt(growth)} 1/h, below the growth floor of {fmt(floor)} 1/h: "
                "it may not be buildable or stable in production"]
    if growth <= 1.25 * floor:
        return [f"the best design grows at {fmt(growth)} 1/h, close to the growth floor of {fmt(floor)} 1/h"]
    return []


def fmt(value: Any, digits: int = 4) -> str:
    """Numbers with `digits` significant digits; None as a dash; anything else as text."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}g}"


def _row(cells: list[Any], tag: str = "td") -> str:
    return "<tr>" + "".join(f"<{tag}>{html.escape(fmt(c))}</{tag}>" for c in cells) + "</tr>"


def _effects_html(effects: EffectsTable) -> str:
    if effects.unavailable:
        return f'<p class="unavailable">{html.escape(effects.unavailable)}</p>'
    head = _row(["intervention", "MH RR", "95 % CI", "strata", "crude RR", "CMH p", "homogeneity p", "warning"], "th")
    body = "\n".join(_row([r["intervention"], r["mh_rr"], r["mh_rr_ci"], r["strata"], r["crude_rr"], r["cmh_p"],
                            r["homogeneity_p"], r["warning"]]) for r in effects.rows)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in effects.notes)
    return f"<p>{html.escape(effects.headline)}</p><table>{head}\n{body}</table><ul>{notes}</ul>"


def _figure_or_sentence(s: dict[str, Any], name: str, alt: str) -> str:
    """The plot `name`.png, or the sentence saying why there is none."""
    why_not = s.get("plots_missing", {}).get(name)
    if why_not:
        return f'<p class="unavailable">{html.escape(why_not)}</p>'
    return f'<img src="{name}.png" alt="{alt}">'


def _html(spec: CampaignSpec, s: dict[str, Any], measurements: list[Measurement], effects: EffectsTable) -> str:
    p = s["prospective"]
    target = spec.objective.target
    unit = envelope.unit_of(spec, target)
    model = None if spec.is_function else spec.organism.model
    best = _best(spec, measurements)
    facts = [
        ("campaign", f"{spec.name} ({spec.id})"),
        ("objective", f"{spec.objective.sense.value} {target} ({unit})"),
        ("growth floor", "–" if s.get("growth_floor_per_h") is None else
         f"{fmt(s['growth_floor_per_h'])} 1/h ({fmt(100 * spec.objective.growth_floor, 3)} % of wild type)"),
        (f"best measured value ({unit})", s["best_value"]),
        ("best design", describe(best.design, model) if best else s.get("best_design_text")),
        ("growth of the best design (1/h)", best.growth_rate.value if best and best.growth_rate else None),
        (f"true optimum, noise-free simulated cell ({unit})", s["true_optimum"]),
        ("fraction of optimum", s["best_fraction_of_optimum"]), (f"wild-type value ({unit})", s["reference_value"]),
        (f"improvement over wild type ({unit})", s["improvement_over_reference"]),
        ("measurements / failed / rejected", f"{s['n_measurements']} / {s['n_failed']} / {s['n_rejected']}"),
        ("model versions", s["model_versions"]),
        ("prospective R² / 95 % interval coverage",
         f"{fmt(p.get('r2'), 3)} / {fmt(p.get('coverage95'), 3)} (n = {fmt(p.get('n'))})"),
        ("'beats wild type' precision / recall / F1",
         f"{fmt(p.get('precision'), 3)} / {fmt(p.get('recall'), 3)} / {fmt(p.get('f1'), 3)}"),
    ]
    rows = "\n".join(_row([k, v]) for k, v in facts)
    warnings = "".join(f'<p class="warning">Warning: {html.escape(w)}</p>' for w in s.get("warnings", []))
    ordered = sorted(measurements, key=lambda m: m.measured_at)
    with_qc = any(m.qc_flags for m in ordered)
    header = ["run", "design", f"{target} ({unit})", "growth (1/h)", "batch"] + (["QC flags"] if with_qc else [])
    measured = "\n".join(
        _row([m.run_id, describe(m.design, model), m.readout(target), m.growth_rate.value if m.growth_rate else None,
              m.batch_id] + ([", ".join(m.qc_flags)] if with_qc else []))
        for m in ordered)
    envelope_img = ("" if spec.is_function else '<h2>Production envelope</h2><img src="production_envelope.png" '
                    'alt="production envelope: growth vs product flux">')
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>fluxlab report: {html.escape(spec.name)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;font-size:90%}}img{{max-width:100%;margin:1em 0}}
.warning{{background:#fff3cd;border:1px solid #e0c060;padding:.5em .8em}}</style></head>
<body><h1>fluxlab campaign report</h1>
{warnings}
<table>{rows}</table>
{envelope_img}
<h2>Best so far</h2><img src="best_so_far.png" alt="best so far">
<h2>Predicted (before the experiment, ± 1.96 sd = 95 % interval) vs measured</h2>
{_figure_or_sentence(s, "predicted_vs_measured", "predicted vs measured")}
<h2>Model metrics by version</h2>
{_figure_or_sentence(s, "model_metrics", "model metrics")}
<h2>Batch-adjusted effects (Mantel–Haenszel, by batch)</h2>
{_effects_html(effects)}
<h2>Every measurement</h2>
<table>{_row(header, "th")}
{measured}</table>
</body></html>
"""
