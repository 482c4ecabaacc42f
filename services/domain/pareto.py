"""Two (or more) objectives: the non-dominated set (used by campaign summaries and reports)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from schemas import Sense


def non_dominated(values: np.ndarray | Sequence[Sequence[float]], senses: Sequence[Sense] | None = None) -> list[int]:
    """Indices of the Pareto-optimal rows of ``values`` (one column per objective), in input order.

    A row is dominated when another is at least as good in every objective and better in one.
    ``senses`` defaults to maximising every column; identical rows are all kept.
    """
    points = np.asarray(values, dtype=float)
    if points.size == 0:
        return []
    points = points.reshape(len(points), -1)
    signs = np.array([1.0 if s == Sense.MAXIMIZE else -1.0 for s in (senses or [Sense.MAXIMIZE] * points.shape[1])])
    scores = points * signs
    keep: list[int] = []
    for i, row in enumerate(scores):
        at_least = np.all(scores >= row, axis=1)
        better = np.any(scores > row, axis=1)
        if not np.any(at_least & better):
            keep.append(i)
    return keep


def pareto_front(
    items: Sequence[tuple[object, float, float]], first: Sense = Sense.MAXIMIZE, second: Sense = Sense.MAXIMIZE
) -> list[tuple[object, float, float]]:
    """The non-dominated (item, objective 1, objective 2) triples, sorted by the first objective, best first."""
    if not items:
        return []
    keep = non_dominated([(a, b) for _, a, b in items], [first, second])
    sign = 1.0 if first == Sense.MAXIMIZE else -1.0
    return sorted((items[i] for i in keep), key=lambda t: -sign * t[1])
