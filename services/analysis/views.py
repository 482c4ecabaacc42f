"""The batch-adjusted effects table shown in the campaign report and on the dashboard."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

from schemas import CampaignSpec, Measurement
from services.analysis.analyze import Analysis, AnalysisOptions, analyze, summary_line
from services.analysis.frame import AnalysisError, is_wild_type, observations
from services.review.names import gene

log = logging.getLogger(__name__)

MIN_GROUP = 3
"""Hits and non-hits each needed before batch-adjusted effects mean anything (fewer: one plain sentence)."""


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
    except AnalysisError as exc:
        wild_type = any(is_wild_type(m.design) for m in measurements)
        return EffectsTable(unavailable=plain_reason(exc, spec.objective.target, wild_type))
    except (ValueError, ArithmeticError) as exc:  # a fit the data cannot support: logged, said in words
        log.warning("%s: batch-adjusted effects not computed: %s", spec.id, exc)
        return EffectsTable(unavailable="The batch-adjusted effects could not be computed for these runs "
                                        "(a statistical fit failed on them).")
    too_thin = degenerate(result, spec.objective.target, by)
    if too_thin:
        return EffectsTable(unavailable=too_thin)
    table = EffectsTable(headline=(
        f"hit = {spec.objective.target} above {result.threshold:.3g}"
        f"{' (normalised to the on-plate wild type)' if result.normalised else ''}; {result.n_hits} hits in "
        f"{result.n_analysed} of {result.n_runs} runs; {result.n_strata} strata ({by}); {len(result.flags)} flagged"))
    model = None if spec.is_function else spec.organism.model
    for a in (dataclasses.replace(a, intervention=named(a.intervention, model)) for a in result.associations):
        table.rows.append({
            "intervention": a.intervention, "mh_rr": _num(a.mh_rr), "mh_rr_ci": _ci(a.mh_rr_ci),
            "strata": a.n_strata, "crude_rr": _num(a.crude_rr), "homogeneity_p": _num(a.homogeneity_p),
            "cmh_p": _num(a.cmh_p), "warning": "; ".join(a.warnings),
        })
        table.lines.append(summary_line(a, by))
    table.notes = list(result.notes) + [f"{f['run_id']}: {f['reason']}" for f in result.flags]
    return table


def named(label: str, model: str | None) -> str:
    """An intervention label with the gene's name: 'Δb0723' -> 'ΔsdhA (b0723)', 'b3956↑' -> 'ppc (b3956)↑'."""
    if label.startswith("Δ"):
        return "Δ" + gene(label[1:], model)
    if label[-1:] in ("↑", "↓"):
        return gene(label[:-1], model) + label[-1]
    return label


def plain_reason(exc: AnalysisError, target: str, wild_type_measured: bool = False) -> str:
    """What an analysis input error means for a campaign's data, in words (no field names, no CLI flags)."""
    name = str(exc).split(":", 1)[0]
    reasons = {
        "measurements": "No run has been measured yet: there is nothing to analyse.",
        "readout": f"No measured run reports {target}: there is nothing to analyse.",
        "design": "No run carries a knockout, an expression change or a medium change: there are no "
                  "interventions to compare.",
        "threshold": ("Every wild-type (unmodified) run was set aside by the cleaning (a QC flag, or an outlier "
                      "among the other runs of its batch), so there is no reference value for calling a run a hit."
                      if wild_type_measured else
                      "No wild-type (unmodified) strain was measured, so there is no reference value for "
                      "calling a run a hit."),
    }
    return reasons.get(name, "The batch-adjusted effects cannot be computed for these runs.")


def degenerate(result: Analysis, target: str, by: str) -> str | None:
    """Why this data cannot support batch-adjusted effects, in one sentence (None when it can): one batch,
    no hit or every run a hit, or too few hits or non-hits to compare."""
    unit, units = ("plate", "plates") if by == "plate_id" else ("batch", "batches")
    hit = f"a hit is a run with {target} above {result.threshold:.3g}"
    if result.normalised:
        hit += " times the wild type measured beside it"
    elif result.reference is not None:
        hit += f", the wild type's {result.reference:.3g} plus a margin"
    n, hits = result.n_analysed, result.n_hits
    if result.n_strata < 2:
        return (f"All {n} runs are in one {unit}, so there is no {unit} effect to adjust for: spread the designs "
                f"over at least two {units}, with the wild type in each.")
    if hits in (0, n):
        return (f"{'None' if hits == 0 else 'All'} of the {n} runs are hits ({hit}): with nothing to compare "
                "against, no effect can be estimated.")
    fewer, which = min((hits, ("is a hit", "are hits")), (n - hits, ("is not a hit", "are not hits")))
    if fewer < MIN_GROUP:
        return (f"Only {fewer} of the {n} runs {which[fewer != 1]} ({hit}): batch-adjusted effects need at "
                f"least {MIN_GROUP} hits and {MIN_GROUP} non-hits, spread over the {units}.")
    if not any(a.n_strata for a in result.associations):
        return (f"No {unit} holds runs both with and without any one intervention, so no effect can be "
                f"told apart from the {unit} it was run in.")
    return None
