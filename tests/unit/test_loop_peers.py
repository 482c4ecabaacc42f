"""The plain-Ax peer runs past its Sobol start on a knockout campaign (slots, no linear constraint)."""

from __future__ import annotations

import pytest

pytest.importorskip("ax", reason="Ax not installed")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_plain_ax_proposes_model_based_batches_on_a_knockout_space() -> None:
    from benchmarks.loop import PLAIN_AX, run_campaign
    from benchmarks.loop_landscapes import make_landscape

    landscape = make_landscape("succinate_core", 0)
    # 8 from Ax's Sobol start, then one from its GP (BoTorch's mixed optimizer: ~30 s per candidate here)
    trace = run_campaign(landscape, PLAIN_AX, seed=0, budget=9, epochs=1)
    assert trace.experiments == [8, 9]
    assert all(0.0 <= f <= 1.0 + 1e-9 for f in trace.fractions)


def test_slot_encoding_decodes_to_at_most_k_distinct_knockouts() -> None:
    from benchmarks.loop_landscapes import make_landscape
    from benchmarks.loop_peers import NO_KNOCKOUT, PlainAx

    landscape = make_landscape("succinate_core", 0)
    search = landscape.spec.search_space
    peer = PlainAx(landscape, seed=0)
    a, b = search.knockout_candidates[:2]
    levelled = {f"x_{e.gene}": 1.0 for e in search.expression}
    design = peer._design({"ko_1": b, "ko_2": a, "ko_3": b, **levelled})
    assert sorted(design.knockouts) == sorted([a, b]) and design.expression == {}
    assert peer._design({"ko_1": NO_KNOCKOUT, "ko_2": NO_KNOCKOUT, "ko_3": NO_KNOCKOUT, **levelled}).knockouts == []
    assert peer.slots == search.max_knockouts == 3


def test_local_peer_plans_one_batch_of_new_neighbours() -> None:
    import numpy as np

    from benchmarks.loop_peers import local_batch
    from schemas import Design
    from services.domain.organism import load_organism
    from services.optimizer.context import History
    from services.optimizer.feasibility import feasibility_for
    from services.optimizer.insilico import insilico_for
    from services.optimizer.local import neighbours
    from services.optimizer.space import DesignSpace
    from simulators.examples import succinate_core_spec

    spec = succinate_core_spec(seed=0)
    organism = load_organism("textbook")
    prior, feasibility = insilico_for(spec, organism), feasibility_for(spec, organism)
    space = DesignSpace.from_spec(spec)
    best = Design(knockouts=["b0723", "b1852"], expression={"b3956": 0.5})
    history = History(measured=[(Design(), 0.0), (best, 5.0), (Design(knockouts=["b1380"]), 0.1)])
    designs = local_batch(spec, history, None, 8, np.random.default_rng(0), feasibility, prior)
    assert len(designs) == 8 and len({d.key() for d in designs}) == 8
    measured = {d.key() for d, _ in history.measured}
    assert not measured & {d.key() for d in designs}
    assert all(space.is_valid(d)[0] and feasibility is not None and feasibility.is_feasible(d) for d in designs)
    around = {d.key() for m, _ in history.measured for d in neighbours(space, m, np.random.default_rng(0))}
    assert sum(d.key() in around for d in designs) >= 6  # moves around the best measured designs
