"""Growth-floor feasibility on the E. coli core model (FastFBA)."""

from __future__ import annotations

import numpy as np
import pytest

from schemas import CampaignSpec, Design, Objective, SearchSpace, SimulatorSpec
from services.optimizer.context import History
from services.optimizer.feasibility import FeasibilityFilter, feasibility_for
from services.optimizer.planner import PlannerOptions, plan_batch
from services.optimizer.surrogate import FunctionSurrogate

organism_module = pytest.importorskip("services.domain.organism", reason="organism core not available")

ESSENTIAL = "b0720"  # gltA, citrate synthase: no growth without it on glucose minimal medium
CANDIDATES = [ESSENTIAL, "b1241", "b0351", "b2296", "b3115", "b1849"]


@pytest.fixture(scope="session")
def textbook():  # type: ignore[no-untyped-def]
    return organism_module.load_organism("textbook")


def cell_spec() -> CampaignSpec:
    return CampaignSpec(
        objective=Objective(target="EX_succ_e", growth_floor=0.2),
        search_space=SearchSpace(knockout_candidates=CANDIDATES, max_knockouts=2),
    )


def test_filter_removes_a_lethal_knockout(textbook) -> None:  # type: ignore[no-untyped-def]
    feasibility = FeasibilityFilter(textbook, growth_floor=0.2)
    kept, rejected = feasibility.filter([Design(), Design(knockouts=[ESSENTIAL]), Design(knockouts=["b1241"])])
    assert [d.knockouts for d in kept] == [[], ["b1241"]]
    assert rejected == 1
    feasibility.filter([Design(knockouts=[ESSENTIAL])])
    assert feasibility.n_rejected == 1  # cached by key: counted once


def test_planner_never_proposes_lethal_designs(textbook) -> None:  # type: ignore[no-untyped-def]
    spec = cell_spec()
    feasibility = feasibility_for(spec, textbook)
    assert feasibility is not None
    # A surrogate that loves the lethal knockout: the filter must still keep it out.
    surrogate = FunctionSurrogate(lambda d: 10.0 * (ESSENTIAL in d.knockouts) + len(d.knockouts), sd=0.1)
    proposals = plan_batch(spec, History(), surrogate, 8, np.random.default_rng(0), feasibility=feasibility,
                           options=PlannerOptions(hybrid_uses_bo=False))
    assert proposals
    assert all(ESSENTIAL not in p.design.knockouts for p in proposals)
    assert feasibility.n_rejected >= 1


def test_function_campaigns_skip_the_filter(textbook) -> None:  # type: ignore[no-untyped-def]
    spec = cell_spec()
    spec.simulator = SimulatorSpec(kind="function", expression="x0")
    assert feasibility_for(spec, textbook) is None
    spec.simulator = None
    spec.objective.growth_floor = 0.0
    assert feasibility_for(spec, textbook) is None
