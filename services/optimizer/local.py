"""Local moves around the best measured designs: one knockout added, removed or swapped, one level changed.

With a trust radius above 1 (`propose`'s ``radius``, set by `services.optimizer.adaptive.trust_radius`) the pool
also holds designs up to that many such moves away (random walks from each centre), for the surrogate to rank.
"""

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


WALKS = 96
"""Random walks per centre and trust radius step beyond one move (radius 3: 96 of two moves and 96 of three)."""


TRIES = 4
"""Random moves tried per step of a walk before it gives up (a move may be invalid: forbidden pairs, caps)."""


def walk(space: DesignSpace, design: Design, steps: int, rng: np.random.Generator) -> Design | None:
    """A valid design ``steps`` random one-step moves from ``design`` (None when a step finds no valid move)."""
    x = space.encode(design)
    for _ in range(steps):
        moves = list(_moves(space, x))
        for _ in range(TRIES):
            if not moves:
                return None
            candidate = space.repair(space.decode(moves[int(rng.integers(len(moves)))]), rng)
            if candidate.key() != design.key() and space.is_valid(candidate)[0]:
                x = space.encode(candidate)
                break
        else:
            return None
    return space.decode(x)


def propose(ctx: Context, top: int = 3, radius: int = 1) -> list[Candidate]:
    """Neighbours of the ``top`` best measured designs that are not excluded, scored when possible.

    ``radius`` > 1 adds `WALKS` random walks of each length 2 .. radius from each centre.
    """
    ranked = sorted(ctx.history.measured, key=lambda obs: -ctx.sign * obs[1])[:top]
    seen = set(ctx.excluded)
    designs: list[Design] = []

    def add(candidate: Design | None) -> None:
        if candidate is not None and candidate.key() not in seen:
            seen.add(candidate.key())
            designs.append(candidate)

    for design, _ in ranked:
        for candidate in neighbours(ctx.space, design, ctx.rng):
            add(candidate)
    for steps in range(2, radius + 1):
        for design, _ in ranked:
            for _ in range(WALKS):
                add(walk(ctx.space, design, steps, ctx.rng))
    return ctx.scored(designs, STRATEGY)
