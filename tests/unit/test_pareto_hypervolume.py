"""Two-objective hypervolume: known 2-D cases, senses, the reference, and the vectorised improvement."""

from __future__ import annotations

import numpy as np
import pytest

from schemas import Sense
from services.domain.pareto import hypervolume_2d, hypervolume_improvement


def test_one_point_is_its_box() -> None:
    assert hypervolume_2d([(3.0, 2.0)], (1.0, 0.5)) == pytest.approx(2.0 * 1.5)


def test_staircase_of_three_points() -> None:
    # (1,3), (2,2), (3,1) above (0,0): 3 + 2*(2-1)... = the union of their boxes, 6
    assert hypervolume_2d([(1, 3), (2, 2), (3, 1)], (0, 0)) == pytest.approx(6.0)


def test_dominated_duplicate_and_outside_points_add_nothing() -> None:
    base = hypervolume_2d([(2, 1), (1, 2)], (0, 0))
    assert base == pytest.approx(3.0)
    assert hypervolume_2d([(2, 1), (1, 2), (0.5, 0.5), (2, 1), (-1, 5), (5, -1)], (0, 0)) == pytest.approx(base)
    assert hypervolume_2d([], (0, 0)) == 0.0
    assert hypervolume_2d([(0.0, 4.0)], (0, 0)) == 0.0  # on the reference line: no area


def test_minimised_objective() -> None:
    # maximise the first, minimise the second: (2, 1) and (1, 0) against the reference (0, 3)
    value = hypervolume_2d([(2, 1), (1, 0)], (0, 3), [Sense.MAXIMIZE, Sense.MINIMIZE])
    assert value == pytest.approx(2 * 2 + 1 * 1)
    assert value == pytest.approx(hypervolume_2d([(2, -1), (1, 0)], (0, -3)))


def test_improvement_matches_the_difference_of_hypervolumes() -> None:
    rng = np.random.default_rng(3)
    front = rng.random((6, 2))
    candidates = rng.random((40, 2)) * 1.2
    reference = np.array([0.05, 0.1])
    gains = hypervolume_improvement(candidates, front, reference)
    base = hypervolume_2d(front, reference)
    expected = [hypervolume_2d(np.vstack([front, c]), reference) - base for c in candidates]
    assert gains == pytest.approx(expected, abs=1e-12)
    assert hypervolume_improvement(candidates[None], front, reference).shape == (1, 40)  # leading shape kept
    assert hypervolume_improvement(np.array([[2.0, 2.0]]), np.zeros((0, 2)), (0, 0)) == pytest.approx([4.0])
