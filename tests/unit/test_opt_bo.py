"""Ax-based Bayesian optimisation over measurements."""

from __future__ import annotations

import math

import numpy as np
import pytest

from schemas import CampaignSpec, Design, Objective, RangeParam, SearchSpace, Strategy
from services.optimizer import bo
from services.optimizer.context import Context, History
from services.optimizer.planner import plan_batch
from services.optimizer.space import DesignSpace

TWO_PI = 2 * math.pi


def sin_cos_spec() -> CampaignSpec:
    params = [RangeParam(name="x0", low=0.0, high=TWO_PI), RangeParam(name="x1", low=0.0, high=TWO_PI)]
    return CampaignSpec(
        objective=Objective(target="y", growth_floor=0.0), search_space=SearchSpace(parameters=params),
        strategy=Strategy.BO,
    )


def point(x0: float, x1: float) -> Design:
    return Design(parameters={"x0": x0, "x1": x1})


def value(design: Design) -> float:
    return math.sin(design.parameters["x0"]) + math.cos(design.parameters["x1"])


def test_bo_proposes_distinct_valid_designs_with_failed_and_pending_trials() -> None:
    spec = sin_cos_spec()
    space = DesignSpace.from_spec(spec)
    rng = np.random.default_rng(0)
    measured = [point(*xy) for xy in rng.uniform(0, TWO_PI, size=(10, 2))]
    history = History(
        measured=[(d, value(d)) for d in measured],
        failed=[point(1.0, 1.0)],
        pending=[point(1.5, 0.2), point(4.0, 4.0)],
    )
    proposals = plan_batch(spec, history, None, 5, rng)
    keys = {p.design.key() for p in proposals}
    assert len(proposals) == len(keys) == 5
    assert not keys & history.excluded_keys()
    assert all(space.is_valid(p.design)[0] and p.strategy == "bo" for p in proposals)


def test_first_batch_is_sobol_without_ax() -> None:
    spec = sin_cos_spec()
    ctx = Context(DesignSpace.from_spec(spec), History(), np.random.default_rng(0))
    candidates = bo.propose(8, ctx)
    assert len({c.design.key() for c in candidates}) == 8


def test_parameter_round_trip_keeps_knockout_limit() -> None:
    space = DesignSpace(SearchSpace(knockout_candidates=["a", "b", "c", "d"], max_knockouts=2))
    params = {"g0": 0.9, "g1": 0.7, "g2": 0.95, "g3": 0.2}
    design = bo.from_parameters(space, params, np.random.default_rng(0))
    assert design.knockouts == ["a", "c"]
    assert bo.to_parameters(space, design) == {"g0": 1.0, "g1": 0.0, "g2": 1.0, "g3": 0.0}


def test_gp_slots_do_not_wait_for_ax_while_it_is_still_being_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    """A restarted optimizer service plans its first batch at once: without GP picks while Ax loads."""
    import threading

    monkeypatch.setattr(bo, "_ax_loaded", threading.Event())  # as in a fresh process
    monkeypatch.setattr(bo, "_ax_loader", threading.current_thread())  # "already loading": start no thread
    spec = sin_cos_spec()
    measured = [(point(0.5 * i, 0.3 * i), float(i)) for i in range(5)]
    ctx = Context(DesignSpace.from_spec(spec), History(measured=measured), np.random.default_rng(0), None)
    assert not bo.ax_ready(load_in_background=False)
    assert bo.propose(2, ctx, wait_for_import=False) == []
    few = Context(DesignSpace.from_spec(spec), History(measured=measured[:2]), np.random.default_rng(0), None)
    assert len(bo.propose(2, few, wait_for_import=False)) == 2  # Sobol needs no Ax
