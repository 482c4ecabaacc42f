"""Plan the next batch of a campaign: the one entry point the optimizer service calls.

Whatever the strategy suggests, the planner guarantees that every proposal is valid in the
search space, repeats nothing measured, pending, failed or rejected (nor another proposal of
the batch), and, with a feasibility filter, grows above the campaign's growth floor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from schemas import CampaignSpec, Design, Strategy
from services.optimizer import adaptive, bo, ga, hybrid, multiobjective, random_search
from services.optimizer.acquisition import DEFAULT_BETA, Acquisition
from services.optimizer.context import Candidate, Context, History, PlannedProposal
from services.optimizer.feasibility import FeasibilityFilter
from services.optimizer.replicates import plan_replicates
from services.optimizer.selection import select_diverse
from services.optimizer.space import DesignSpace
from services.optimizer.surrogate import Surrogate

TOP_UP_ROUNDS = 5
CONTROL = "control"
"""The strategy name of a wild-type control proposal."""
CENTRE = "centre"
"""The strategy name of the centre point of a black-box campaign's first batch."""


@dataclass(frozen=True)
class PlannerOptions:
    """Tuning knobs of the planner (defaults suit the benchmarks)."""

    acquisition: Acquisition = Acquisition.UCB
    beta: float = DEFAULT_BETA
    ga: ga.GAConfig = field(default_factory=ga.GAConfig)
    hybrid_uses_bo: bool = True
    gp_waits_for_import: bool = True
    """False (the optimizer service): while Ax is still being imported, the hybrid's GP slots go to its other
    pools for this batch rather than holding the batch back (a restarted process proposes within seconds)."""
    gp_beside_ga: bool = False
    """True (the optimizer service): the hybrid fits its GP in a thread while the GA runs (`hybrid.propose`)."""
    gp_source: hybrid.GPSource | None = None
    """Where the hybrid's GP designs come from with `gp_beside_ga` (None: fitted then, `hybrid.fit_gp`)."""
    diversity_penalty: float = 1.0
    diversity_length: float = 0.05
    diversity_min: float = 0.02
    per_strain: int | None = 2
    """At most this many designs of one knockout set among the batch's acquisition-ranked picks."""
    adaptive_shares: bool = True
    """Cell campaigns: the hybrid's GP and local slots follow each generator's measured improvements
    (`adaptive.credited_shares`) instead of the fixed quarter each (three quarters local when stalled); needs
    `History.origins` (without it, or on black-box campaigns, `hybrid.bo_share` and `hybrid.local_share`).
    The default since 2026-12-06 with `trust_region` (docs/optimizer.md, "A default that adapts")."""
    trust_region: bool = True
    """Cell campaigns: the hybrid's local moves reach up to `adaptive.trust_radius` one-step moves from their
    centres (wider after a batch in which a local move improved, narrower after one in which none did)."""
    wild_type_control: bool = True
    """Cell campaigns: the first batch includes the unmodified strain, as every lab's plate does (it anchors
    the predictor's mechanistic prior and gives the reference the campaign's improvement is measured against)."""
    centre_point: bool = True
    """Black-box campaigns (parameters only), hybrid strategy: the first batch includes the centre of the box,
    the design of experiments' centre point (Ax's default generation strategy also starts there); the cells'
    counterpart is the wild-type control."""
    pareto: multiobjective.ParetoConfig = field(default_factory=multiobjective.ParetoConfig)
    """Two-objective campaigns (`objective.second_target`): the NSGA-II planner's settings (`multiobjective`)."""


Shares = tuple[int, int | None]
"""(GP slots, local slots) of the hybrid's batch; local None: the fixed rule (`hybrid.local_share`)."""


def _shares(ctx: Context, n: int, options: PlannerOptions, block: int | None = None) -> Shares:
    """The hybrid's reserved slots of an ``n``-design batch (``block``: the whole batch's size, default ``n``)."""
    if options.adaptive_shares and ctx.history.measured and ctx.history.origins and not hybrid.black_box(ctx):
        return adaptive.credited_shares(ctx, n, block)
    return hybrid.bo_share(n, hybrid.black_box(ctx)), None


def _radius(ctx: Context, options: PlannerOptions, block: int) -> int:
    """The local moves' trust radius (1: one-step moves, as without `PlannerOptions.trust_region`)."""
    if options.trust_region and ctx.history.measured and ctx.history.origins and not hybrid.black_box(ctx):
        return adaptive.trust_radius(ctx, block)
    return 1


def _pool(strategy: Strategy, n: int, ctx: Context, options: PlannerOptions,
          shares: Shares | None = None, radius: int = 1) -> list[Candidate]:
    if strategy == Strategy.RANDOM or (strategy == Strategy.GA and ctx.surrogate is None):
        return random_search.propose(n, ctx)
    if strategy == Strategy.GA:
        return ga.propose(n, ctx, options.ga)
    if strategy == Strategy.BO:
        return bo.propose(n, ctx)
    return hybrid.propose(n, ctx, use_bo=options.hybrid_uses_bo, ga_config=options.ga,
                          gp_waits_for_import=options.gp_waits_for_import, gp_beside_ga=options.gp_beside_ga,
                          gp_source=options.gp_source, gp_slots=(shares or _shares(ctx, n, options))[0],
                          local_radius=radius)


