"""The default strategy: GA over the surrogate, Ax over the measurements, local moves and random designs, pooled.

Every candidate is scored with the surrogate's acquisition. The planner keeps the GP's picks
(``bo_share`` slots, so a poor ensemble cannot stall the campaign) and fills the rest of the batch
greedily by acquisition with a near-duplicate penalty; local moves around the best measured designs
let the batch finish what the surrogate only roughly located.
Without a surrogate (no model trained yet and no in-silico answer of the organism model) the pool is
BO's Sobol/GP choice plus random designs.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from schemas import Design
from services.optimizer import bo, ga, local, random_search
from services.optimizer.context import Candidate, Context
from services.optimizer.space import strain

STRATEGY = "hybrid"

GPSource = Callable[[int, Context, int, bool], list[Design]]
"""Where the hybrid's GP designs come from: (n, context, seed of the context's rng, wait for Ax's import)."""


def fit_gp(n: int, ctx: Context, seed: int, wait_for_import: bool) -> list[Design]:
    """The default `GPSource`: fit the GP now (`bo.designs`)."""
    return bo.designs(n, ctx, wait_for_import)


def bo_share(n: int, black_box: bool = False) -> int:
    """Slots of an ``n``-design batch reserved for the GP's picks (they stand even when the ensemble disagrees).

    A quarter on cells (the ensemble carries the organism model's prior); on black-box campaigns (parameters
    only), where the ensemble is a plain MLP that a GP beats on smooth functions with tens of points, three
    quarters, at most `BLACK_BOX_GP_MAX` (Hartmann-6, batches of 8, 5 seeds, best fraction at 48: 0.880 with a
    quarter, 0.979 with three quarters; the GP's batch costs about linearly in its size: docs/optimizer.md).
    """
    if black_box:
        return max(1, n // 4, min((3 * n) // 4, BLACK_BOX_GP_MAX))
    return max(1, n // 4)


BLACK_BOX_GP_MAX = 6
"""Most GP slots of a black-box batch (a batch of 16 keeps 6 for the GP, 10 for the rest)."""


def black_box(ctx: Context) -> bool:
    """Whether the campaign is a black-box function (parameters only, no organism model)."""
    return not ctx.space.search.is_cell


def local_share(n: int, stalled: bool = False) -> int:
    """Slots reserved for one-step moves around the best measured designs (refining the incumbent).

    A quarter of the batch; three quarters once the incumbent has stood for a whole batch (``stalled``),
    when the model-wide search has stopped paying and the incumbent's untried neighbours are the best bet.
    """
    return max(1, (3 * n) // 4 if stalled else n // 4)


def stalled(ctx: Context, n: int) -> bool:
    """True when the best measured design is older than the last ``n`` measurements."""
    measured = ctx.history.measured
    if len(measured) <= n:
        return False
    best = max(range(len(measured)), key=lambda i: ctx.sign * measured[i][1])
    return len(measured) - 1 - best >= n


def _strains_tried(ctx: Context) -> Counter[frozenset[str]]:
    """How many measured or pending designs each knockout set has."""
    return Counter(strain(d) for d in [*(d for d, _ in ctx.history.measured), *ctx.history.pending])


def novelty(design: Design, ctx: Context, tried: Counter[frozenset[str]] | None = None) -> float:
    """1 for a design whose knockout set no measured or pending design has, 1 / (1 + k) after k of them.

    A surrogate cannot tell apart knockouts it has never seen in this context; this count-based bonus
    makes the reserved local slots try each strain next to the incumbent (e.g. each candidate gene in
    the slot of a knockout that did nothing) before re-tuning the expression of a strain already built.
    ``tried`` (from the history) may be passed in when scoring many designs.
    """
    return 1.0 / (1.0 + (tried if tried is not None else _strains_tried(ctx))[strain(design)])


def local_picks(pool: list[Candidate], n: int, ctx: Context, accept: Callable[[Candidate], bool],
                fresh_share: float = 0.5) -> list[Candidate]:
    """The reserved local slots, alternating between two kinds of one-step move.

    New strains (a knockout added, removed or swapped: a strain no measured or pending design has) rank
    by predicted mean (scaled to [0, 1]) plus novelty; re-tuned strains (a level changed on a strain
    already built) by predicted mean alone. Alternating keeps both going: the knockout slot that did
    nothing gets tried with other genes while the expression of the best strain is still refined;
    ``fresh_share`` is the share of picks that go to new strains. At most one pick per strain with knockouts
    (the unmodified chassis is no strain to build: on an expression-only space, e.g. the `kinetic` pathway, every
    design has it, and a cap on it left one local pick per batch; `select_diverse`'s ``per_strain`` exempts it too).
    """
    moves = [c for c in pool if c.origin.source == local.STRATEGY]
    if not moves or n <= 0:
        return []
    tried = _strains_tried(ctx)
    values = np.array([ctx.sign * c.mean if c.mean is not None else 0.0 for c in moves])
    scaled = (values - values.min()) / ((values.max() - values.min()) or 1.0)
    bonus = [novelty(c.design, ctx, tried) for c in moves]
    order = np.argsort(-(scaled + np.array(bonus)), kind="stable")
    queues = {"fresh": iter([moves[i] for i in order if bonus[i] >= 1.0]),
              "retuned": iter([moves[i] for i in np.argsort(-scaled, kind="stable") if bonus[i] < 1.0])}
    picks: list[Candidate] = []
    strains: set[frozenset[str]] = set()
    taken = {"fresh": 0, "retuned": 0}
    while len(picks) < n and queues:
        behind = "fresh" if taken["fresh"] <= fresh_share * len(picks) else "retuned"
        kind = behind if behind in queues else next(iter(queues))
        candidate = next((c for c in queues[kind] if not (strain(c.design) and strain(c.design) in strains)
                          and accept(c)), None)
        if candidate is None:
            del queues[kind]
            continue
        strains.add(strain(candidate.design))
        picks.append(candidate)
        taken[kind] += 1
    return picks


def propose(n: int, ctx: Context, use_bo: bool = True, ga_config: ga.GAConfig | None = None,
            gp_waits_for_import: bool = True, gp_beside_ga: bool = False,
            gp_source: GPSource | None = None, gp_slots: int | None = None,
            local_radius: int = 1) -> list[Candidate]:
    """A pool of candidates from GA, BO and random search, best acquisition first.

    ``gp_slots``: how many designs to ask the GP for (default `bo_share`; the adaptive shares pass theirs);
    ``local_radius``: the local moves' trust radius (`local.propose`).

    ``gp_beside_ga`` (the optimizer service) takes the GP's designs, with a random stream of its own drawn
    from ``ctx.rng``, from ``gp_source`` (default `fit_gp`) in a worker thread while the GA waits on the
    predictor's answers: the batch is out sooner (the service's source may hand over a fit it started
    while the predictor trained, `services.optimizer.speculation`).
    """
    pool: list[Candidate] = []
    gp_n = bo_share(n, black_box(ctx)) if gp_slots is None else gp_slots
    use_bo = use_bo and gp_n > 0
    if use_bo and gp_beside_ga and ctx.surrogate is not None:
        gp_seed = int(ctx.rng.integers(2**63))
        gp_ctx = dataclasses.replace(ctx, rng=np.random.default_rng(gp_seed))
        with ThreadPoolExecutor(1, thread_name_prefix="fluxlab-gp") as executor:
            gp = executor.submit(gp_source or fit_gp, gp_n, gp_ctx, gp_seed,
                                 gp_waits_for_import)
            searched = ga.propose(n, ctx, ga_config) + local.propose(ctx, radius=local_radius)
            pool += ctx.scored(gp.result(), bo.STRATEGY) + searched
    else:
        if use_bo:
            # The GP's batch costs seconds per design; a few of its picks are enough to add its view.
            pool += bo.propose(gp_n, ctx, wait_for_import=gp_waits_for_import)
        if ctx.surrogate is not None:
            pool += ga.propose(n, ctx, ga_config) + local.propose(ctx, radius=local_radius)
    pool += random_search.propose(2 * n, ctx)
    seen: set[str] = set()
    unique: list[Candidate] = []
    for candidate in pool:
        key = candidate.design.key()
        if key not in seen:
            seen.add(key)
            candidate.strategy = candidate.origin.within(STRATEGY).format()
            unique.append(candidate)
    if ctx.surrogate is None:
        return unique
    return sorted(unique, key=lambda c: -(c.acquisition if c.acquisition is not None else -float("inf")))
