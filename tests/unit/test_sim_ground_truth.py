"""Ground truth optima of example campaigns."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from schemas.campaign import CampaignSpec, Objective, RangeParam, SearchSpace, SimulatorSpec
from schemas.design import Design
from services.domain.organism import FastFBA
from simulators.examples import SUCCINATE_KNOCKOUT_CANDIDATES, hartmann6_spec, sin_cos_spec, succinate_core_spec
from simulators.ground_truth import true_optimum
from simulators.truecell import TrueCell


@pytest.fixture(scope="session")
def cell() -> TrueCell:
    return TrueCell("textbook", "default")


def test_sin_cos_known_optimum(tmp_path: Path) -> None:
    truth = true_optimum(sin_cos_spec(), cache_dir=tmp_path)
    assert truth.value == 2.0 and truth.method == "known"
    assert true_optimum(hartmann6_spec(), cache_dir=tmp_path).value == pytest.approx(-3.32237)


def test_numeric_function_optimum(tmp_path: Path) -> None:
    spec = CampaignSpec(
        objective=Objective(target="y", growth_floor=0.0),
        search_space=SearchSpace(parameters=[RangeParam(name=p, low=0.0, high=2 * math.pi) for p in ("a", "b")]),
        simulator=SimulatorSpec(kind="function", expression="sin(a) + cos(b) + 0"),
    )
    truth = true_optimum(spec, cache_dir=tmp_path)
    assert truth.method == "heuristic" and truth.value == pytest.approx(2.0, abs=1e-6)
    assert truth.design.parameters["a"] == pytest.approx(math.pi / 2, abs=1e-3)


def test_small_cell_campaign_is_exhaustive_and_cached(tmp_path: Path, cell: TrueCell) -> None:
    candidates = ["b0723", "b1852", "b2297", "b1380", "b4025"]
    spec = succinate_core_spec().model_copy(update={
        "search_space": SearchSpace(knockout_candidates=candidates, max_knockouts=2),
    })
    truth = true_optimum(spec, cell=cell, cache_dir=tmp_path)
    assert truth.method == "exhaustive" and truth.n_evaluated == 16
    floor = 0.2 * cell.wild_type.growth
    brute = max(
        cell.respond(Design(knockouts=list(k))).exchange["EX_succ_e"]
        for n in range(3) for k in itertools.combinations(candidates, n)
        if cell.respond(Design(knockouts=list(k))).growth >= floor
    )
    assert truth.value == pytest.approx(brute)
    assert true_optimum(spec, cell=cell, cache_dir=tmp_path).n_evaluated == 16  # from the cache
    assert len(list(tmp_path.rglob("*.json"))) == 1


@pytest.mark.slow
def test_succinate_example_optimum_is_nontrivial(tmp_path: Path, cell: TrueCell) -> None:
    spec = succinate_core_spec()
    assert len(spec.search_space.knockout_candidates) == len(SUCCINATE_KNOCKOUT_CANDIDATES) == 25
    truth = true_optimum(spec, cell=cell, cache_dir=tmp_path)
    assert truth.method == "heuristic"
    assert truth.value > 3.0 > 10 * cell.wild_type.exchange["EX_succ_e"]
    assert len(truth.design.knockouts) >= 2
    state = cell.respond(truth.design)
    assert state.growth >= 0.2 * cell.wild_type.growth
    fba = FastFBA(cell.organism).optimize_design(truth.design)
    assert fba.fluxes[cell.organism.reaction_index("EX_succ_e")] < truth.value / 2