def _admissible(pool: Sequence[Candidate], ctx: Context) -> list[Candidate]:
    seen = set(ctx.excluded)
    out: list[Candidate] = []
    for candidate in pool:
        key = candidate.design.key()
        if key in seen or not ctx.space.is_valid(candidate.design)[0]:
            continue
        seen.add(key)
        out.append(candidate)
    return out


def _choose(
    strategy: Strategy, pool: list[Candidate], n: int, ctx: Context, accept: Callable[[Candidate], bool],
    options: PlannerOptions, shares: Shares | None = None,
) -> list[Candidate]:
    if strategy not in (Strategy.GA, Strategy.HYBRID) or ctx.surrogate is None:
        return [c for c in pool if accept(c)][:n]
    reserved: list[Candidate] = []
    bo_slots, local_slots = shares or _shares(ctx, n, options)
    if strategy == Strategy.HYBRID and options.hybrid_uses_bo:
        gp_picks = [c for c in pool if c.origin.source == bo.STRATEGY]
        reserved = [c for c in gp_picks if accept(c)][:bo_slots]
    if strategy == Strategy.HYBRID and ctx.history.measured:
        taken_now = {c.design.key() for c in reserved}
        remaining = [c for c in pool if c.design.key() not in taken_now]
        stalled = hybrid.stalled(ctx, n)
        share = min(hybrid.local_share(n, stalled) if local_slots is None else local_slots, n - len(reserved))
        reserved += hybrid.local_picks(remaining, share, ctx, accept, fresh_share=0.75 if stalled else 0.5)
    taken = {c.design.key() for c in reserved}
    rest = select_diverse(
        [c for c in pool if c.design.key() not in taken], n - len(reserved), ctx.space,
        anchors=[*ctx.history.pending, *(c.design for c in reserved)], accept=accept,
        penalty=options.diversity_penalty, length=options.diversity_length, min_distance=options.diversity_min,
        per_strain=options.per_strain,
    )
    return reserved + rest


def _top_up(chosen: list[Candidate], n: int, ctx: Context, accept: Callable[[Candidate], bool]) -> list[Candidate]:
    for _ in range(TOP_UP_ROUNDS):
        if len(chosen) >= n:
            break
        taken = ctx.excluded | {c.design.key() for c in chosen}
        extra = ctx.space.sample_unique(2 * (n - len(chosen)), ctx.rng, exclude=taken)
        if not extra:
            break
        chosen += [c for c in ctx.scored(extra, random_search.STRATEGY) if accept(c)][: n - len(chosen)]
    return chosen


def plan_batch(
    spec: CampaignSpec,
    history: History,
    surrogate: Surrogate | None,
    n: int,
    rng: np.random.Generator,
    feasibility: FeasibilityFilter | None = None,
    strategy: Strategy | None = None,
    options: PlannerOptions | None = None,
    prior: Surrogate | None = None,
) -> list[PlannedProposal]:
    """Up to ``n`` new designs for the campaign (fewer only when the space runs out of admissible ones).

    ``strategy`` overrides the spec's; ``feasibility`` (cell campaigns) vetoes designs below the growth floor;
    ``prior`` (e.g. the organism model's in-silico answer) stands in for ``surrogate`` while there is none
    yet, for the model-based strategies (ga, hybrid).
    """
    options = options or PlannerOptions()
    strategy = Strategy(strategy or spec.strategy)
    if surrogate is None and strategy in (Strategy.GA, Strategy.HYBRID):
        surrogate = prior
    ctx = Context(
        DesignSpace.from_spec(spec), history, rng, surrogate,
        sense=spec.objective.sense, acquisition=options.acquisition, beta=options.beta,
        feasible=feasibility.is_feasible if feasibility is not None else None,
    )
    if n <= 0:
        return []

    def accept(candidate: Candidate) -> bool:
        return feasibility is None or feasibility.is_feasible(candidate.design)

    controls = _controls(spec, ctx, options, n) if spec.search_space.is_cell or strategy == Strategy.HYBRID else []
    two_objectives = spec.objective.second_target and strategy in (Strategy.GA, Strategy.HYBRID)
    if not two_objectives:  # replicates of the target's leaders: re-proposals, not new designs
        controls += plan_replicates(spec, ctx, n - len(controls), accept)
    if two_objectives and multiobjective.applies(spec, ctx):
        return _proposals(controls + _two_objectives(strategy, spec, n - len(controls), ctx, accept, options,
                                                     controls), ctx)
    shares = _shares(ctx, n - len(controls), options, block=n)
    pool = _admissible(_pool(strategy, n - len(controls), ctx, options, shares, _radius(ctx, options, n)), ctx)
    pool = [c for c in pool if c.design.key() not in {k.design.key() for k in controls}]
    chosen = _top_up(_choose(strategy, pool, n - len(controls), ctx, accept, options, shares), n - len(controls),
                     ctx, accept)
    return _proposals(controls + chosen, ctx)


