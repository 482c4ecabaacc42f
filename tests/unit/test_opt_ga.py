"""GA over a surrogate: finds the maximum of sin(x0) + cos(x1) on [0, 2π]²."""

from __future__ import annotations

import math

import numpy as np
import pytest

from schemas import CampaignSpec, Objective, RangeParam, SearchSpace, Strategy
from services.optimizer.context import History
from services.optimizer.planner import plan_batch
from services.optimizer.surrogate import FunctionSurrogate

TWO_PI = 2 * math.pi


def sin_cos_spec() -> CampaignSpec:
    params = [RangeParam(name="x0", low=0.0, high=TWO_PI), RangeParam(name="x1", low=0.0, high=TWO_PI)]
    return CampaignSpec(objective=Objective(target="y", growth_floor=0.0), search_space=SearchSpace(parameters=params))


def sin_cos(design) -> float:  # type: ignore[no-untyped-def]
    return math.sin(design.parameters["x0"]) + math.cos(design.parameters["x1"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ga_finds_the_maximum_of_sin_plus_cos(seed: int) -> None:
    proposals = plan_batch(
        sin_cos_spec(), History(), FunctionSurrogate(sin_cos), 4, np.random.default_rng(seed), strategy=Strategy.GA
    )
    best = max(proposals, key=lambda p: sin_cos(p.design))
    assert sin_cos(best.design) > 1.99
    x0, x1 = best.design.parameters["x0"], best.design.parameters["x1"]
    assert abs(x0 - math.pi / 2) < 0.15
    assert min(x1, TWO_PI - x1) < 0.15
    assert best.strategy == "ga"
    assert best.mean == pytest.approx(sin_cos(best.design))


def test_ga_minimises_when_asked() -> None:
    spec = sin_cos_spec()
    spec.objective.sense = "minimize"  # type: ignore[assignment]
    rng = np.random.default_rng(0)
    proposals = plan_batch(spec, History(), FunctionSurrogate(sin_cos), 4, rng, strategy=Strategy.GA)
    assert min(sin_cos(p.design) for p in proposals) < -1.99


def test_ga_fitness_uses_uncertainty() -> None:
    """With a flat mean, UCB fitness follows the sd: the GA goes where the model is unsure."""

    class UnsureNearOrigin:
        def predict(self, designs):  # type: ignore[no-untyped-def]
            x = np.array([[d.parameters["x0"], d.parameters["x1"]] for d in designs])
            return np.zeros(len(x)), np.exp(-np.sum(x**2, axis=1))

    rng = np.random.default_rng(0)
    proposals = plan_batch(sin_cos_spec(), History(), UnsureNearOrigin(), 3, rng, strategy=Strategy.GA)
    assert all(p.design.parameters["x0"] < 1.0 and p.design.parameters["x1"] < 1.0 for p in proposals)
    assert all(p.strategy == "ga" for p in proposals)
