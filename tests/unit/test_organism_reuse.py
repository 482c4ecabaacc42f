"""An LP optimum is reused across a strain's expression variants only where it provably stays optimal."""

from __future__ import annotations

import numpy as np
import pytest

from schemas import Design
from services.domain.organism import FastFBA, load_organism
from services.domain.organism.reuse import AnchoredSolves, still_optimal
from services.optimizer.envelope import FluxEnvelope
from services.optimizer.feasibility import fba_growth_function
from services.optimizer.space import DesignSpace
from simulators.examples import succinate_core_spec


def test_kkt_test_on_a_box() -> None:
    x = np.array([1.0, 0.5])  # optimum of max x0 over [0, 1] x [0, 2]: x0 at its upper bound
    old = (np.array([0.0, 0.0]), np.array([1.0, 2.0]))
    assert still_optimal(x, old, (np.array([0.0, 0.0]), np.array([1.0, 4.0])))  # loosened, inactive
    assert still_optimal(x, old, (np.array([0.0, 0.4]), np.array([1.0, 0.6])))  # tightened, still inside
    assert not still_optimal(x, old, (np.array([0.0, 0.0]), np.array([2.0, 2.0])))  # loosened where active
    assert not still_optimal(x, old, (np.array([0.0, 0.0]), np.array([0.5, 2.0])))  # x no longer feasible


def test_anchored_solves_equal_direct_solves_where_bounds_bind() -> None:
    organism = load_organism("textbook")
    fba, direct = FastFBA(organism), FastFBA(organism)
    solves = AnchoredSolves(fba.optimize)
    anchor = (organism.lb.copy(), organism.ub.copy())
    glucose = organism.reaction_index("EX_glc__D_e")
    pgi = organism.reaction_index("PGI")
    cases = []
    for index, lower, upper in ((pgi, -1000.0, 4000.0), (pgi, -0.5, 0.5), (glucose, -20.0, 1000.0)):
        lb, ub = anchor[0].copy(), anchor[1].copy()
        lb[index], ub[index] = lower, upper
        cases.append((lb, ub))
    for lb, ub in cases:
        got = solves.solve_for("wild type", lambda: anchor, (lb, ub))
        assert got.objective_value == pytest.approx(direct.optimize(lb, ub).objective_value, abs=1e-9)
    # the anchor, then: loosened inactive PGI bound reused; PGI capped below its flux and more glucose re-solved
    assert (solves.lp_calls, solves.reused) == (3, 1)


def test_envelope_and_growth_floor_match_one_lp_per_design() -> None:
    spec = succinate_core_spec()
    organism = load_organism("textbook")
    space = DesignSpace.from_spec(spec)
    medium = dict(spec.organism.medium) or None
    rng = np.random.default_rng(3)
    strains = space.sample_unique(40, rng, exclude=set())
    designs = [Design(knockouts=s.knockouts, expression=space.sample(rng).expression)
               for s in strains for _ in range(4)]
    floor = 0.2 * FastFBA(organism).optimize_design(Design(), base_medium=medium).growth
    envelope = FluxEnvelope(organism, "EX_succ_e", medium, min_growth=floor)
    growth = fba_growth_function(organism, medium)
    fba = FastFBA(organism)
    target = np.zeros(len(organism.reaction_ids))
    target[organism.reaction_index("EX_succ_e")] = 1.0
    for design in designs:
        lb, ub = organism.design_bounds(design, medium)
        plain = fba.optimize(lb, ub)
        assert growth(design) == pytest.approx(plain.growth if plain.ok else 0.0, abs=1e-9)
        lb = lb.copy()
        lb[organism.biomass_index] = max(lb[organism.biomass_index], floor)
        high, low = (fba.optimize(lb, ub, objective=target, sense=s) for s in ("max", "min"))
        expected = (low.objective_value, high.objective_value) if high.ok and low.ok else (0.0, 0.0)
        assert envelope.range(design) == pytest.approx(expected, abs=1e-9)
    assert envelope.lp_calls < len(designs)  # two LPs per strain at most, not two per design
