"""The genome truth: the compact MOMA LP answers like TrueCell's, deterministically, and the landscape builds."""

from __future__ import annotations

import numpy as np
import pytest

from schemas import Design
from simulators.cells import make_cell, truth_version
from simulators.examples import SUCCINATE_KNOCKOUT_CANDIDATES, genome_spec
from simulators.genome import GenomeCell
from simulators.profiles import get_profile
from simulators.truecell import TrueCell

LEVELS = (0.25, 0.5, 1.0, 2.0, 4.0)


def _designs(n: int, seed: int = 3) -> list[Design]:
    rng = np.random.default_rng(seed)
    genes = list(SUCCINATE_KNOCKOUT_CANDIDATES)
    out = [Design(), Design(knockouts=["b0723", "b1852", "b2297"], expression={"b3956": 4.0})]
    while len(out) < n:
        knockouts = sorted(rng.choice(genes, int(rng.integers(1, 4)), replace=False).tolist())
        levels = {g: float(rng.choice(LEVELS)) for g in ("b3956", "b0720", "b1136")}
        out.append(Design(knockouts=knockouts, expression={g: v for g, v in levels.items() if v != 1.0}))
    return out


@pytest.fixture(scope="module")
def core_cells() -> tuple[GenomeCell, TrueCell]:
    """The compact LP on E. coli core (fast) next to TrueCell's own."""
    return GenomeCell("textbook", "default"), TrueCell("textbook", "default")


def test_compact_lp_answers_like_the_full_one(core_cells: tuple[GenomeCell, TrueCell]) -> None:
    compact, full = core_cells
    assert compact._moma.n_cols < 3 * len(compact.organism.reaction_ids)
    for design in _designs(12):
        a, b = compact.respond(design), full.respond(design)
        assert a.status == b.status
        assert a.growth == pytest.approx(b.growth, abs=1e-6)
        assert a.exchange["EX_succ_e"] == pytest.approx(b.exchange["EX_succ_e"], abs=1e-5)


def test_response_does_not_depend_on_what_was_solved_before(core_cells: tuple[GenomeCell, TrueCell]) -> None:
    cell = core_cells[0]
    designs = _designs(10, seed=5)
    forward = [cell._respond(d, {}).fluxes for d in designs]  # past the memo: every call solves
    backward = [cell._respond(d, {}).fluxes for d in reversed(designs)][::-1]
    for a, b in zip(forward, backward, strict=True):
        assert np.array_equal(a, b)


def test_genome_profile_runs_on_its_own_organism() -> None:
    profile = get_profile("genome")
    assert profile.organism == "iJO1366"
    assert truth_version("genome") and truth_version("genome") != truth_version("kinetic")
    spec = genome_spec(seed=2)
    assert spec.organism.model == "textbook" and spec.simulator is not None and spec.simulator.profile == "genome"


@pytest.mark.slow
def test_genome_cell_on_ijo1366_is_deterministic_and_departs_from_core() -> None:
    cell = make_cell("textbook", "genome")
    assert isinstance(cell, GenomeCell) and cell.organism.name == "iJO1366"
    designs = _designs(6, seed=7)
    forward = [cell._respond(d, {}).fluxes for d in designs]
    backward = [cell._respond(d, {}).fluxes for d in reversed(designs)][::-1]
    assert all(np.array_equal(a, b) for a, b in zip(forward, backward, strict=True))
    core = make_cell("textbook", "default")
    engineered = designs[1]
    assert cell.respond(engineered).exchange["EX_succ_e"] < 0.5 * core.respond(engineered).exchange["EX_succ_e"]


@pytest.mark.slow
def test_genome_landscape_builds() -> None:
    from benchmarks.loop_landscapes import make_landscape

    landscape = make_landscape("genome", 0)
    assert landscape.optimum > 0 and landscape.optimum_method == "staged"
    assert landscape.organism.name == "textbook"
    assert landscape.truth(Design()) == pytest.approx(landscape.truth(Design()))
