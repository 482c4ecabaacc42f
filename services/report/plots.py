"""The report's PNG plots (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from schemas import CampaignSpec, Measurement
from services.report import envelope
from services.report.front import draw_front, draw_hypervolume
from services.report.prospective import Pair


def production_envelope(spec: CampaignSpec, measurements: list[Measurement], path: Path) -> None:
    """Growth vs product flux: the organism model's envelope, the measured designs and the growth floor."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    envelope.draw(ax, spec, envelope.envelope_of(spec), envelope.measured_points(spec, measurements))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def best_so_far(values: list[float], path: Path, true_optimum: float | None, reference: float | None,
                target: str, maximize: bool = True) -> None:
    """Best measured objective against experiments, with the true optimum and the reference."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    if values:
        best = np.maximum.accumulate(values) if maximize else np.minimum.accumulate(values)
        x = np.arange(1, len(values) + 1)
        ax.scatter(x, values, s=12, color="0.6", label="measured")
        ax.step(x, best, where="post", color="C0", lw=2, label="best so far")
    if true_optimum is not None:
        ax.axhline(true_optimum, color="C3", ls="--", label=f"true optimum ({true_optimum:.3g})")
        ax.axhline(0.95 * true_optimum, color="C3", ls=":", lw=1, label="95 % of optimum")
    if reference is not None:
        ax.axhline(reference, color="C2", ls="-.", label=f"wild type ({reference:.3g})")
    ax.set_xlabel("experiments")
    ax.set_ylabel(target)
    ax.set_title("Best so far")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def predicted_vs_measured(pairs: list[Pair], path: Path, target: str) -> None:
    """Prospective predictions (± 1.96 sd) against measurements, with the y = x line."""
    fig, ax = plt.subplots(figsize=(5.2, 5.2))
    if pairs:
        mu = np.array([p.predicted for p in pairs])
        sd = np.array([p.sd for p in pairs])
        y = np.array([p.measured for p in pairs])
        rounds = np.array([p.round for p in pairs])
        ax.errorbar(mu, y, xerr=1.959964 * sd, fmt="none", ecolor="0.75", lw=0.8)
        levels = np.unique(rounds)  # one colour per round, ticks on whole rounds only
        cmap = plt.get_cmap("viridis", len(levels))
        norm = matplotlib.colors.BoundaryNorm(np.append(levels - 0.5, levels[-1] + 0.5), cmap.N)
        points = ax.scatter(mu, y, c=rounds, cmap=cmap, norm=norm, s=20, zorder=3)
        fig.colorbar(points, ax=ax, label="round", ticks=levels)
        lo, hi = float(min(mu.min(), y.min())), float(max(mu.max(), y.max()))
        pad = 0.05 * (hi - lo or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=1, label="y = x")
        # the same range on both axes (error bars may run off it), so y = x is the diagonal
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_aspect("equal")
        ax.legend(fontsize=8)
    ax.set_xlabel(f"predicted {target} (before the experiment)")
    ax.set_ylabel(f"measured {target}")
    ax.set_title("Prospective predictions")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


LABELS = {
    "prev_model_mae_objective": "objective MAE of the previous\nversion on the new batch",
    "prev_model_coverage95_objective": "95 % coverage of the previous\nversion on the new batch",
    "prev_model_mae_growth": "growth MAE of the previous\nversion on the new batch",
    "train_s": "training time (s)",
}


def model_metrics(models: list[dict[str, Any]], path: Path, max_panels: int = 4) -> None:
    """Model metrics by version (the numeric metrics every version reports)."""
    versions = [m["version"] for m in models]
    keys: list[str] = []
    if models:
        # version 1 has no earlier model to check: plot what most versions report
        counts: dict[str, int] = {}
        for m in models:
            for key in m["metrics"]:
                counts[key] = counts.get(key, 0) + 1
        common = {k for k, c in counts.items() if c >= max(1, len(models) - 1)}
        preferred = [k for k in ("prev_model_mae_objective", "prev_model_coverage95_objective",
                                 "prev_model_mae_growth", "val_r2", "train_s") if k in common]
        keys = (preferred + sorted(common - set(preferred)))[:max_panels - 1]
    fig, axes = plt.subplots(1, len(keys) + 1, figsize=(3.2 * (len(keys) + 1), 3.2), squeeze=False)
    axes[0][0].plot(versions, [m["n_train"] for m in models], "o-")
    axes[0][0].set_title("training measurements")
    for ax, key in zip(axes[0][1:], keys, strict=False):
        points = [(m["version"], m["metrics"][key]) for m in models if key in m["metrics"]]
        ax.plot([v for v, _ in points], [y for _, y in points], "o-", color="C1")
        ax.set_title(LABELS.get(key, key), fontsize=9)
    for ax in axes[0]:
        ax.set_xlabel("model version")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def pareto(spec: CampaignSpec, measurements: list[Measurement], front: list[dict[str, Any]], path: Path,
           hypervolume: dict[str, Any] | None = None) -> None:
    """Every measured design in (target, second target), the non-dominated ones joined as the front, and the
    hypervolume by round beside it."""
    first, second = spec.objective.target, spec.objective.second_target or ""
    points = [(a, b) for m in measurements if (a := m.readout(first)) is not None and (b := m.readout(second))
              is not None]
    fig, (ax, hv_ax) = plt.subplots(1, 2, figsize=(10.4, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    draw_front(ax, spec, points, front, (hypervolume or {}).get("reference"))
    draw_hypervolume(hv_ax, hypervolume)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


MAX_CURVE_PANELS = 9
"""Designs drawn in the report's time-course figure (the best first, then in the order they were measured)."""


def time_courses(groups: list[Any], path: Path) -> None:
    """One panel per design: measured ln OD curves and, where predicted, the dynamic model's 95 % band."""
    from services.report.curves import draw

    shown = groups[:MAX_CURVE_PANELS]
    cols = min(3, len(shown))
    rows = (len(shown) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False)
    for ax, group in zip(axes.flat, shown, strict=False):
        draw(ax, group)
    for ax in list(axes.flat)[len(shown):]:
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
