"""The true cell: overflow, MOMA knockout response, regulation, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from schemas.design import Design
from services.domain.organism import FastFBA, OrganismError
from simulators.profiles import PROFILES, get_profile
from simulators.truecell import TrueCell


@pytest.fixture(scope="session")
def cell() -> TrueCell:
    return TrueCell("textbook", "default")


@pytest.fixture(scope="session")
def fba(cell: TrueCell) -> FastFBA:
    return FastFBA(cell.organism)


def test_wild_type_grows_slower_than_fba_and_overflows_acetate(cell: TrueCell) -> None:
    wt = cell.wild_type
    assert wt.status == "ok" and 0.5 < wt.growth < cell.organism.reference_growth()
    assert wt.exchange["EX_ac_e"] > 1.0
    low_glucose = cell.respond(Design(medium={"EX_glc__D_e": 4.0}))
    assert low_glucose.exchange["EX_ac_e"] < 1e-3 < low_glucose.growth


@pytest.mark.parametrize("genes", [["b4025"], ["b0723"], ["b2297"], ["b3956"], ["b1852", "b2297"]])
def test_knockout_response_is_moma_not_fba(cell: TrueCell, fba: FastFBA, genes: list[str]) -> None:
    state = cell.respond(Design(knockouts=genes))
    assert state.status == "ok"
    assert state.growth <= fba.optimize_design(Design(knockouts=genes)).growth + 1e-6
    assert state.growth < cell.wild_type.growth + 1e-6


def test_succinate_piles_up_where_fba_reroutes(cell: TrueCell, fba: FastFBA) -> None:
    design = Design(knockouts=["b0723"])  # sdhA: succinate dehydrogenase
    succ = cell.organism.reaction_index("EX_succ_e")
    assert cell.respond(design).exchange["EX_succ_e"] > 0.5
    assert fba.optimize_design(design).fluxes[succ] < 1e-6


def test_lethal_designs_do_not_grow(cell: TrueCell) -> None:
    for knockout in ("PGK", "b2779"):
        state = cell.respond(Design(knockouts=[knockout]))
        assert state.status == "lethal" and state.growth == 0.0


def test_fluxes_are_mass_balanced_and_within_budget(cell: TrueCell) -> None:
    state = cell.respond(Design(knockouts=["b1852", "b2297"], expression={"b0720": 4.0}))
    assert np.abs(cell.organism.S @ state.fluxes).max() < 1e-6
    assert cell.costs @ np.abs(state.fluxes) <= cell.budget * (1 + 1e-6)


def test_down_regulation_caps_flux(cell: TrueCell) -> None:
    ppc = cell.organism.reaction_index("PPC")
    state = cell.respond(Design(expression={"b3956": 0.25}))
    assert abs(state.fluxes[ppc]) <= 0.25 * cell.capacity[ppc] + 1e-6
    assert abs(state.fluxes[ppc]) < abs(cell.wild_type.fluxes[ppc])


def test_regulatory_effects_change_other_genes(cell: TrueCell) -> None:
    effect = next(e for e in cell.effects if e.trigger == "knockout")
    levels = cell.effective_levels(Design(knockouts=[effect.source]))
    assert levels[effect.source] == 0.0
    assert levels[effect.target] == pytest.approx(effect.factor)
    over = next(e for e in cell.effects if e.trigger == "overexpression")
    levels = cell.effective_levels(Design(expression={over.source: 4.0}))
    assert levels[over.target] == pytest.approx(over.factor**2)


def test_same_profile_same_cell_and_unknown_ids(cell: TrueCell) -> None:
    other = TrueCell("textbook", "default")
    design = Design(knockouts=["b2297", "b1380"], expression={"b3956": 2.0})
    assert np.array_equal(other.respond(design).fluxes, cell.respond(design).fluxes)
    assert other.effects == cell.effects
    assert TrueCell("textbook", "rewired").effects != cell.effects
    with pytest.raises(OrganismError, match="b9999"):
        cell.respond(Design(knockouts=["b9999"]))


def test_profiles() -> None:
    assert set(PROFILES) >= {"default", "plain"}
    assert get_profile("seed:7").seed == 7
    with pytest.raises(ValueError, match="unknown cell profile"):
        get_profile("nope")


def test_plain_profile_wild_type_is_fba_optimal() -> None:
    plain = TrueCell("textbook", "plain")
    assert plain.wild_type.growth == pytest.approx(0.8739, abs=1e-3)
    assert plain.effects == []
