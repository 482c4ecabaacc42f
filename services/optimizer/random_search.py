"""The baseline: uniformly random valid designs."""

from __future__ import annotations

from services.optimizer.context import Candidate, Context

STRATEGY = "random"


def propose(n: int, ctx: Context) -> list[Candidate]:
    """``n`` distinct random valid designs not measured, pending, failed or rejected."""
    return ctx.scored(ctx.space.sample_unique(n, ctx.rng, exclude=ctx.excluded), STRATEGY)
