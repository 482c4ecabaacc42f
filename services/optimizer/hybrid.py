"""The default strategy: GA over the surrogate, Ax over the measurements, local moves and random designs, pooled.

Every candidate is scored with the surrogate's acquisition. The planner keeps the GP's picks
(``bo_share`` slots, so a poor ensemble cannot stall the campaign) and fills the rest of the batch
greedily by acquisition with a near-duplicate penalty; local moves around the best measured designs
let the batch finish what the surrogate only roughly located.
Without a surrogate (no model trained yet) the pool is BO's Sobol/GP choice plus random designs.
"""

from __future__ import annotations

from services.optimizer import bo, ga, local, random_search
from services.optimizer.context import Candidate, Context

STRATEGY = "hybrid"


def bo_share(n: int) -> int:
    """Slots of an ``n``-design batch reserved for the GP's picks (they stand even when the ensemble disagrees)."""
    return max(1, n // 4)


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
