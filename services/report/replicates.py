"""Designs measured more than once: their spread, and the measurement noise pooled over them."""

from __future__ import annotations

import math
from dataclasses import dataclass

from schemas import Design, Measurement


@dataclass(frozen=True)
class ReplicateGroup:
    """One design's readings of the objective (two or more)."""

    design: Design
    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        """Mean reading."""
        return sum(self.values) / len(self.values)

    @property
    def sd(self) -> float:
        """Sample standard deviation of the readings."""
        m = self.mean
        return math.sqrt(sum((v - m) ** 2 for v in self.values) / (len(self.values) - 1))


def replicate_groups(target: str, measurements: list[Measurement]) -> list[ReplicateGroup]:
    """Designs with at least two readings of `target`, most readings first."""
    by_key: dict[str, tuple[Design, list[float]]] = {}
    for m in sorted(measurements, key=lambda m: m.measured_at):
        value = m.readout(target)
        if value is not None:
            by_key.setdefault(m.design.key(), (m.design, []))[1].append(value)
    groups = [ReplicateGroup(d, tuple(v)) for d, v in by_key.values() if len(v) >= 2]
    return sorted(groups, key=lambda g: -len(g.values))


def pooled_sd(groups: list[ReplicateGroup]) -> tuple[float | None, int]:
    """The within-design standard deviation pooled over the groups, and its degrees of freedom (None without any)."""
    dof = sum(len(g.values) - 1 for g in groups)
    if dof == 0:
        return None, 0
    ss = sum(sum((v - g.mean) ** 2 for v in g.values) for g in groups)
    return math.sqrt(ss / dof), dof
