"""Design space: encoding, validity, repair, sampling, distance."""

from __future__ import annotations

import numpy as np
import pytest

from schemas import Design, ExpressionParam, MediumParam, RangeParam, SearchSpace
from services.optimizer.space import DesignSpace


@pytest.fixture
def space() -> DesignSpace:
    return DesignSpace(
        SearchSpace(
            knockout_candidates=["g1", "g2", "g3", "g4", "g5"],
            max_knockouts=2,
            expression=[
                ExpressionParam(gene="e1", min_fold=0.25, max_fold=4.0),
                ExpressionParam(gene="e2", levels=[0.5, 1.0, 2.0]),
            ],
            medium=[MediumParam(exchange="EX_glc__D_e", min_uptake=1.0, max_uptake=10.0)],
            forbidden=[["g1", "g2"]],
            max_interventions=4,
        )
    )


def test_sampled_designs_are_valid_and_distinct(space: DesignSpace) -> None:
    rng = np.random.default_rng(0)
    designs = space.sample_unique(200, rng)
    assert len({d.key() for d in designs}) == len(designs) == 200
    for design in designs:
        assert space.is_valid(design) == (True, "")


def test_encode_decode_round_trip(space: DesignSpace) -> None:
    design = Design(knockouts=["g3"], expression={"e1": 2.0, "e2": 0.5}, medium={"EX_glc__D_e": 5.0})
    assert space.decode(space.encode(design)).key() == design.key()


@pytest.mark.parametrize(
    ("design", "fragment"),
    [
        (Design(knockouts=["g1", "g2"]), "forbidden"),
        (Design(knockouts=["g3", "g4", "g5"]), "max_knockouts"),
        (Design(knockouts=["zz"]), "not knockout candidates"),
        (Design(expression={"e1": 8.0}), "outside"),
        (Design(expression={"e2": 3.0}), "levels"),
        (Design(medium={"EX_glc__D_e": 20.0}), "outside"),
        (Design(knockouts=["g3", "g4"], expression={"e1": 2.0, "e2": 2.0}, medium={"EX_glc__D_e": 2.0}), "interv"),
    ],
)
def test_invalid_designs_are_named(space: DesignSpace, design: Design, fragment: str) -> None:
    ok, reason = space.is_valid(design)
    assert not ok
    assert fragment in reason


def test_repair_makes_designs_valid(space: DesignSpace) -> None:
    rng = np.random.default_rng(1)
    broken = Design(knockouts=["g1", "g2", "g3", "g4"], expression={"e1": 100.0, "e2": 3.0}, medium={"EX_glc__D_e": 99})
    for _ in range(50):
        assert space.is_valid(space.repair(broken, rng))[0]


def test_distance_is_zero_for_same_design_and_bounded(space: DesignSpace) -> None:
    rng = np.random.default_rng(2)
    a, b = space.sample(rng), space.sample(rng)
    assert space.distance(a, a) == 0.0
    assert 0.0 <= space.distance(a, b) <= 1.0


def test_parameters_must_all_be_present() -> None:
    params = [RangeParam(name="x0", low=0, high=1), RangeParam(name="x1", low=0, high=1)]
    space = DesignSpace(SearchSpace(parameters=params))
    assert not space.is_valid(Design(parameters={"x0": 0.5}))[0]
    assert space.is_valid(Design(parameters={"x0": 0.5, "x1": 1.0}))[0]
