"""Local moves around the best measured designs: one knockout added, removed or swapped, one level changed."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from schemas import Design
from services.optimizer.context import Candidate, Context
from services.optimizer.space import DesignSpace

STRATEGY = "local"
CONTINUOUS_STEPS = (-0.1, 0.1)
"""Moves of a continuous gene, as fractions of its range."""


def _moves(space: DesignSpace, x: np.ndarray) -> Iterator[np.ndarray]:
    ko = [i for i, g in enumerate(space.genes) if g.kind == "knockout"]
    on = [i for i in ko if x[i] > 0.5]
    off = [i for i in ko if x[i] <= 0.5]
    for i in ko:
        y = x.copy()
        y[i] = 0.0 if x[i] > 0.5 else 1.0
        yield y
    for i in on:
        for j in off:
            y = x.copy()
            y[i], y[j] = 0.0, 1.0
            yield y
    for i, g in enumerate(space.genes):
        if g.kind == "level":
            for level in range(len(g.levels)):
                if level != round(x[i]):
                    y = x.copy()
                    y[i] = float(level)
                    yield y
        elif g.kind != "knockout":
            for step in CONTINUOUS_STEPS:
                y = x.copy()
                y[i] = x[i] + step * space.spans[i]
                yield y


def neighbours(space: DesignSpace, design: Design, rng: np.random.Generator) -> list[Design]:
    """Valid designs one move away from ``design`` (distinct, the design itself excluded)."""
    seen = {design.key()}
    out: list[Design] = []
    for x in _moves(space, space.encode(design)):
        candidate = space.repair(space.decode(x), rng)
        key = candidate.key()
        if key not in seen and space.is_valid(candidate)[0]:
            seen.add(key)
            out.append(candidate)
    return out


def propose(ctx: Context, top: int = 3) -> list[Candidate]:
    """Neighbours of the ``top`` best measured designs that are not excluded, scored when possible."""
    ranked = sorted(ctx.history.measured, key=lambda obs: -ctx.sign * obs[1])[:top]
    seen = set(ctx.excluded)
    designs: list[Design] = []
    for design, _ in ranked:
        for candidate in neighbours(ctx.space, design, ctx.rng):
            if candidate.key() not in seen:
                seen.add(candidate.key())
                designs.append(candidate)
    return ctx.scored(designs, STRATEGY)
