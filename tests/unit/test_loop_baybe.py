"""The BayBE peer proposes valid, distinct designs (skipped where baybe is not installed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("baybe", reason="baybe not installed (optional extra: pip install -e '.[bench]')")


def _small_spec() -> object:
    from schemas import CampaignSpec, ExpressionParam, Objective, OrganismSpec, SearchSpace, Sense

    return CampaignSpec(
        id="baybe-small", name="small knockout space", organism=OrganismSpec(model="textbook"),
        objective=Objective(target="EX_succ_e", sense=Sense.MAXIMIZE, growth_floor=0.2),
        search_space=SearchSpace(knockout_candidates=["b0001", "b0002", "b0003", "b0004", "b0005"], max_knockouts=2,
                                 expression=[ExpressionParam(gene="b3956", levels=[0.5, 1.0, 2.0])],
                                 forbidden=[["b0001", "b0002"]]),
        budget=16, batch_size=4, seed=0,
    )


def test_baybe_lists_the_valid_discrete_designs_and_proposes_distinct_new_ones() -> None:
    from benchmarks.loop_baybe import PlainBayBE, discrete_rows
    from services.optimizer.space import DesignSpace

    spec = _small_spec()
    peer = PlainBayBE(SimpleNamespace(spec=spec), seed=0)
    # knockout sets of <= 2 of 5 without the forbidden pair: 1 + 5 + 9 = 15, times 3 levels
    assert discrete_rows(spec.search_space) == 45 == len(peer._table())
    space = DesignSpace.from_spec(spec)
    first = peer.propose(6)
    second = peer.propose(6)  # the first six are still pending: BayBE must not propose them again
    keys = [d.key() for d in first + second]
    assert len(keys) == len(set(keys)) == 12
    for design in first + second:
        ok, reason = space.is_valid(design)
        assert ok, reason
        assert not {"b0001", "b0002"} <= set(design.knockouts)


def test_baybe_runs_past_its_random_start_on_a_continuous_function() -> None:
    from benchmarks.loop import BAYBE, run_campaign
    from benchmarks.loop_landscapes import make_landscape

    landscape = make_landscape("sin_cos", 0)
    trace = run_campaign(landscape, BAYBE, seed=0, budget=16, epochs=1)  # a random batch, then BayBE's GP
    assert trace.experiments == [8, 16] and trace.repeats == 0
    assert all(0.0 <= f <= 1.0 + 1e-9 for f in trace.fractions)
