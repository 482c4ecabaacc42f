"""Dashboard figures rendered server-side as PNG (matplotlib, Agg). Pure: data in, bytes out."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from schemas import CampaignSpec, Measurement, Sense
from services.analysis.cleaning import set_aside_runs

if TYPE_CHECKING:  # matplotlib loads with the first chart drawn, not with the review service
    from matplotlib.figure import Figure


@dataclass
class DashboardData:
    """The series behind the three dashboard figures."""

    target: str
    measured: list[float] = field(default_factory=list)
    best_so_far: list[float] = field(default_factory=list)
    set_aside: list[int] = field(default_factory=list)
    """Indices into `measured` the best so far ignores (failed QC, an outlier wild-type control)."""
    predicted_vs_measured: list[tuple[float, float, float]] = field(default_factory=list)
    """(predicted mean, predicted sd, measured) per measured run that had a prediction."""
    model_versions: list[int] = field(default_factory=list)
    model_metrics: dict[str, list[float]] = field(default_factory=dict)
    spec: CampaignSpec | None = None
    growth_and_objective: list[tuple[float, float]] = field(default_factory=list)
    """(growth 1/h, objective) per measured run: the production envelope's points."""
    two_objectives: list[tuple[float, float]] = field(default_factory=list)
    """Two-objective campaigns: (target, second target) per measured run with both readings."""
    pareto: list[dict[str, Any]] = field(default_factory=list)
    """The measured Pareto set (`services.domain.summary.pareto_set`)."""
    hypervolume: dict[str, Any] | None = None
    """Hypervolume by round (`services.domain.summary.hypervolume_by_round`)."""


def dashboard_data(spec: CampaignSpec, measurements: list[dict[str, Any]], work_orders: list[dict[str, Any]],
                   proposals: list[dict[str, Any]], models: list[dict[str, Any]]) -> DashboardData:
    """Best-so-far, predicted vs measured and model metrics from the tracker's records."""
    target = spec.objective.target
    data = DashboardData(target=target, spec=spec)
    pick = max if spec.objective.sense == Sense.MAXIMIZE else min
    proposal_of_run = {o["run_id"]: o["proposal_id"] for o in work_orders}
    predictions = {p["id"]: (p.get("predicted") or {}).get(target) for p in proposals}
    parsed = [Measurement.model_validate(record) for record in measurements]
    set_aside = set_aside_runs(parsed, target)
    for record, measurement in zip(measurements, parsed, strict=True):
        value = measurement.readout(target)
        if value is None:
            continue
        if measurement.growth_rate is not None:
            data.growth_and_objective.append((measurement.growth_rate.value, value))
        previous = data.best_so_far[-1] if data.best_so_far else math.nan
        if measurement.run_id in set_aside:
            data.set_aside.append(len(data.measured))
            data.best_so_far.append(previous)
        else:
            data.best_so_far.append(value if math.isnan(previous) else pick(previous, value))
        data.measured.append(value)
        prediction = predictions.get(proposal_of_run.get(record["run_id"], ""))
        if prediction:
            data.predicted_vs_measured.append((float(prediction["mean"]), float(prediction["sd"]), value))
    for model in models:
        data.model_versions.append(int(model.get("version", len(data.model_versions))))
        for name, value in (model.get("metrics") or {}).items():
            if isinstance(value, int | float) and math.isfinite(value):
                data.model_metrics.setdefault(name, []).append(float(value))
    n = len(data.model_versions)
    data.model_metrics = {k: v for k, v in data.model_metrics.items() if len(v) == n}
    if spec.objective.second_target:
        _add_two_objectives(data, spec, parsed, work_orders, proposals)
    return data


def _add_two_objectives(data: DashboardData, spec: CampaignSpec, measurements: list[Measurement],
                        work_orders: list[dict[str, Any]], proposals: list[dict[str, Any]]) -> None:
    from services.domain.summary import hypervolume_by_round, pareto_set

    first, second = spec.objective.target, spec.objective.second_target or ""
    data.two_objectives = [(a, b) for m in measurements
                           if (a := m.readout(first)) is not None and (b := m.readout(second)) is not None]
    data.pareto = pareto_set(spec, measurements)
    data.hypervolume = hypervolume_by_round(spec, proposals, work_orders, measurements)


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


