"""The whole analysis: clean, call hits, stratified association per intervention, GLMs; and its rendering."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from services.analysis.association import Association, associate
from services.analysis.cleaning import Cleaned, CleaningPolicy, clean
from services.analysis.frame import AnalysisError, Observations
from services.analysis.glm import GlmFit, classifier_metrics, odds_ratios, relative_risks

STRATA_COLUMNS = ("batch_id", "plate_id")


@dataclass(frozen=True)
class AnalysisOptions:
    """What to stratify by, what counts as a hit, and how to clean (normalisation and outlier screening
    group by `cleaning.by`, batch_id by default, independently of the stratum of the association)."""

    by: str = "batch_id"
    threshold: float | None = None
    margin: float = 0.1
    folds: int = 5
    seed: int = 0
    cleaning: CleaningPolicy = field(default_factory=CleaningPolicy)


@dataclass
class Analysis:
    """Everything the report, the page and `fluxlab analyze --json` show."""

    readout: str
    by: str
    threshold: float
    reference: float | None
    normalised: bool
    n_runs: int
    n_analysed: int
    n_hits: int
    n_strata: int
    flags: list[dict[str, Any]]
    notes: list[str]
    associations: list[Association]
    log_binomial: GlmFit | None
    logistic: GlmFit | None
    classifier: dict[str, float | None] | None

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (non-finite numbers become null)."""
        return _json_safe(asdict(self))


def hit_threshold(cleaned: Cleaned, options: AnalysisOptions) -> tuple[float, float | None]:
    """The threshold on the analysed scale and the reference (wild-type median) it derives from."""
    table = cleaned.table
    controls = table.loc[table["control"], "norm"].dropna()
    reference = float(controls.median()) if len(controls) else None
    if options.threshold is not None:
        return options.threshold, reference
    if reference is None:
        raise AnalysisError("threshold: no wild-type control to take the reference from; pass --threshold")
    return reference + options.margin * abs(reference), reference


def analyze(obs: Observations, options: AnalysisOptions | None = None) -> Analysis:
    """Run the pipeline on an observation table (BLAS on one thread: these matrices are small, and
    a multi-threaded BLAS on a shared machine made each fit ten times slower)."""
    with threadpool_limits(1):
        return _analyze(obs, options or AnalysisOptions())


def _analyze(obs: Observations, options: AnalysisOptions) -> Analysis:
    if options.by not in STRATA_COLUMNS:
        raise AnalysisError(f"by: '{options.by}' is not a stratum column (use batch_id or plate_id)")
    cleaned = clean(obs, options.cleaning)
    threshold, reference = hit_threshold(cleaned, options)
    table = cleaned.table.copy()
    table["hit"] = (table["norm"].fillna(-math.inf) > threshold).astype(int)
    notes = list(cleaned.notes)
    n_hits = int(table["hit"].sum())
    if n_hits in (0, len(table)):
        notes.append(f"{'no' if n_hits == 0 else 'every'} run is a hit at threshold {threshold:.4g}: "
                     "associations are undefined")
        associations: list[Association] = []
        rr = orr = None
        classifier = None
    else:
        hit, strata = table["hit"].to_numpy(), table[options.by].to_numpy()
        associations = [associate(x, hit, table[x].to_numpy(), strata) for x in obs.interventions]
        associations.sort(key=_sort_key, reverse=True)
        rr = relative_risks(table, obs.interventions, options.by)
        orr = odds_ratios(table, obs.interventions, options.by)
        classifier = classifier_metrics(table, obs.interventions, options.by, folds=options.folds,
                                        seed=options.seed)
    return Analysis(obs.readout, options.by, threshold, reference, cleaned.normalised, len(obs.table), len(table),
                    n_hits, int(table[options.by].nunique()), [asdict(f) for f in cleaned.flags], notes,
                    associations, rr, orr, classifier)


def _sort_key(a: Association) -> float:
    value = a.mh_rr if a.mh_rr is not None else a.crude_rr
    return abs(math.log(value)) if value and value > 0 else -1.0


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def summary_line(a: Association, by: str) -> str:
    """'ΔsdhA: MH RR 3.1 [2.2–4.4] over 6 plates; crude 4.0; homogeneity p 0.4'."""
    unit = "plates" if by == "plate_id" else "batches"
    if a.mh_rr is None:
        return f"{a.intervention}: not estimable ({'; '.join(a.warnings)})"
    lo, hi = a.mh_rr_ci or (None, None)
    line = (f"{a.intervention}: MH RR {_fmt(a.mh_rr)} [{_fmt(lo)}–{_fmt(hi)}] over {a.n_strata} {unit}; "
            f"crude {_fmt(a.crude_rr)}; homogeneity p {_fmt(a.homogeneity_p)}")
    return line + (f" ({'; '.join(a.warnings)})" if a.warnings else "")


def render_text(result: Analysis) -> str:
    """The plain-text report printed by `fluxlab analyze` without --json."""
    lines = [f"readout {result.readout}, hit = value > {result.threshold:.4g}"
             f"{' (normalised to the on-plate wild type)' if result.normalised else ''}; "
             f"{result.n_analysed} of {result.n_runs} runs analysed, {result.n_hits} hits, "
             f"{result.n_strata} strata ({result.by})"]
    lines += [summary_line(a, result.by) for a in result.associations]
    if result.log_binomial and result.log_binomial.effects:
        lines.append(f"GLM ({result.log_binomial.model}): " + "; ".join(
            f"{k} RR {_fmt(e.estimate)} [{_fmt(e.ci[0])}–{_fmt(e.ci[1])}]"
            for k, e in result.log_binomial.effects.items()))
    if result.classifier:
        c = result.classifier
        lines.append("logistic classifier (CV): " + ", ".join(f"{k} {_fmt(c[k])}" for k in
                                                               ("accuracy", "precision", "recall", "f1", "roc_auc")))
    lines += [f"note: {n}" for n in result.notes]
    lines += [f"note ({fit.model}): {n}" for fit in (result.log_binomial, result.logistic) if fit for n in fit.notes]
    lines += [f"flagged {f['run_id']}: {f['reason']}" for f in result.flags]
    return "\n".join(lines)
