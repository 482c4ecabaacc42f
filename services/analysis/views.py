"""The batch-adjusted effects table shown in the campaign report and on the dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas import CampaignSpec, Measurement
from services.analysis.analyze import AnalysisOptions, analyze, summary_line
from services.analysis.frame import AnalysisError, observations


@dataclass
class EffectsTable:
    """Rows sorted by adjusted effect, or the reason there are none."""

    headline: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unavailable: str | None = None


def _ci(ci: tuple[float, float] | None) -> str:
    return f"{ci[0]:.3g}–{ci[1]:.3g}" if ci else "–"


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.3g}"


def effects_table(spec: CampaignSpec, records: list[dict[str, Any]], by: str = "batch_id") -> EffectsTable:
    """Analyse a campaign's stored measurements (its objective as readout) for the report and the page."""
    try:
        measurements = [Measurement.model_validate(r) for r in records]
        result = analyze(observations(measurements, spec.objective.target), AnalysisOptions(by=by))
    except (AnalysisError, ValueError) as exc:
        return EffectsTable(unavailable=str(exc))
    table = EffectsTable(headline=(
        f"hit = {spec.objective.target} above {result.threshold:.3g}"
        f"{' (normalised to the on-plate wild type)' if result.normalised else ''}; {result.n_hits} hits in "
        f"{result.n_analysed} of {result.n_runs} runs; {result.n_strata} strata ({by}); {len(result.flags)} flagged"))
    for a in result.associations:
        table.rows.append({
            "intervention": a.intervention, "mh_rr": _num(a.mh_rr), "mh_rr_ci": _ci(a.mh_rr_ci),
            "strata": a.n_strata, "crude_rr": _num(a.crude_rr), "homogeneity_p": _num(a.homogeneity_p),
            "cmh_p": _num(a.cmh_p), "warning": "; ".join(a.warnings),
        })
        table.lines.append(summary_line(a, by))
    table.notes = list(result.notes) + [f"{f['run_id']}: {f['reason']}" for f in result.flags]
    return table
