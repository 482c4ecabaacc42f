"""Known biology and exactness of the organism core (E. coli core model)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from pydantic import ValidationError

from schemas.design import Design
from services.domain.organism import FastFBA, Organism, OrganismError, load_organism


@pytest.fixture(scope="session")
def core() -> Organism:
    return load_organism("textbook")


@pytest.fixture(scope="session")
def fba(core: Organism) -> FastFBA:
    return FastFBA(core)


def test_core_model_shape(core: Organism) -> None:
    assert len(core.reaction_ids) == 95 and len(core.gene_ids) == 137
    assert core.S.shape == (len(core.metabolite_ids), 95)
    assert core.biomass_id == "Biomass_Ecoli_core"
    assert "EX_glc__D_e" in core.exchange_ids
    assert core.reaction_index("PGI") == core.reaction_ids.index("PGI")
    assert load_organism("textbook") is core


def test_wild_type_growth(core: Organism, fba: FastFBA) -> None:
    assert core.reference_growth() == pytest.approx(0.8739, abs=1e-3)
    assert fba.optimize_design(Design()).growth == pytest.approx(0.8739, abs=1e-3)


def test_pgi_knockout_grows_through_pentose_phosphate_pathway(core: Organism, fba: FastFBA) -> None:
    result = fba.optimize_design(Design(knockouts=["b4025"]))
    assert result.ok and result.growth > 0.1
    assert result.fluxes[core.reaction_index("PGI")] == 0.0
    assert result.fluxes[core.reaction_index("G6PDH2r")] > 1.0


@pytest.mark.parametrize("knockout", ["PGK", "GAPD", "ENO", "b2926"])
def test_essential_knockouts_are_lethal(fba: FastFBA, knockout: str) -> None:
    assert fba.optimize_design(Design(knockouts=[knockout])).growth < 1e-9


def test_isozyme_knockout_keeps_reaction(core: Organism) -> None:
    lb, ub = core.design_bounds(Design(knockouts=["b1854"]))  # pykA; pykF still catalyses PYK
    i = core.reaction_index("PYK")
    assert (lb[i], ub[i]) == (core.lb[i], core.ub[i])
    lb, ub = core.design_bounds(Design(knockouts=["b1854", "b1676"]))
    assert lb[i] == ub[i] == 0.0


def test_expression_scales_bounds_by_gpr_rule(core: Organism) -> None:
    _, ub = core.design_bounds(Design(expression={"b3956": 0.5}))  # ppc alone catalyses PPC
    i = core.reaction_index("PPC")
    assert ub[i] == pytest.approx(0.5 * core.ub[i])
    _, ub = core.design_bounds(Design(expression={"b1854": 3.0}))  # one of two PYK isozymes: (3 + 1) / 2
    assert ub[core.reaction_index("PYK")] == pytest.approx(2.0 * core.ub[core.reaction_index("PYK")])


def test_medium_sets_uptake(core: Organism, fba: FastFBA) -> None:
    lb, _ = core.design_bounds(Design(medium={"EX_glc__D_e": 5.0}), base_medium={"EX_o2_e": 0.0})
    assert lb[core.reaction_index("EX_glc__D_e")] == -5.0 and lb[core.reaction_index("EX_o2_e")] == 0.0
    anaerobic = fba.optimize_design(Design(), base_medium={"EX_o2_e": 0.0})
    assert 0.1 < anaerobic.growth < 0.3


def test_fastfba_matches_cobra(core: Organism) -> None:
    fast = FastFBA(core, reuse_reference=False)
    designs = [Design(knockouts=k) for k in (["b4025"], ["b0723", "b2297"], ["b1852", "b4025"], ["b0720"],
                                              ["b1380", "b1241", "b0903"])]
    model = core.cobra_model
    for design in designs:
        with model, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for gene in design.knockouts:
                model.genes.get_by_id(gene).knock_out()
            expected = model.slim_optimize(error_value=0.0)
        assert fast.optimize_design(design).objective_value == pytest.approx(expected, abs=1e-6)
    assert FastFBA(core).optimize_design(designs[0]).objective_value == pytest.approx(
        fast.optimize_design(designs[0]).objective_value, abs=1e-9)


def test_reference_shortcut_is_exact(core: Organism) -> None:
    shortcut, plain = FastFBA(core), FastFBA(core, reuse_reference=False)
    for gene in ("b1380", "b0903", "b3403", "b4015"):  # reactions idle in the wild-type optimum
        a, b = shortcut.optimize_design(Design(knockouts=[gene])), plain.optimize_design(Design(knockouts=[gene]))
        assert a.objective_value == pytest.approx(b.objective_value, abs=1e-9)
    assert shortcut.reused > 0


def test_custom_objective_and_pfba(core: Organism, fba: FastFBA) -> None:
    objective = np.zeros(len(core.reaction_ids))
    objective[core.reaction_index("EX_ac_e")] = 1.0
    assert fba.optimize(core.lb, core.ub, objective=objective).objective_value > 10.0
    assert fba.optimize(core.lb, core.ub).growth == pytest.approx(0.8739, abs=1e-3)
    parsimonious = fba.pfba(core.lb, core.ub)
    assert parsimonious.growth == pytest.approx(0.8739, abs=1e-3)
    assert parsimonious.objective_value == pytest.approx(518.42, abs=0.01)
    assert parsimonious.objective_value == pytest.approx(float(np.abs(parsimonious.fluxes).sum()), rel=1e-6)


def test_infeasible_bounds_report_status(core: Organism, fba: FastFBA) -> None:
    lb = core.lb.copy()
    lb[core.reaction_index("EX_glc__D_e")] = 0.0  # no carbon, but ATP maintenance is forced
    result = fba.optimize(lb, core.ub)
    assert result.status == "infeasible" and result.growth == 0.0 and not result.ok
    with pytest.raises(ValueError, match="shape"):
        fba.optimize(core.lb[:3], core.ub)


def test_validate_design_names_field_and_reason(core: Organism) -> None:
    with pytest.raises(OrganismError) as err:
        core.validate_design(Design(knockouts=["b0723", "b9999"]))
    assert err.value.field == "knockouts[1]" and "b9999" in err.value.reason
    with pytest.raises(OrganismError) as err:
        core.validate_design(Design(expression={"PGI": 2.0}))
    assert err.value.field == "expression.PGI" and "unknown gene" in err.value.reason
    with pytest.raises(OrganismError) as err:
        core.validate_design(Design(medium={"PGI": 2.0}))
    assert err.value.field == "medium.PGI" and "not an exchange" in err.value.reason
    with pytest.raises(OrganismError, match="EX_foo_e"):
        core.design_bounds(Design(medium={"EX_foo_e": 1.0}))


@pytest.mark.parametrize("bad", [{"expression": {"b3956": -1.0}}, {"expression": {"b3956": math.nan}},
                                 {"medium": {"EX_glc__D_e": math.inf}}])
def test_schema_rejects_bad_numbers(bad: dict[str, dict[str, float]]) -> None:
    with pytest.raises(ValidationError):
        Design.model_validate(bad)


def test_unknown_model_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(OrganismError) as err:
        load_organism("e_coli_core_not_here")
    assert err.value.field == "organism.model" and "textbook" in err.value.reason
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(OrganismError, match="could not read"):
        load_organism(str(broken))


def test_model_file_round_trip(tmp_path, core: Organism) -> None:
    import cobra

    path = tmp_path / "core.json"
    cobra.io.save_json_model(core.cobra_model, str(path))
    loaded = load_organism(str(path))
    assert loaded.reaction_ids == core.reaction_ids
    assert FastFBA(loaded).reference.growth == pytest.approx(0.8739, abs=1e-3)
