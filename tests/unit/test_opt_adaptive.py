"""The adaptive shares: a generator's reserved slots follow its measured improvements (services.optimizer.adaptive)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from factories import GENES as CELL_GENES
from factories import cell_like_spec

from schemas import Design
from services.optimizer import local
from services.optimizer.adaptive import best_probabilities, credit, credited_shares, generator, trust_radius
from services.optimizer.context import Context, History
from services.optimizer.planner import PlannerOptions, _shares, plan_batch
from services.optimizer.replicates import REPLICATE
from services.optimizer.space import DesignSpace
from simulators.examples import succinate_core_spec

GENES = ["b0723", "b1852", "b2297", "b0903", "b1380", "b3956", "b0721", "b0767", "b2458", "b3603", "b1241", "b2133"]


def yield_of(design: Design) -> float:
    """A toy objective over the cell-like spec's genes."""
    return sum(0.1 * (i + 1) for i, g in enumerate(CELL_GENES) if g in design.knockouts)


class Model:
    """The toy objective with a constant sd, as a surrogate."""

    def predict(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
        return np.array([yield_of(d) for d in designs]), np.full(len(designs), 0.1)


def _ctx(values: list[float], origins: list[str]) -> Context:
    designs = [Design(knockouts=[g]) for g in GENES[: len(values)]]
    history = History(measured=list(zip(designs, values, strict=True)),
                      origins={d.key(): o for d, o in zip(designs, origins, strict=True)})
    return Context(DesignSpace.from_spec(succinate_core_spec()), history, np.random.default_rng(0))


def test_the_control_centre_and_amended_designs_are_no_generators() -> None:
    assert generator("hybrid:ga") == generator("hybrid:insilico") == generator("hybrid:random") == "model"
    assert generator("hybrid:bo") == "bo" and generator("hybrid:local") == "local"
    assert generator("control") is None and generator("centre") is None and generator("amended") is None


def test_a_block_is_compared_with_what_was_known_when_it_was_planned() -> None:
    # blocks of 3: the first sets the bar (2.0); in the second, both designs above 2.0 win, whatever their order
    ctx = _ctx([1.0, 2.0, 0.5, 3.0, 2.5, 1.0], ["hybrid:ga", "hybrid:ga", "control", "hybrid:bo", "hybrid:local",
                                                 "hybrid:ga"])
    assert credit(ctx, block=3) == {"model": (0.0, 1.0), "bo": (1.0, 1.0), "local": (1.0, 1.0)}


def test_old_blocks_weigh_less_and_replicate_readings_are_not_new_tries() -> None:
    values = [1.0, 1.0, 2.0, 2.0, 3.0, 0.1]
    origins = ["hybrid:ga", "hybrid:ga", "hybrid:local", "hybrid:ga", "hybrid:bo", "hybrid:bo"]
    ctx = _ctx(values, origins)
    # blocks of 2 (the replicate opens a fourth): [1, 1] sets the bar; [local 2 and ga 2 win, weight 0.25 each];
    # then [bo 3 wins, bo 0.1 does not, weight 0.5 each]; the replicate is no new try
    ctx.history.measured.append((ctx.history.measured[2][0], 5.0))  # a replicate of the local design, read high
    assert credit(ctx, block=2) == {"model": (0.25, 0.25), "bo": (0.5, 1.0), "local": (0.25, 0.25)}


def test_a_generator_that_never_improves_loses_slots_but_keeps_one() -> None:
    # blocks of 4: the first sets the bar (1.0); then local moves win every time, the GP and the pool never
    values = [1.0] * 4 + [1.5, 0.5, 2.0, 0.4, 2.5, 0.3, 3.0, 0.2]
    origins = ["hybrid:ga"] * 4 + ["hybrid:local", "hybrid:bo", "hybrid:local", "hybrid:ga"] * 2
    ctx = _ctx(values, origins)
    p = best_probabilities(credit(ctx, block=4))
    assert p["local"] > 0.9 > p["bo"] + p["model"]
    bo_slots, local_slots = credited_shares(ctx, 8, block=4)
    assert bo_slots == 1 and local_slots == 6  # the GP keeps its one slot, the pool one (the rest of the batch)
    fresh = _ctx([1.0], ["hybrid:ga"])
    assert credited_shares(fresh, 8) == (2, 3)  # no evidence: 5 free slots evenly after one each, ties to local


def test_shares_are_a_function_of_the_record() -> None:
    ctx = _ctx([1.0, 2.0, 3.0, 1.5, 2.5, 0.5], ["hybrid:ga", "hybrid:bo", "hybrid:local", "hybrid:ga", "hybrid:bo",
                                                 "hybrid:local"])
    assert credited_shares(ctx, 8, block=2) == credited_shares(ctx, 8, block=2)
    for n in range(0, 12):
        bo_slots, local_slots = credited_shares(ctx, n, block=2)
        assert bo_slots >= 0 and local_slots >= 0 and bo_slots + local_slots <= n
        if n >= 3:
            assert bo_slots >= 1 and local_slots >= 1 and bo_slots + local_slots <= n - 1


def test_adaptive_plan_gives_the_paying_generator_more_slots_and_keeps_the_guarantees() -> None:
    spec = cell_like_spec()
    space = DesignSpace.from_spec(spec)
    designs = space.sample_unique(20, np.random.default_rng(1))
    measured, pending = designs[:16], designs[16:18]
    # blocks of 8: the second block's local moves beat the first block's best, nothing else does
    top = max(yield_of(d) for d in measured[:8])
    values = [yield_of(d) for d in measured[:8]] + [top + 1.0 if i % 2 else top - 1.0 for i in range(8)]
    origins = {d.key(): "hybrid:ga" for d in measured[:8]}
    origins |= {d.key(): ("hybrid:local" if i % 2 else "hybrid:bo") for i, d in enumerate(measured[8:])}

    def plan(adaptive: bool) -> list[tuple[str, str]]:
        history = History(measured=list(zip(measured, values, strict=True)), pending=list(pending),
                          origins=dict(origins))
        options = PlannerOptions(adaptive_shares=adaptive, hybrid_uses_bo=False, per_strain=None)
        proposals = plan_batch(spec, history, Model(), 8, np.random.default_rng(3), options=options)
        return [(p.design.key(), p.strategy) for p in proposals]

    first = plan(True)
    assert first == plan(True), "a plan is a function of its history and seed"
    keys = [k for k, _ in first]
    taken = {d.key() for d in measured} | {d.key() for d in pending}
    assert len(keys) == 8 and len(set(keys)) == 8
    assert not {k for k, s in first if s != REPLICATE} & taken
    # two replicates of the leaders take two slots; of the six left the local moves' record reserves them three
    # (the fixed rule: a quarter, one), the acquisition-ranked rest may add more
    assert sum(s == "hybrid:local" for _, s in first) >= 3
    assert _shares(Context(space, History(measured=list(zip(measured, values, strict=True)), origins=origins),
                           np.random.default_rng(0)), 6, PlannerOptions(adaptive_shares=True), block=8) == (1, 3)


def test_the_trust_radius_widens_after_local_wins_and_narrows_after_local_failures() -> None:
    # blocks of 2: bar 1.0; [local wins]; [local wins]; [local wins] -> capped at 3; [local fails] -> 2
    values = [1.0, 1.0, 2.0, 0.0, 3.0, 0.0, 4.0, 0.0, 0.5, 0.0]
    origins = ["hybrid:ga", "hybrid:ga"] + ["hybrid:local", "hybrid:bo"] * 4
    assert [trust_radius(_ctx(values[:k], origins[:k]), block=2) for k in (2, 4, 6, 8, 10)] == [1, 2, 3, 3, 2]
    # a block with no local move leaves the radius where it was
    assert trust_radius(_ctx([1.0, 1.0, 2.0, 0.0, 5.0, 0.0], [*origins[:4], "hybrid:ga", "hybrid:bo"]), 2) == 2


def test_a_wider_trust_region_adds_valid_unexcluded_designs_further_away() -> None:
    spec = cell_like_spec()
    space = DesignSpace.from_spec(spec)
    centre = Design(knockouts=["b0002"], expression={"x1": 2.0, "x2": 2.0}, medium={"EX_glc__D_e": 5.0})
    history = History(measured=[(centre, 1.0)])

    def pool(radius: int) -> set[str]:
        ctx = Context(space, history, np.random.default_rng(0), Model())
        return {c.design.key() for c in local.propose(ctx, radius=radius)}

    near, wide = pool(1), pool(3)
    assert near < wide and centre.key() not in wide
    assert all(space.is_valid(c.design)[0] for c in local.propose(Context(space, history, np.random.default_rng(1),
                                                                          Model()), radius=3))
    assert pool(3) == wide  # the walks follow the context's random stream


def test_black_box_campaigns_keep_the_fixed_shares() -> None:
    from simulators.examples import hartmann6_spec

    spec = hartmann6_spec()
    space = DesignSpace.from_spec(spec)
    designs = space.sample_unique(12, np.random.default_rng(2))
    history = History(measured=[(d, float(i)) for i, d in enumerate(designs)],
                      origins={d.key(): ("hybrid:local" if i % 2 else "hybrid:ga") for i, d in enumerate(designs)})
    ctx = Context(space, history, np.random.default_rng(0))
    assert _shares(ctx, 8, PlannerOptions(), block=8) == _shares(ctx, 8, PlannerOptions(adaptive_shares=False,
                                                                                         trust_region=False))

    class Smooth:
        def predict(self, ds: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
            x = np.array([space.unit(d) for d in ds])
            return -np.sum((x - 0.3) ** 2, axis=1), np.full(len(ds), 0.1)

    def plan(options: PlannerOptions) -> list[str]:
        return [p.design.key() for p in plan_batch(spec, history, Smooth(), 8, np.random.default_rng(5),
                                                   options=options)]

    fixed = PlannerOptions(adaptive_shares=False, trust_region=False, hybrid_uses_bo=False)
    assert plan(PlannerOptions(hybrid_uses_bo=False)) == plan(fixed)
