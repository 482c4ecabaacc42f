"""The default strategy: GA over the surrogate, Ax over the measurements, local moves and random designs, pooled.

Every candidate is scored with the surrogate's acquisition. The planner keeps the GP's picks
(``bo_share`` slots, so a poor ensemble cannot stall the campaign) and fills the rest of the batch
greedily by acquisition with a near-duplicate penalty; local moves around the best measured designs
let the batch finish what the surrogate only roughly located.
Without a surrogate (no model trained yet) the pool is BO's Sobol/GP choice plus random designs.
"""

from __future__ import annotations

from collections.abc import Callable

from schemas import Design
from services.optimizer import bo, ga, local, random_search
from services.optimizer.context import Candidate, Context

STRATEGY = "hybrid"


def bo_share(n: int) -> int:
    """Slots of an ``n``-design batch reserved for the GP's picks (they stand even when the ensemble disagrees)."""
    return max(1, n // 4)


def local_share(n: int) -> int:
    """Slots reserved for one-step moves around the best measured designs (refining the incumbent)."""
    return max(1, n // 4)


def novelty(design: Design, ctx: Context) -> float:
    """1 for a design that knocks out a gene no measured design has knocked out, less the more it was tried.

    A surrogate cannot tell apart knockouts it has never seen; this count-based bonus makes the reserved
    local slots try each candidate gene next to the incumbent before trying one twice.
    """
    if not design.knockouts:
        return 0.0
    counts = {g: 0 for g in design.knockouts}
    for measured, _ in ctx.history.measured:
        for gene in measured.knockouts:
            if gene in counts:
                counts[gene] += 1
    return max(1.0 / (1.0 + c) for c in counts.values())


def local_picks(pool: list[Candidate], n: int, ctx: Context, accept: Callable[[Candidate], bool]) -> list[Candidate]:
    """The reserved local slots: one-step moves ranked by acquisition (scaled to [0, 1]) plus novelty."""
    moves = [c for c in pool if c.strategy.endswith(":" + local.STRATEGY)]
    if not moves or n <= 0:
        return []
    acq = [c.acquisition if c.acquisition is not None else 0.0 for c in moves]
    low, high = min(acq), max(acq)
    span = (high - low) or 1.0
    ranked = sorted(moves, key=lambda c: -(((c.acquisition or 0.0) - low) / span + novelty(c.design, ctx)))
    return [c for c in ranked if accept(c)][:n]


def propose(n: int, ctx: Context, use_bo: bool = True, ga_config: ga.GAConfig | None = None) -> list[Candidate]:
    """A pool of candidates from GA, BO and random search, best acquisition first."""
    pool: list[Candidate] = []
    if use_bo:
        # The GP's batch costs seconds per design; a few of its picks are enough to add its view.
        pool += bo.propose(bo_share(n), ctx)
    if ctx.surrogate is not None:
        pool += ga.propose(n, ctx, ga_config) + local.propose(ctx)
    pool += random_search.propose(2 * n, ctx)
    seen: set[str] = set()
    unique: list[Candidate] = []
    for candidate in pool:
        key = candidate.design.key()
        if key not in seen:
            seen.add(key)
            candidate.strategy = f"{STRATEGY}:{candidate.strategy}"
            unique.append(candidate)
    if ctx.surrogate is None:
        return unique
    return sorted(unique, key=lambda c: -(c.acquisition if c.acquisition is not None else -float("inf")))
