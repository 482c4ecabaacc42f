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


def _signs(senses: Sequence[Sense] | None) -> np.ndarray:
    return np.array([1.0 if s == Sense.MAXIMIZE else -1.0 for s in (senses or [Sense.MAXIMIZE] * 2)])


def hypervolume_2d(points: np.ndarray | Sequence[Sequence[float]], reference: np.ndarray | Sequence[float],
                   senses: Sequence[Sense] | None = None) -> float:
    """Area of objective space the points dominate and that dominates ``reference`` (two objectives).

    ``senses`` (default: maximise both) says which way each column is better; points no better than the
    reference in both objectives add nothing. With both maximised, one point (a, b) above a reference (r, s)
    gives (a - r) * (b - s); a dominated point adds nothing.
    """
    signs = _signs(senses)
    pts = np.asarray(points, dtype=float).reshape(-1, 2) * signs
    ref = np.asarray(reference, dtype=float) * signs
    pts = pts[np.all(np.isfinite(pts), axis=1) & (pts[:, 0] > ref[0]) & (pts[:, 1] > ref[1])]
    if not len(pts):
        return 0.0
    order = np.lexsort((-pts[:, 1], -pts[:, 0]))  # first objective best first, ties by the second
    volume, height = 0.0, float(ref[1])
    for x, y in pts[order]:
        if y > height:
            volume += (float(x) - float(ref[0])) * (float(y) - height)
            height = float(y)
    return volume


def hypervolume_improvement(candidates: np.ndarray, front: np.ndarray,
                            reference: np.ndarray | Sequence[float]) -> np.ndarray:
    """Hypervolume each candidate point would add to ``front`` (both objectives maximised), vectorised.

    ``candidates`` is (..., 2); the answer has the leading shape. The region ``front`` dominates above the
    reference is a staircase; a candidate adds the part of its box [reference, candidate] above that staircase.
    """
    cand = np.asarray(candidates, dtype=float)
    flat = cand.reshape(-1, 2)
    ref = np.asarray(reference, dtype=float)
    pts = np.asarray(front, dtype=float).reshape(-1, 2)
    pts = pts[(pts[:, 0] > ref[0]) & (pts[:, 1] > ref[1])]
    if len(pts):
        pts = pts[non_dominated(pts)]
        pts = pts[np.lexsort((-pts[:, 1], pts[:, 0]))]  # first ascending, so the second descends
    # the staircase: height pts[j, 1] over (edge j, edge j + 1], the reference's height beyond the last point
    edges = np.concatenate([[ref[0]], pts[:, 0], [np.inf]])
    heights = np.concatenate([pts[:, 1], [ref[1]]])
    lows, highs = edges[:-1], edges[1:]
    width = np.clip(np.minimum(flat[:, :1], highs) - np.maximum(lows, ref[0]), 0.0, None)
    rise = np.clip(flat[:, 1:] - np.maximum(heights, ref[1]), 0.0, None)
    gain = np.where(np.isfinite(width * rise), width * rise, 0.0).sum(axis=1)
    return gain.reshape(cand.shape[:-1])
