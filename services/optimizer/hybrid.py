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


def local_share(n: int, stalled: bool = False) -> int:
    """Slots reserved for one-step moves around the best measured designs (refining the incumbent).

    A quarter of the batch; half once the incumbent has stood for a whole batch (``stalled``), when the
    model-wide search has stopped paying and the incumbent's untried neighbours are the best bet.
    """
    return max(1, (3 * n) // 4 if stalled else n // 4)


def stalled(ctx: Context, n: int) -> bool:
    """True when the best measured design is older than the last ``n`` measurements."""
    measured = ctx.history.measured
    if len(measured) <= n:
        return False
    best = max(range(len(measured)), key=lambda i: ctx.sign * measured[i][1])
    return len(measured) - 1 - best >= n


def novelty(design: Design, ctx: Context) -> float:
    """1 for a design whose knockout set no measured or pending design has, 1 / (1 + k) after k of them.

    A surrogate cannot tell apart knockouts it has never seen in this context; this count-based bonus
    makes the reserved local slots try each strain next to the incumbent (e.g. each candidate gene in
    the slot of a knockout that did nothing) before re-tuning the expression of a strain already built.
    """
    strain = frozenset(design.knockouts)
    tried = sum(frozenset(d.knockouts) == strain for d, _ in ctx.history.measured)
    tried += sum(frozenset(d.knockouts) == strain for d in ctx.history.pending)
    return 1.0 / (1.0 + tried)


def local_picks(pool: list[Candidate], n: int, ctx: Context, accept: Callable[[Candidate], bool],
                fresh_share: float = 0.5) -> list[Candidate]:
    """The reserved local slots, alternating between two kinds of one-step move.

    New strains (a knockout added, removed or swapped: a strain no measured or pending design has) rank
    by acquisition (scaled to [0, 1]) plus novelty; re-tuned strains (a level changed on a strain already
    built) rank by acquisition alone. Alternating keeps both going: the knockout slot that did nothing
    gets tried with other genes while the expression of the best strain is still refined. At most one
    pick per strain.
    """
    moves = [c for c in pool if c.strategy.endswith(":" + local.STRATEGY)]
    if not moves or n <= 0:
        return []
    values = [ctx.sign * c.mean if c.mean is not None else 0.0 for c in moves]
    low, high = min(values), max(values)
    span = (high - low) or 1.0

    def scaled(c: Candidate) -> float:
        return ((ctx.sign * c.mean if c.mean is not None else 0.0) - low) / span

    fresh = sorted((c for c in moves if novelty(c.design, ctx) >= 1.0),
                   key=lambda c: -(scaled(c) + novelty(c.design, ctx)))
    retuned = sorted((c for c in moves if novelty(c.design, ctx) < 1.0), key=lambda c: -scaled(c))
    queues = {"fresh": iter(fresh), "retuned": iter(retuned)}
    picks: list[Candidate] = []
    strains: set[frozenset[str]] = set()
    taken = {"fresh": 0, "retuned": 0}
    while len(picks) < n and queues:
        behind = "fresh" if taken["fresh"] <= fresh_share * len(picks) else "retuned"
        kind = behind if behind in queues else next(iter(queues))
        candidate = next((c for c in queues[kind] if frozenset(c.design.knockouts) not in strains and accept(c)), None)
        if candidate is None:
            del queues[kind]
            continue
        strains.add(frozenset(candidate.design.knockouts))
        picks.append(candidate)
        taken[kind] += 1
    return picks


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
