"""Acquisition functions, Pareto sets and the surrogate cache."""

from __future__ import annotations

import numpy as np
import pytest

from schemas import Design, Sense
from services.domain.pareto import non_dominated, pareto_front
from services.optimizer.acquisition import expected_improvement, ucb
from services.optimizer.surrogate import CachedSurrogate, FunctionSurrogate


def test_ucb_adds_beta_sd() -> None:
    assert ucb(np.array([1.0, 2.0]), np.array([0.5, 0.0]), beta=2.0).tolist() == [2.0, 2.0]


def test_expected_improvement_closed_form() -> None:
    ei = expected_improvement(np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0]), best=0.0)
    assert ei[0] == pytest.approx(1 / np.sqrt(2 * np.pi))
    assert ei[1] == pytest.approx(1.0)
    assert ei[2] == 0.0
    assert expected_improvement(np.array([3.0]), np.array([1.0]), best=None)[0] == 3.0


def test_non_dominated_two_objectives() -> None:
    points = [(1.0, 5.0), (2.0, 4.0), (1.5, 3.0), (3.0, 1.0), (0.5, 0.5)]
    assert non_dominated(points) == [0, 1, 3]
    assert non_dominated(points, [Sense.MINIMIZE, Sense.MINIMIZE]) == [4]


def test_pareto_front_sorted_by_first_objective() -> None:
    items = [("a", 1.0, 5.0), ("b", 3.0, 1.0), ("c", 0.0, 0.0)]
    assert [name for name, _, _ in pareto_front(items)] == ["b", "a"]


def test_cached_surrogate_calls_inner_once_per_design() -> None:
    calls: list[int] = []

    def f(design: Design) -> float:
        calls.append(1)
        return float(len(design.knockouts))

    cached = CachedSurrogate(FunctionSurrogate(f, sd=0.1))
    designs = [Design(knockouts=["a"]), Design(), Design(knockouts=["a"])]
    mean, sd = cached.predict(designs)
    mean2, _ = cached.predict(designs)
    assert mean.tolist() == mean2.tolist() == [1.0, 0.0, 1.0]
    assert sd.tolist() == [0.1, 0.1, 0.1]
    assert len(calls) == 2