def _two_objectives(strategy: Strategy, spec: CampaignSpec, n: int, ctx: Context,
                    accept: Callable[[Candidate], bool], options: PlannerOptions,
                    controls: list[Candidate]) -> list[Candidate]:
    """A two-objective batch: a share planned for the target alone as usual, the rest by `multiobjective.plan`."""
    ctx.excluded |= {c.design.key() for c in controls}
    k = multiobjective.target_slots(n, ctx, options.pareto)
    first: list[Candidate] = []
    if k:
        pool = _admissible(_pool(strategy, k, ctx, options), ctx)
        first = _choose(strategy, pool, k, ctx, accept, options)
    rest = multiobjective.plan(spec, n - len(first), ctx, accept, options.pareto, taken=first) or []
    return _top_up(first + rest, n, ctx, accept)


def gp_request(spec: CampaignSpec, history: History, n: int, seed: int,
               options: PlannerOptions | None = None) -> tuple[int, Context, int] | None:
    """What the hybrid's GP will be asked for when `plan_batch` plans ``n`` designs from ``history`` with
    ``np.random.default_rng(seed)``: (designs, context, seed of the context's rng); None when it fits no GP.

    It mirrors `plan_batch` and `hybrid.propose` (the wild-type control takes a slot first; the GP's rng is
    the planning rng's first draw), so a fit started from it ahead of time (`services.optimizer.speculation`)
    is the one the plan would make; the plan checks that and fits its own when they differ.
    """
    options = options or PlannerOptions()
    if Strategy(spec.strategy) != Strategy.HYBRID or not options.hybrid_uses_bo or n <= 0:
        return None
    ctx = Context(DesignSpace.from_spec(spec), history, np.random.default_rng(seed), None,
                  sense=spec.objective.sense, acquisition=options.acquisition, beta=options.beta)
    free = n - len(_controls(spec, ctx, options, n))
    if not spec.objective.second_target:
        free -= len(plan_replicates(spec, ctx, free, lambda _: True))
    if free <= 0:
        return None
    gp_seed = int(np.random.default_rng(seed).integers(2**63))
    gp_ctx = dataclasses.replace(ctx, rng=np.random.default_rng(gp_seed))
    return _shares(ctx, free, options, block=n)[0], gp_ctx, gp_seed


def _controls(spec: CampaignSpec, ctx: Context, options: PlannerOptions, n: int) -> list[Candidate]:
    """The wild-type control: in a cell campaign's first batch, and with `analysis.control_per_batch` in every
    round that plans at least two designs while no control is pending (a round of one stays a design)."""
    if not spec.search_space.is_cell:
        return _centre(ctx, options)
    if not options.wild_type_control:
        return []
    wild_type = Design()
    key = wild_type.key()
    if spec.analysis.control_per_batch:
        first = not (ctx.history.measured or ctx.history.pending)
        if (n < 2 and not first) or any(d.key() == key for d in ctx.history.pending) \
                or key in ctx.history.rejected_keys:
            return []
    elif ctx.history.measured or ctx.history.pending or key in ctx.excluded:
        return []
    if not ctx.space.is_valid(wild_type)[0]:
        return []
    return ctx.scored([wild_type], CONTROL)


def _centre(ctx: Context, options: PlannerOptions) -> list[Candidate]:
    """The centre of a black-box campaign's box, in its first batch (see `PlannerOptions.centre_point`)."""
    if not options.centre_point or ctx.history.measured or ctx.history.pending or ctx.history.failed:
        return []
    centre = ctx.space.decode((ctx.space.lows + ctx.space.highs) / 2.0)
    if centre.key() in ctx.excluded or not ctx.space.is_valid(centre)[0]:
        return []
    return ctx.scored([centre], CENTRE)


def _proposals(chosen: Sequence[Candidate], ctx: Context) -> list[PlannedProposal]:
    designs = [c.design for c in chosen]
    growth = _predicted_growth(ctx.surrogate, designs)
    return [
        PlannedProposal(
            design=c.design, strategy=c.strategy, acquisition=c.acquisition, mean=c.mean, sd=c.sd, feasible=True,
            growth_mean=None if growth is None else float(growth[0][i]),
            growth_sd=None if growth is None else float(growth[1][i]),
        )
        for i, c in enumerate(chosen)
    ]


def _predicted_growth(surrogate: Surrogate | None, designs: list[Design]) -> tuple[np.ndarray, np.ndarray] | None:
    inner = getattr(surrogate, "inner", surrogate)
    predict_growth = getattr(inner, "predict_growth", None)
    if predict_growth is None or not designs:
        return None
    mean, sd = predict_growth(designs)
    return np.asarray(mean, float), np.asarray(sd, float)
