"""Write a campaign report: report.html, PNG plots and summary.json."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from schemas import CampaignSpec, Measurement, Sense
from services.analysis.views import EffectsTable, effects_table
from services.report import plots
from services.report.prospective import prospective_metrics, prospective_pairs


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
    plots.best_so_far(values, out / "best_so_far.png", true_optimum, reference, target,
                      spec.objective.sense == Sense.MAXIMIZE)
    plots.predicted_vs_measured(pairs, out / "predicted_vs_measured.png", target)
    plots.model_metrics(records["models"], out / "model_metrics.png")
    effects = effects_table(spec, records["measurements"])
    full["batch_adjusted_effects"] = effects.lines or effects.unavailable
    (out / "summary.json").write_text(json.dumps(full, indent=2) + "\n")
    (out / "report.html").write_text(_html(spec, full, measurements, effects))
    return full


def _row(cells: list[Any], tag: str = "td") -> str:
    return "<tr>" + "".join(f"<{tag}>{html.escape(str(c))}</{tag}>" for c in cells) + "</tr>"


def _effects_html(effects: EffectsTable) -> str:
    if effects.unavailable:
        return f"<p>not available: {html.escape(effects.unavailable)}</p>"
    head = _row(["intervention", "MH RR", "95 % CI", "strata", "crude RR", "CMH p", "homogeneity p", "warning"], "th")
    body = "\n".join(_row([r["intervention"], r["mh_rr"], r["mh_rr_ci"], r["strata"], r["crude_rr"], r["cmh_p"],
                            r["homogeneity_p"], r["warning"]]) for r in effects.rows)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in effects.notes)
    return f"<p>{html.escape(effects.headline)}</p><table>{head}\n{body}</table><ul>{notes}</ul>"


def _html(spec: CampaignSpec, s: dict[str, Any], measurements: list[Measurement], effects: EffectsTable) -> str:
    p = s["prospective"]
    facts = [
        ("campaign", f"{spec.name} ({spec.id})"),
        ("objective", f"{spec.objective.sense.value} {spec.objective.target}"),
        ("best measured value", s["best_value"]), ("best design", s.get("best_design_text")),
        ("true optimum (noise-free simulated cell)", s["true_optimum"]),
        ("fraction of optimum", s["best_fraction_of_optimum"]), ("wild-type value", s["reference_value"]),
        ("improvement over wild type", s["improvement_over_reference"]),
        ("measurements / failed / rejected", f"{s['n_measurements']} / {s['n_failed']} / {s['n_rejected']}"),
        ("model versions", s["model_versions"]),
        ("prospective R² / 95 % coverage", f"{p.get('r2')} / {p.get('coverage95')} (n = {p.get('n')})"),
        ("'beats wild type' precision / recall / F1", f"{p.get('precision')} / {p.get('recall')} / {p.get('f1')}"),
    ]
    rows = "\n".join(_row([k, v]) for k, v in facts)
    target = spec.objective.target
    measured = "\n".join(
        _row([m.run_id, m.design.describe(), m.readout(target), m.growth_rate.value if m.growth_rate else "",
              m.batch_id, ", ".join(m.qc_flags)])
        for m in sorted(measurements, key=lambda m: m.measured_at))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>fluxlab report: {html.escape(spec.name)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;font-size:90%}}img{{max-width:100%;margin:1em 0}}</style></head>
<body><h1>fluxlab campaign report</h1>
<table>{rows}</table>
<h2>Best so far</h2><img src="best_so_far.png" alt="best so far">
<h2>Predicted (before the experiment) vs measured</h2><img src="predicted_vs_measured.png" alt="predicted vs measured">
<h2>Model metrics by version</h2><img src="model_metrics.png" alt="model metrics">
<h2>Batch-adjusted effects (Mantel–Haenszel, by batch)</h2>
{_effects_html(effects)}
<h2>Every measurement</h2>
<table>{_row(["run", "design", target, "growth (1/h)", "batch", "QC"], "th")}
{measured}</table>
</body></html>
"""
