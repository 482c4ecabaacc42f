"""The report's HTML page, from the summary `build_report` computed."""

from __future__ import annotations

import html
from typing import Any

from schemas import CampaignSpec, Design, Measurement
from services.analysis.views import EffectsTable
from services.report import classify, envelope
from services.review.names import describe

STYLE = """body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:3px 8px;font-size:90%}img{max-width:100%;margin:1em 0}
.warning{background:#fff3cd;border:1px solid #e0c060;padding:.5em .8em}.unavailable{color:#555}"""


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


def _table(header: list[str], rows: list[list[Any]]) -> str:
    return f"<table>{_row(header, 'th')}\n" + "\n".join(_row(r) for r in rows) + "</table>"


def _say(text: str) -> str:
    return f'<p class="unavailable">{html.escape(text)}</p>'


def _effects_html(effects: EffectsTable) -> str:
    if effects.unavailable:
        return _say(effects.unavailable)
    head = ["intervention", "MH RR", "95 % CI", "strata", "crude RR", "CMH p", "homogeneity p", "warning"]
    rows = [[r["intervention"], r["mh_rr"], r["mh_rr_ci"], r["strata"], r["crude_rr"], r["cmh_p"],
             r["homogeneity_p"], r["warning"]] for r in effects.rows]
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in effects.notes)
    return f"<p>{html.escape(effects.headline)}</p>{_table(head, rows)}<ul>{notes}</ul>"


def _figure_or_sentence(s: dict[str, Any], name: str, alt: str) -> str:
    """The plot `name`.png, or the sentence saying why there is none."""
    why_not = s.get("plots_missing", {}).get(name)
    if why_not:
        return _say(why_not)
    return f'<img src="{name}.png" alt="{alt}">'


def _facts(spec: CampaignSpec, s: dict[str, Any], best: Measurement | None, model: str | None) -> list[tuple[str, Any]]:
    p, unit = s["prospective"], envelope.unit_of(spec, spec.objective.target)
    facts: list[tuple[str, Any]] = [
        ("campaign", f"{spec.name} ({spec.id})"),
        ("objective", f"{spec.objective.sense.value} {spec.objective.target} ({unit})"),
        ("growth floor", "–" if s.get("growth_floor_per_h") is None else
         f"{fmt(s['growth_floor_per_h'])} 1/h ({s.get('growth_floor_source') or 'of wild type'}); "
         "the best design is chosen among designs whose measured growth meets it"),
        (f"best design's posterior value ({unit}; replicate mean shrunk by the model)", s["best_value"]),
        ("its 95 % interval", _interval(s)),
        ("best design", describe(best.design, model) if best else s.get("best_design_text")),
        ("growth of the best design (1/h)", best.growth_rate.value if best and best.growth_rate else None),
        (f"best single reading ({unit})", s.get("best_reading")),
    ]
    if s.get("true_optimum") is not None:  # only a simulator knows these
        facts += [(f"true value of the best design, noise-free simulated cell ({unit})", s.get("best_true_value")),
                  (f"true optimum, noise-free simulated cell ({unit})", s["true_optimum"]),
                  ("true value / true optimum", s.get("best_true_fraction_of_optimum"))]
    facts += [
        (f"wild-type value ({unit})", s["reference_value"]), ("wild type from", s.get("reference_source")),
        (f"improvement over wild type ({unit})", s["improvement_over_reference"]),
        ("measurements / failed / rejected", f"{s['n_measurements']} / {s['n_failed']} / {s['n_rejected']}"),
        ("model versions", s["model_versions"]),
        ("prospective R² / 95 % interval coverage",
         f"{fmt(p.get('r2'), 3)} / {fmt(p.get('coverage95'), 3)} (n = {fmt(p.get('n'))})"),
    ]
    return facts


def _interval(s: dict[str, Any]) -> str:
    """'3.71 to 3.98 (3 readings; noise sd 0.19 from ...)', or why there is none."""
    post, interval = s.get("best_posterior") or {}, s.get("best_interval95")
    if not post:
        return "–"
    noise = (s.get("best_noise") or {}).get("source", "")
    if interval is None:
        return f"none: measurement noise {noise}"
    return (f"{fmt(interval[0])} to {fmt(interval[1])} ({post['n_readings']} reading(s); noise sd "
            f"{fmt(post['noise_sd'])}, {noise})")


def _calls_html(p: dict[str, Any]) -> str:
    """The yes/no calls in words, and the per-round table of fit and call."""
    lines = [classify.sentence(p[k]) for k in ("beats_incumbent", "hits") if k in p]
    call = p.get("beats_incumbent") or {}
    margin = f"<p>Margin: {html.escape(call.get('margin_source', ''))}.</p>" if call else ""
    fit = {r["round"]: r for r in p.get("by_round", [])}
    rows = []
    for r in call.get("rounds", []):
        f = fit.get(r["round"], {})
        figures = (f"P {r['precision']:.2f} / R {r['recall']:.2f} / F1 {r['f1']:.2f} / AUC {r['roc_auc']:.2f}"
                   if r.get("informative") else f"not informative: {r.get('why_not')}")
        rows.append([r["round"], f.get("n"), f.get("r2"), f.get("coverage95"), r.get("incumbent"), r.get("bar"),
                     r.get("n_positive"), figures])
    table = _table(["round", "n", "R²", "95 % coverage", "incumbent", "bar", "cleared the bar", "call"], rows) \
        if rows else ""
    return "".join(f"<p>{html.escape(line)}</p>" for line in lines) + margin + table


