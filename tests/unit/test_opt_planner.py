"""Planner guarantees: constraints never violated, nothing measured or pending repeated, diverse batches."""

from __future__ import annotations

import math

import numpy as np
import pytest
from factories import GENES, cell_like_spec

from schemas import CampaignSpec, Design, Objective, SearchSpace, Strategy
from services.optimizer.context import History
from services.optimizer.planner import PlannerOptions, plan_batch
from services.optimizer.replicates import REPLICATE
from services.optimizer.space import DesignSpace
from services.optimizer.surrogate import FunctionSurrogate

WEIGHTS = dict(zip(GENES, [1.0, 0.8, -0.5, 0.6, 0.2, -1.0, 0.4, 0.9], strict=True))


def yield_of(design: Design) -> float:
    ko = sum(WEIGHTS[g] for g in design.knockouts)
    expr = -abs(math.log2(design.expression.get("x1", 1.0)) - 1.0)
    return ko + expr + 0.1 * design.medium.get("EX_glc__D_e", 10.0)


class NoisyModel:
    """The true function plus a design-dependent sd, like an ensemble."""

    def predict(self, designs):  # type: ignore[no-untyped-def]
        mean = np.array([yield_of(d) for d in designs])
        return mean, 0.1 + 0.05 * np.array([len(d.knockouts) for d in designs])


def _history(spec: CampaignSpec, rng: np.random.Generator, measured: int, pending: int) -> History:
    space = DesignSpace.from_spec(spec)
    designs = space.sample_unique(measured + pending + 2, rng)
    return History(
        measured=[(d, yield_of(d)) for d in designs[:measured]],
        pending=designs[measured : measured + pending],
        failed=designs[measured + pending : measured + pending + 1],
        rejected_keys={designs[-1].key()},
    )


@pytest.mark.parametrize("strategy", [Strategy.HYBRID, Strategy.GA, Strategy.RANDOM])
def test_constraints_and_no_repeats_over_seeds(strategy: Strategy) -> None:
    spec = cell_like_spec(strategy)
    space = DesignSpace.from_spec(spec)
    options = PlannerOptions(hybrid_uses_bo=False)
    for seed in range(12):
        rng = np.random.default_rng(seed)
        history = _history(spec, rng, measured=seed * 3, pending=seed % 5)
        excluded = history.excluded_keys()
        proposals = plan_batch(spec, history, NoisyModel(), 8, rng, options=options)
        keys = [p.design.key() for p in proposals]
        new = {p.design.key() for p in proposals if p.strategy != REPLICATE}
        assert len(proposals) == 8
        assert len(set(keys)) == len(keys)
        assert not new & excluded, "a new design repeats nothing measured, pending, failed or rejected"
        measured = {d.key() for d, _ in history.measured}
        assert set(keys) - new <= measured - {d.key() for d in history.pending}, \
            "a replicate re-proposes only a measured design, none pending"
        for p in proposals:
            assert space.is_valid(p.design) == (True, "")


def test_bo_strategy_respects_constraints_and_history() -> None:
    spec = cell_like_spec(Strategy.BO)
    space = DesignSpace.from_spec(spec)
    rng = np.random.default_rng(3)
    history = _history(spec, rng, measured=8, pending=2)
    proposals = plan_batch(spec, history, None, 4, rng)
    keys = {p.design.key() for p in proposals}
    assert len(keys) == len(proposals) == 4
    assert not {p.design.key() for p in proposals if p.strategy != REPLICATE} & history.excluded_keys()
    assert all(space.is_valid(p.design)[0] for p in proposals)


def test_hybrid_batch_is_diverse() -> None:
    spec = cell_like_spec()
    space = DesignSpace.from_spec(spec)
    rng = np.random.default_rng(5)
    history = _history(spec, rng, measured=16, pending=0)
    proposals = plan_batch(spec, history, NoisyModel(), 8, rng, options=PlannerOptions(hybrid_uses_bo=False))
    distances = [space.distance(a.design, b.design) for i, a in enumerate(proposals) for b in proposals[i + 1 :]]
    assert min(distances) > 0.02
    assert all(p.strategy.startswith("hybrid") for p in proposals if p.strategy != REPLICATE)
    assert all(p.acquisition is not None and p.sd is not None for p in proposals)


