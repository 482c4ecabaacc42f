"""The two-objective planner path: non-dominated, floor-respecting, deterministic batches."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from factories import GENES, cell_like_spec

from schemas import CampaignSpec, Design, Objective, Strategy
from services.domain.pareto import non_dominated
from services.optimizer.context import History
from services.optimizer.feasibility import FeasibilityFilter
from services.optimizer.multiobjective import ParetoConfig, second_predictor
from services.optimizer.planner import PlannerOptions, plan_batch
from services.optimizer.space import DesignSpace

WEIGHTS = dict(zip(GENES, [1.0, 0.8, -0.5, 0.6, 0.2, -1.0, 0.4, 0.9], strict=True))
COST = dict(zip(GENES, [0.3, 0.1, 0.05, 0.25, 0.02, 0.1, 0.15, 0.35], strict=True))


def product(design: Design) -> float:
    """Rises with the knockouts' weights and x1 near 2-fold."""
    return sum(WEIGHTS[g] for g in design.knockouts) - abs(math.log2(design.expression.get("x1", 1.0)) - 1.0)


def growth(design: Design) -> float:
    """Falls with each knockout's cost and with x1 away from 1-fold: a trade-off with `product`."""
    return 1.0 - sum(COST[g] for g in design.knockouts) - 0.1 * abs(math.log2(design.expression.get("x1", 1.0)))


class TradeOffModel:
    """A model of both objectives with a design-dependent sd, like the ensemble (`predict_output` any output)."""

    def predict(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
        return np.array([product(d) for d in designs]), 0.05 + 0.02 * np.array([len(d.knockouts) for d in designs])

    def predict_output(self, designs: Sequence[Design], name: str) -> tuple[np.ndarray, np.ndarray]:
        assert name == "growth"
        return np.array([growth(d) for d in designs]), np.full(len(designs), 0.02)


def _spec() -> CampaignSpec:
    spec = cell_like_spec(Strategy.HYBRID)
    return spec.model_copy(update={"objective": Objective(target="EX_succ_e", growth_floor=0.6,
                                                          second_target="growth")})


def _history(spec: CampaignSpec, seed: int) -> History:
    designs = DesignSpace.from_spec(spec).sample_unique(10, np.random.default_rng(100 + seed))
    return History(measured=[(d, product(d)) for d in designs],
                   pareto_points=[(d, product(d), growth(d)) for d in designs if growth(d) >= 0.6])


def _plan(seed: int, n: int = 6, target_share: float = 0.0) -> tuple[list[Design], FeasibilityFilter, History]:
    spec = _spec()
    feasibility = FeasibilityFilter(growth_fn=growth, growth_floor=0.6, reference_growth=1.0)
    config = ParetoConfig(population=24, generations=8, samples=32, target_share=target_share)
    options = PlannerOptions(pareto=config, hybrid_uses_bo=False)
    history = _history(spec, seed)
    proposals = plan_batch(spec, history, TradeOffModel(), n, np.random.default_rng(seed), feasibility,
                           options=options)
    mine = [p for p in proposals if p.strategy.startswith("pareto:")]
    assert len(mine) == n - round(target_share * n)  # the rest: the default planner's, for the target alone
    return [p.design for p in proposals], feasibility, history


def test_proposals_are_new_valid_floor_respecting_and_non_dominated() -> None:
    spec = _spec()
    space = DesignSpace.from_spec(spec)
    for seed in range(3):
        designs, feasibility, history = _plan(seed)
        assert len(designs) == 6 and len({d.key() for d in designs}) == 6
        assert not {d.key() for d in designs} & history.excluded_keys()
        for design in designs:
            assert space.is_valid(design) == (True, "")
            assert feasibility.is_feasible(design) and growth(design) >= 0.6 - 1e-12
        # under the model's means, no proposal dominates another, nor does a measured design dominate one
        points = np.array([(product(d), growth(d)) for d in designs])
        assert non_dominated(points) == list(range(len(designs)))
        measured = np.array([(a, b) for _, a, b in history.pareto_points])
        for point in points:
            assert not np.any(np.all(measured >= point, axis=1) & np.any(measured > point, axis=1))


def test_same_seed_same_batch() -> None:
    assert [d.key() for d in _plan(7)[0]] == [d.key() for d in _plan(7)[0]]


def test_a_share_for_the_target_alone_and_the_floor_still_holds() -> None:
    designs, feasibility, history = _plan(2, n=8, target_share=0.25)
    assert len({d.key() for d in designs}) == 8 and not {d.key() for d in designs} & history.excluded_keys()
    assert all(feasibility.is_feasible(d) for d in designs)


def test_without_a_second_output_it_plans_for_the_target_alone() -> None:
    class TargetOnly:
        def predict(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
            return np.array([product(d) for d in designs]), np.full(len(designs), 0.1)

    assert second_predictor(TargetOnly(), "growth") is None
    proposals = plan_batch(_spec(), _history(_spec(), 0), TargetOnly(), 4, np.random.default_rng(0),
                           options=PlannerOptions(hybrid_uses_bo=False))
    assert len(proposals) == 4 and not any(p.strategy.startswith("pareto:") for p in proposals)


def test_the_ledger_gives_the_planner_the_measured_points_meeting_the_floor() -> None:
    from schemas import ExecutorKind, Measurement, Value, WorkOrder
    from services.optimizer.ledger import CampaignLedger
    from simulators.examples import succinate_core_spec

    one = succinate_core_spec()
    two = one.model_copy(update={"objective": one.objective.model_copy(update={"second_target": "growth"})})
    designs = [Design(), Design(knockouts=["b0723"]), Design(knockouts=["b1241"])]
    readings = [(0.0, 0.5), (9.0, 0.05), (3.0, 0.3)]  # the floor is 0.2 x the measured wild type's 0.5
    for spec, expected in ((one, []), (two, [(designs[0], 0.0, 0.5), (designs[2], 3.0, 0.3)])):
        ledger = CampaignLedger(spec)
        for i, (design, (succ, growth_rate)) in enumerate(zip(designs, readings, strict=True)):
            ledger.apply(WorkOrder(id=f"wo-{i}", campaign_id=spec.id, run_id=f"run-{i}", proposal_id="p",
                                   design=design, queue=ExecutorKind.BENCH))
            ledger.apply(Measurement(id=f"m{i}", campaign_id=spec.id, run_id=f"run-{i}", design=design,
                                     growth_rate=Value(value=growth_rate), products={"EX_succ_e": Value(value=succ)}))
        assert ledger.history().pareto_points == expected
