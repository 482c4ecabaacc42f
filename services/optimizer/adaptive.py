"""Adaptive shares of the hybrid's batch: each generator's slots follow its measured improvements.

The hybrid pools three generators (`GENERATORS`): the ensemble-ranked pool (GA over the surrogate, random and
in-silico designs), the GP's picks and one-step local moves around the best measured designs. Which of them pays
depends on the campaign (on the `genome` truth the local moves alone reach 0.96 of the optimum where the fixed
shares stay at half of it, docs/optimizer.md), so with `PlannerOptions.adaptive_shares` on a cell campaign the
GP's and the local moves' reserved slots are set from the record of each generator instead of fixed quarters:

* every measured design is credited, once (its first reading), to the generator that proposed it
  (`History.origins`; the wild-type control, the centre point, amended designs and replicates are no generator's);
* it *improves* when it beats the best value measured before its block: the designs measured in one block of
  the batch size are compared with what was known when they were planned, not with each other (measurement order
  within a batch says nothing about the generators);
* wins and tries are discounted by `DISCOUNT` per block of age, so the record follows the campaign's phase (a GA
  that found the region early and has stopped paying loses its slots; an old failure is forgotten);
* each generator's improvement rate is Beta(1 + wins, 1 + tries - wins); the batch's free slots are shared in
  proportion to each generator's posterior probability of having the highest rate (batch Thompson sampling's
  expected allocation, computed on a fixed random stream so a plan is a function of its history), after
  `MIN_SLOTS` for each generator (a generator that has stopped paying keeps a slot and can win its share back).

Black-box campaigns keep the fixed `hybrid.bo_share` rule (measured there; docs/optimizer.md).
"""

from __future__ import annotations

import numpy as np

from schemas import Origin
from services.optimizer.context import Context

GENERATORS = ("model", "bo", "local")
"""What the adaptive shares credit: the ensemble-ranked pool (GA, random, in-silico), the GP's picks, local moves."""
NOT_GENERATED = frozenset({"control", "centre", "replicate", "amended"})
"""Origins that no generator proposed (they are not credited)."""
DISCOUNT = 0.5
"""Weight of a design's win or try per block (batch) of age: the last batch counts 1, the one before 0.5, ..."""
MIN_SLOTS = 1
"""Reserved slots every generator keeps in a batch of at least len(GENERATORS) designs (its exploration)."""
TIE_ORDER = ("model", "local", "bo")
"""Who gets a left-over slot among equal remainders."""
DRAWS = 4096
"""Monte Carlo draws for each generator's probability of having the highest improvement rate."""


def generator(origin: str) -> str | None:
    """The credited generator of a proposal's origin string (None: the control, centre point, an amended design)."""
    source = Origin.parse(origin).source
    if source in NOT_GENERATED:
        return None
    return source if source in ("bo", "local") else "model"


Record = dict[str, tuple[float, float]]
"""(wins, tries) per generator."""


def blocks(ctx: Context, block: int) -> list[Record]:
    """Each block's (wins, tries) per generator, oldest first (the first block has no bar: no tries).

    ``block``: the batch size; the designs measured in one block of that many are compared with the best value
    measured before the block. A design is credited on its first reading only (a replicate's is no new try).
    """
    block = max(1, block)
    out: list[Record] = []
    seen: set[str] = set()
    bar: float | None = None
    best_in_block: float | None = None
    for i, (design, value) in enumerate(ctx.history.measured):
        if i % block == 0:
            if best_in_block is not None:  # a new block: the last one's best joins the bar
                bar = best_in_block if bar is None else max(bar, best_in_block)
                best_in_block = None
            out.append({g: (0.0, 0.0) for g in GENERATORS})
        score = ctx.sign * value
        best_in_block = score if best_in_block is None else max(best_in_block, score)
        key = design.key()
        origin = ctx.history.origins.get(key)
        first = key not in seen
        seen.add(key)
        source = generator(origin) if origin is not None and first else None
        if source is None or bar is None:
            continue
        wins, tries = out[-1][source]
        out[-1][source] = (wins + (score > bar), tries + 1.0)
    return out


def credit(ctx: Context, block: int, discount: float = DISCOUNT) -> Record:
    """(discounted wins, discounted tries) per generator: `blocks` weighted by ``discount`` per block of age."""
    record = blocks(ctx, block)
    out = {g: (0.0, 0.0) for g in GENERATORS}
    for age, counts in enumerate(reversed(record)):
        weight = discount ** age
        for g, (wins, tries) in counts.items():
            out[g] = (out[g][0] + weight * wins, out[g][1] + weight * tries)
    return out


RADIUS_MAX = 3
"""Widest trust region of the local moves, in one-step moves from a centre."""


def trust_radius(ctx: Context, block: int) -> int:
    """The local moves' trust radius (TuRBO-like, in one-step moves): 1 at the start, one wider (up to
    `RADIUS_MAX`) after each block in which a local move beat the bar, one narrower (down to 1) after each block
    in which local moves were tried and none did."""
    radius = 1
    for counts in blocks(ctx, block):
        wins, tries = counts["local"]
        if wins > 0:
            radius = min(radius + 1, RADIUS_MAX)
        elif tries > 0:
            radius = max(radius - 1, 1)
    return radius


def best_probabilities(record: Record, draws: int = DRAWS) -> dict[str, float]:
    """Each generator's posterior probability of having the highest improvement rate (Beta(1 + w, 1 + t - w))."""
    rng = np.random.default_rng(0)  # a fixed stream: the shares are a function of the record alone
    names = list(record)
    samples = np.stack([rng.beta(1.0 + w, 1.0 + max(t - w, 0.0), size=draws) for w, t in record.values()])
    winners = np.bincount(np.argmax(samples, axis=0), minlength=len(names)) / draws
    # generators with the same record get the same probability (the draws' noise would otherwise pick one)
    groups: dict[tuple[float, float], list[int]] = {}
    for i, r in enumerate(record.values()):
        groups.setdefault((round(r[0], 9), round(r[1], 9)), []).append(i)
    out = {}
    for members in groups.values():
        for i in members:
            out[names[i]] = float(np.mean(winners[members]))
    return out


def credited_shares(ctx: Context, n: int, block: int | None = None) -> tuple[int, int]:
    """(GP slots, local slots) reserved in an n-design batch from each generator's record (see the module doc).

    ``block``: the campaign's batch size (default ``n``). The ensemble-ranked pool's share is not reserved: it is
    what the batch's acquisition-ranked fill gets after the GP's and the local moves' slots.
    """
    if n <= 0:
        return 0, 0
    p = best_probabilities(credit(ctx, block or n))
    floor = MIN_SLOTS if n >= len(GENERATORS) * MIN_SLOTS else 0
    free = n - floor * len(GENERATORS)
    exact = {g: free * p[g] for g in GENERATORS}
    slots = {g: floor + int(np.floor(exact[g])) for g in GENERATORS}
    left = n - sum(slots.values())
    # largest remainder first; ties to the pool, then local moves (cheap), then the GP (seconds per design)
    for g in sorted(TIE_ORDER, key=lambda g: -(exact[g] - np.floor(exact[g])))[:left]:
        slots[g] += 1
    return slots["bo"], slots["local"]
