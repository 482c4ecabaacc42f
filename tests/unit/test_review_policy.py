"""Auto review policies, ids and work orders of the review gate (no broker)."""

from __future__ import annotations

import pytest

from schemas import (
    AutoPolicy,
    CampaignSpec,
    Design,
    ExecutorKind,
    ExecutorSpec,
    Objective,
    Prediction,
    Proposal,
    ReviewSpec,
    SearchSpace,
    SimulatorSpec,
)
from services.review import dispatch
from services.review.policy import evaluate, growth_floor


def _spec(policy: AutoPolicy = AutoPolicy.GROWTH_AND_UNCERTAINTY, limit: float = 0.5, **extra: object) -> CampaignSpec:
    return CampaignSpec(
        id="c1", objective=Objective(target="EX_succ_e", growth_floor=0.2),
        search_space=SearchSpace(knockout_candidates=["b1380", "b2297"]),
        review=ReviewSpec(policy=policy, max_relative_uncertainty=limit), **extra,  # type: ignore[arg-type]
    )


def _proposal(feasible: bool = True, **predicted: tuple[float, float]) -> Proposal:
    return Proposal(id="p1", campaign_id="c1", round=0, design=Design(knockouts=["b1380"]), strategy="ga",
                    feasible=feasible, predicted={k: Prediction(mean=m, sd=s) for k, (m, s) in predicted.items()})


def test_approve_all_approves_even_infeasible_designs() -> None:
    outcome = evaluate(_proposal(feasible=False), _spec(AutoPolicy.APPROVE_ALL))
    assert outcome.approve and "approve_all" in outcome.meaning


def test_confident_growing_design_is_approved() -> None:
    proposal = _proposal(EX_succ_e=(2.0, 0.4), growth=(0.5, 0.05), growth_floor=(0.17, 0.0))
    assert evaluate(proposal, _spec()).approve


def test_growth_below_absolute_floor_is_rejected_with_reason() -> None:
    proposal = _proposal(EX_succ_e=(2.0, 0.4), growth=(0.1, 0.05), growth_floor=(0.17, 0.0))
    outcome = evaluate(proposal, _spec())
    assert not outcome.approve
    assert "below the floor" in outcome.reason


def test_floor_from_wild_type_growth_fraction() -> None:
    proposal = _proposal(EX_succ_e=(2.0, 0.4), growth=(0.15, 0.01), wild_type_growth=(0.87, 0.0))
    assert growth_floor(proposal, _spec()) == pytest.approx(0.2 * 0.87)
    assert not evaluate(proposal, _spec()).approve


def test_without_a_floor_the_feasible_flag_decides() -> None:
    assert evaluate(_proposal(True, EX_succ_e=(2.0, 0.1)), _spec()).approve
    outcome = evaluate(_proposal(False, EX_succ_e=(2.0, 0.1)), _spec())
    assert not outcome.approve and "infeasible" in outcome.reason


def test_uncertain_objective_is_rejected() -> None:
    outcome = evaluate(_proposal(EX_succ_e=(1.0, 0.8)), _spec(limit=0.5))
    assert not outcome.approve and "relative uncertainty 0.80" in outcome.reason


def test_missing_objective_prediction_and_zero_mean() -> None:
    assert "no prediction" in evaluate(_proposal(growth=(0.5, 0.1)), _spec()).reason
    assert "unbounded" in evaluate(_proposal(EX_succ_e=(0.0, 0.1)), _spec()).reason
    assert evaluate(_proposal(EX_succ_e=(0.0, 0.0)), _spec()).approve


def test_ids_are_deterministic() -> None:
    assert dispatch.decision_id("p1") == "rev-p1"
    assert dispatch.work_order_id("p1") == "wo-p1"
    assert dispatch.run_id("p1") == dispatch.run_id("p1") != dispatch.run_id("p2")
    assert dispatch.run_id("p1").startswith("run-")


def test_work_order_copies_simulator_and_executor() -> None:
    spec = _spec(simulator=SimulatorSpec(profile="hard", noise=0.1, failure_rate=0.05),
                 executor=ExecutorSpec(kind=ExecutorKind.ROBOT, station="s7"))
    order = dispatch.work_order_for(_proposal(), spec)
    assert (order.queue, order.station, order.profile, order.noise, order.failure_rate) == (
        ExecutorKind.ROBOT, "s7", "hard", 0.1, 0.05)
    assert order.readouts == ["EX_succ_e", "growth"]
    assert order.organism == "textbook"
    assert order.run_id == dispatch.run_id("p1") and order.id == "wo-p1"
    bench = dispatch.work_order_for(_proposal(), _spec(executor=ExecutorSpec(kind=ExecutorKind.BENCH)))
    assert bench.station is None and bench.queue == ExecutorKind.BENCH


def test_amended_proposal_is_next_version_of_same_round() -> None:
    original = _proposal(EX_succ_e=(1.0, 0.1))
    amended = dispatch.amended_proposal(original, Design(knockouts=["b2297"]))
    assert (amended.version, amended.parent_id, amended.round, amended.strategy) == (2, "p1", 0, "amended")
    again = dispatch.amended_proposal(amended, Design(knockouts=["b1380"]))
    assert again.id == "p1-v3" and again.parent_id == amended.id
