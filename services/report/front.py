"""The two-objective figure: measured designs, their Pareto front and the hypervolume by round.

Works on matplotlib Axes of either kind (report: pyplot; review dashboard: a bare Figure), so the report and
the review page draw the same picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from schemas import CampaignSpec


def draw_front(ax: Any, spec: CampaignSpec, points: Sequence[tuple[float, float]],
               front: Sequence[dict[str, Any]], reference: dict[str, float] | None = None) -> None:
    """Every measured (target, second target) point, the non-dominated ones joined, and the reference point."""
    first, second = spec.objective.target, spec.objective.second_target or ""
    ax.scatter([a for a, _ in points], [b for _, b in points], s=12, color="0.6", label="measured")
    best = sorted((p[first], p[second]) for p in front)
    ax.plot([a for a, _ in best], [b for _, b in best], "o-", color="C1", label="Pareto front")
    if reference:
        ax.plot([reference[first]], [reference[second]], "x", color="C3", label="hypervolume reference")
    ax.set_xlabel(f"{first} ({spec.objective.sense.value})")
    ax.set_ylabel(f"{second} ({spec.objective.second_sense.value})")
    ax.set_title("Pareto front of the measured designs")
    ax.legend(fontsize=8)


def draw_hypervolume(ax: Any, hypervolume: dict[str, Any] | None) -> None:
    """The hypervolume of the measured front after each proposal round (`summary.hypervolume_by_round`)."""
    rounds = (hypervolume or {}).get("rounds") or []
    values = (hypervolume or {}).get("by_round") or []
    shown = [(r, v) for r, v in zip(rounds, values, strict=False) if v is not None]
    if shown:
        ax.plot([r for r, _ in shown], [v for _, v in shown], "o-", color="C0")
        ax.set_title(f"Hypervolume by round (last {shown[-1][1]:.3g})")
    else:
        ax.text(0.5, 0.5, "no round with both readings yet", ha="center", va="center", transform=ax.transAxes,
                color="grey")
        ax.set_title("Hypervolume by round")
    ax.set_xlabel("round")
    ax.set_ylabel("hypervolume")