def test_hybrid_proposes_better_designs_than_random() -> None:
    spec = cell_like_spec()
    rng = np.random.default_rng(7)
    history = _history(spec, rng, measured=8, pending=0)
    options = PlannerOptions(hybrid_uses_bo=False)
    hybrid = plan_batch(spec, history, NoisyModel(), 8, np.random.default_rng(1), options=options)
    rand = plan_batch(spec, history, None, 8, np.random.default_rng(1), strategy=Strategy.RANDOM)
    assert np.mean([yield_of(p.design) for p in hybrid]) > np.mean([yield_of(p.design) for p in rand]) + 0.5


def test_no_surrogate_falls_back_to_space_filling() -> None:
    spec = cell_like_spec()
    proposals = plan_batch(spec, History(), None, 8, np.random.default_rng(0))
    assert len(proposals) == 8
    assert all(p.acquisition is None for p in proposals)


def test_exhausted_space_returns_fewer() -> None:
    spec = CampaignSpec(
        objective=Objective(target="y", growth_floor=0.0),
        search_space=SearchSpace(knockout_candidates=["a", "b"], max_knockouts=1),
    )
    all_designs = [Design(), Design(knockouts=["a"]), Design(knockouts=["b"])]
    history = History(measured=[(all_designs[0], 1.0)], pending=[all_designs[1]])
    proposals = plan_batch(spec, history, FunctionSurrogate(lambda d: 0.0), 5, np.random.default_rng(0))
    assert [p.design.key() for p in proposals] == [all_designs[2].key()]


def test_feasibility_vetoes_designs() -> None:
    from services.optimizer.feasibility import FeasibilityFilter

    lethal = "b0000"
    feasibility = FeasibilityFilter(
        growth_fn=lambda d: 0.0 if lethal in d.knockouts else 1.0, growth_floor=0.5, reference_growth=1.0
    )
    spec = cell_like_spec()
    rng = np.random.default_rng(0)
    proposals = plan_batch(spec, History(), NoisyModel(), 8, rng, feasibility=feasibility,
                           options=PlannerOptions(hybrid_uses_bo=False))
    assert len(proposals) == 8
    assert all(lethal not in p.design.knockouts for p in proposals)
    assert feasibility.n_rejected > 0


def test_local_neighbours_are_valid_single_moves() -> None:
    from services.optimizer.local import neighbours

    spec = cell_like_spec()
    space = DesignSpace.from_spec(spec)
    expression = {"x1": 2.0, "x2": 2.0}
    design = Design(knockouts=["b0002"], expression=expression, medium={"EX_glc__D_e": 5.0})
    moves = neighbours(space, design, np.random.default_rng(0))
    assert moves
    assert len({m.key() for m in moves}) == len(moves)
    assert all(space.is_valid(m)[0] and m.key() != design.key() for m in moves)
    keys = {m.key() for m in moves}
    assert Design(knockouts=["b0002", "b0004"], expression=expression, medium={"EX_glc__D_e": 5.0}).key() in keys
    assert Design(knockouts=["b0005"], expression=expression, medium={"EX_glc__D_e": 5.0}).key() in keys


def test_hybrid_keeps_gp_picks() -> None:
    spec = cell_like_spec()
    rng = np.random.default_rng(4)
    history = _history(spec, rng, measured=10, pending=1)
    proposals = plan_batch(spec, history, NoisyModel(), 8, rng)
    assert sum(p.strategy == "hybrid:bo" for p in proposals) >= 1
    assert len({p.design.key() for p in proposals}) == 8


def test_hybrid_first_batch_of_a_black_box_campaign_holds_the_centre_of_the_box() -> None:
    from services.optimizer.planner import CENTRE
    from simulators.examples import hartmann6_spec

    spec = hartmann6_spec()
    first = plan_batch(spec, History(), None, 6, np.random.default_rng(0), strategy=Strategy.HYBRID)
    centres = [p for p in first if p.strategy == CENTRE]
    assert len(first) == 6 and len(centres) == 1
    assert centres[0].design.parameters == {p.name: (p.low + p.high) / 2 for p in spec.search_space.parameters}
    later = History(measured=[(p.design, 0.0) for p in first])
    assert all(p.strategy != CENTRE for p in plan_batch(spec, later, None, 6, np.random.default_rng(1),
                                                       strategy=Strategy.HYBRID))
    for strategy in (Strategy.RANDOM, Strategy.BO):  # the peers keep their own first batch
        assert all(p.strategy != CENTRE for p in plan_batch(spec, History(), None, 6, np.random.default_rng(0),
                                                           strategy=strategy))
    off = plan_batch(spec, History(), None, 6, np.random.default_rng(0), strategy=Strategy.HYBRID,
                     options=PlannerOptions(centre_point=False))
    assert all(p.strategy != CENTRE for p in off)
