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


def _random_designs(organism: object, n: int, seed: int) -> list[Design]:
    genes = organism.gene_ids  # type: ignore[attr-defined]
    rng = np.random.default_rng(seed)
    return [Design(knockouts=sorted(rng.choice(genes, size=int(rng.integers(1, 3)), replace=False).tolist()),
                   expression={str(rng.choice(genes)): float(2 ** rng.uniform(-2, 2))}) for _ in range(n)]


@pytest.mark.parametrize("medium", [{}, {"EX_glc__D_e": 4.0, "EX_o2_e": 6.0}])
def test_anchored_pfba_has_the_optimal_values_of_plain_pfba(medium: dict[str, float]) -> None:
    organism = load_organism("textbook")
    anchored, plain = FastFBA(organism), FastFBA(organism)
    anchor = Design(medium=medium)
    for design in _random_designs(organism, 40, 1):
        design = design.model_copy(update={"medium": medium})
        lb, ub = organism.design_bounds(design)
        a = anchored.pfba_anchored(repr(sorted(medium.items())), lambda: organism.design_bounds(anchor), lb, ub)
        b = plain.pfba(lb, ub)
        assert a.status == b.status
        if b.ok:  # the same growth and total |flux| (pFBA's two optimal values); a flux vector of the design
            assert a.growth == pytest.approx(b.growth, abs=1e-7)
            assert a.objective_value == pytest.approx(b.objective_value, rel=1e-7, abs=1e-7)
            assert np.abs(organism.S @ a.fluxes).max() < 1e-7
            assert np.all(a.fluxes >= lb - 1e-7) and np.all(a.fluxes <= ub + 1e-7)
    assert anchored.anchored_reused > 0  # knockouts of reactions idle in the anchor's optimum need no LP


def test_anchored_pfba_reuses_the_anchor_only_for_idle_knockouts() -> None:
    organism = load_organism("textbook")
    fba = FastFBA(organism)
    wild = fba.pfba(organism.lb, organism.ub)
    idle = [g for g in organism.gene_ids
            if all(abs(wild.fluxes[r]) < 1e-9 for r in organism.reaction_levels({g: 0.0}))]
    busy = organism.reaction_index("PFK")
    anchor = (organism.lb, organism.ub)
    out = fba.pfba_anchored("wt", lambda: anchor, *organism.design_bounds(Design(knockouts=[idle[0]])))
    again = fba.pfba_anchored("wt", lambda: anchor, *anchor)
    assert fba.anchored_reused == 2 and np.array_equal(out.fluxes, again.fluxes)
    lb, ub = organism.lb.copy(), organism.ub.copy()
    lb[busy] = ub[busy] = 0.0
    moved = fba.pfba_anchored("wt", lambda: anchor, lb, ub)
    assert moved.ok and moved.fluxes[busy] == 0.0 and fba.anchored_reused == 2


def test_anchored_pfba_answers_do_not_depend_on_the_designs_solved_before() -> None:
    """Both stages start from the anchor's optimal bases, so the order of the designs does not change which optimum
    a design gets (the same vertex, up to rounding)."""
    organism = load_organism("textbook")
    medium = {"EX_glc__D_e": 6.0}
    anchor = Design(medium=medium)
    designs = [d.model_copy(update={"medium": medium}) for d in _random_designs(organism, 30, 2)]

    def solve_all(order: list[Design]) -> dict[str, np.ndarray]:
        fba = FastFBA(organism)
        return {d.key(): fba.pfba_anchored("m", lambda: organism.design_bounds(anchor),
                                           *organism.design_bounds(d)).fluxes for d in order}

    forward, backward = solve_all(designs), solve_all(designs[::-1])
    assert all(np.allclose(forward[k], backward[k], rtol=0, atol=1e-9) for k in forward)