def _axes(width: float, height: float) -> tuple[Figure, Any]:
    """A figure outside pyplot (no global state: safe to draw from worker threads)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.subplots()


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_xticks([])
    ax.set_yticks([])


def _chart(width: float, height: float, title: str | None, empty: str, draw: Callable[[Any], None]) -> bytes:
    """One chart: `draw` on its axes, or the note `empty` across them when it is not ''; then the title."""
    fig, ax = _axes(width, height)
    if empty:
        _empty(ax, empty)
    else:
        draw(ax)
    if title is not None:
        ax.set_title(title)
    return _png(fig)


def best_so_far_png(data: DashboardData) -> bytes:
    """Measured objective per experiment and the best so far."""
    def draw(ax: Any) -> None:
        x = list(range(1, len(data.measured) + 1))
        ax.plot(x, data.measured, "o", alpha=0.5, label="measured")
        if data.set_aside:
            ax.plot([x[i] for i in data.set_aside], [data.measured[i] for i in data.set_aside], "x", color="0.3",
                    label="set aside (failed QC, outlier control)")
        ax.step(x, data.best_so_far, where="post", color="C3", label="best so far")
        ax.set_xlabel("experiment")
        unit = "1/h" if data.target == "growth" else (
            "assay units" if data.spec is None or data.spec.is_function else "mmol/gDW/h")
        ax.set_ylabel(f"{data.target} ({unit})")
        ax.legend(loc="best")
    return _chart(5.5, 3.6, "Best so far", "" if data.measured else "no measurements yet", draw)


def predicted_vs_measured_png(data: DashboardData) -> bytes:
    """Predicted (± sd) against measured objective, with the y = x line."""
    points = data.predicted_vs_measured

    def draw(ax: Any) -> None:
        predicted, sd, measured = zip(*points, strict=True)
        ax.errorbar(measured, predicted, yerr=sd, fmt="o", alpha=0.7, capsize=2)
        low, high = min(*predicted, *measured), max(*predicted, *measured)
        pad = (high - low) * 0.05 or 1.0
        ax.plot([low - pad, high + pad], [low - pad, high + pad], "k--", lw=1, label="y = x")
        ax.set_xlabel(f"measured {data.target}")
        ax.set_ylabel(f"predicted {data.target}")
        ax.legend(loc="best")
    return _chart(4.6, 4.2, "Predicted vs measured", "" if points else "no measured runs with predictions yet", draw)


def model_metrics_png(data: DashboardData) -> bytes:
    """Each numeric model metric over model versions."""
    def draw(ax: Any) -> None:
        for name, values in sorted(data.model_metrics.items()):
            ax.plot(data.model_versions, values, "o-", label=name)
        ax.set_xlabel("model version")
        ax.legend(loc="best", fontsize="small")
    trained = data.model_versions and data.model_metrics
    return _chart(5.5, 3.6, "Model metrics", "" if trained else "no trained models yet", draw)


def envelope_png(data: DashboardData) -> bytes:
    """Growth vs objective: the organism model's production envelope, measured designs, the growth floor."""
    from services.report import envelope

    spec = data.spec
    if spec is None or spec.is_function:
        return _chart(5.5, 3.6, None, "no production envelope for a black-box function", lambda ax: None)
    return _chart(5.5, 3.6, None, "", lambda ax: envelope.draw(ax, spec, envelope.envelope_of(spec),
                                                                  data.growth_and_objective))


def pareto_png(data: DashboardData) -> bytes:
    """Two objectives: the measured Pareto front and the hypervolume by round (the report's figure)."""
    from matplotlib.figure import Figure

    from services.report.front import draw_front, draw_hypervolume

    fig = Figure(figsize=(9.0, 3.6))
    ax, hv_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    if data.spec is None or not data.spec.objective.second_target:
        _empty(ax, "one objective: no Pareto front")
    elif not data.two_objectives:
        _empty(ax, "no run with both readings yet")
    else:
        draw_front(ax, data.spec, data.two_objectives, data.pareto, (data.hypervolume or {}).get("reference"))
    draw_hypervolume(hv_ax, data.hypervolume)
    return _png(fig)


CHARTS = {"envelope": envelope_png, "best": best_so_far_png, "parity": predicted_vs_measured_png,
          "metrics": model_metrics_png, "pareto": pareto_png}


def charts_for(spec: CampaignSpec) -> list[str]:
    """The dashboard's charts for a campaign (the Pareto front only with a second target)."""
    return [name for name in CHARTS if name != "pareto" or spec.objective.second_target]


def curves_png(group: Any, why_not: str | None) -> bytes:
    """One design's measured ln OD curves and, where predicted, the dynamic model's 95 % band; below the plot,
    where the prediction comes from or why there is none."""
    from services.report.curves import draw

    fig, ax = _axes(6.0, 4.2)
    draw(ax, group)
    caption = ("band: 95 % (predicted mean ± 1.96 sd: ensemble spread and residual noise)"
               if group.prediction is not None else (why_not or "no model prediction"))
    fig.text(0.01, 0.005, caption, fontsize=6, color="0.35", va="bottom")
    fig.subplots_adjust(bottom=0.2)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()