def _replicates_html(s: dict[str, Any], model: str | None) -> str:
    groups = s.get("replicates") or []
    if not groups:
        return _say("No design was measured more than once.")
    rows = [[describe(Design.model_validate(g["design"]), model), g["n"], g["mean"], g["sd"],
             ", ".join(fmt(v) for v in g["values"])] for g in groups]
    return _table(["design", "readings", "mean", "sd", "values"], rows)


def _models_html(s: dict[str, Any]) -> str:
    models = s.get("models") or []
    if not models:
        return ""
    keys = [k for k in ("val_r2", "prev_model_mae_objective", "prev_model_coverage95_objective")
            if any(k in m["metrics"] for m in models)]
    rows = [[m["version"], m.get("kind"), m["n_train"], (m.get("trained_at") or "")[:19].replace("T", " "),
             *(m["metrics"].get(k) for k in keys)] for m in models]
    return _table(["version", "kind", "trained on", "trained at (UTC)", *keys], rows)


def _pareto_html(spec: CampaignSpec, s: dict[str, Any], model: str | None) -> str:
    second = spec.objective.second_target
    if not second:
        return ""
    first = spec.objective.target
    rows = [[describe(Design.model_validate(p["design"]), model), p[first], p[second]] for p in s.get("pareto", [])]
    table = _table(["design", first, second], rows) if rows else ""
    hv = s.get("hypervolume") or {}
    hv_rows = [[r, v] for r, v in zip(hv.get("rounds", []), hv.get("by_round", []), strict=False)]
    ref = hv.get("reference")
    hv_html = (f"<p>Hypervolume of the measured front (designs meeting the growth floor) above the reference point "
               f"{html.escape(first)} = {fmt(ref[first])}, {html.escape(second)} = {fmt(ref[second])} "
               f"(the worst reading of each, the growth floor for growth), after each round:</p>"
               + _table(["round", "hypervolume"], hv_rows)) if ref and hv_rows else ""
    return (f"<h2>Pareto front ({first} and {second})</h2>{_figure_or_sentence(s, 'pareto', 'Pareto front')}"
            f"{hv_html}{table}")


def _time_courses_html(s: dict[str, Any]) -> str:
    """The growth-curve section: the figure and what it shows, the missing-plot sentence, or nothing."""
    tc = s.get("time_courses")
    why_not = s.get("plots_missing", {}).get("time_courses")
    if tc is None and why_not is None:
        return ""
    head = "<h2>Growth curves (ln OD vs time, per design)</h2>"
    if tc is None:
        return head + _say(why_not or "")
    shown = (f"the first {tc['shown']} of {tc['n_designs']} designs (the best first)"
             if tc["shown"] < tc["n_designs"] else f"all {tc['n_designs']} design(s)")
    return (f"{head}<p>{tc['n_runs']} measured run(s) of {shown}. Prediction: "
            f"{html.escape(tc['prediction'])}; bands are 95 % (mean ± 1.96 sd).</p>"
            '<img src="time_courses.png" alt="measured and predicted growth curves">')


def render(spec: CampaignSpec, s: dict[str, Any], measurements: list[Measurement], effects: EffectsTable,
           best: Measurement | None) -> str:
    """The whole page."""
    target, unit = spec.objective.target, envelope.unit_of(spec, spec.objective.target)
    model = None if spec.is_function else spec.organism.model
    facts = "\n".join(_row([k, v]) for k, v in _facts(spec, s, best, model))
    warnings = "".join(f'<p class="warning">Warning: {html.escape(w)}</p>' for w in s.get("warnings", []))
    ordered = sorted(measurements, key=lambda m: m.measured_at)
    with_qc = any(m.qc_flags for m in ordered)
    header = ["run", "design", f"{target} ({unit})", "growth (1/h)", "batch"] + (["QC flags"] if with_qc else [])
    measured = [[m.run_id, describe(m.design, model), m.readout(target),
                 m.growth_rate.value if m.growth_rate else None, m.batch_id]
                + ([", ".join(m.qc_flags)] if with_qc else []) for m in ordered]
    envelope_img = ("" if spec.is_function else '<h2>Production envelope</h2><img src="production_envelope.png" '
                    'alt="production envelope: growth vs product flux">')
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>fluxlab report: {html.escape(spec.name)}</title>
<style>{STYLE}</style></head>
<body><h1>fluxlab campaign report</h1>
{warnings}
<table>{facts}</table>
{envelope_img}
<h2>Best so far</h2><img src="best_so_far.png" alt="best so far">
<h2>Predicted (before the experiment, ± 1.96 sd = 95 % interval) vs measured</h2>
{_figure_or_sentence(s, "predicted_vs_measured", "predicted vs measured")}
<h2>Prospective calls, by round</h2>
{_calls_html(s["prospective"])}
{_pareto_html(spec, s, model)}
{_time_courses_html(s)}
<h2>Replicates (designs measured more than once)</h2>
{_replicates_html(s, model)}
<h2>Model versions</h2>
{_figure_or_sentence(s, "model_metrics", "model metrics")}
{_models_html(s)}
<h2>Batch-adjusted effects (Mantel–Haenszel, by batch)</h2>
{_effects_html(effects)}
<h2>Every measurement</h2>
{_table(header, measured)}
</body></html>
"""
