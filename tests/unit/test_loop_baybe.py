"""The BayBE peer proposes valid, distinct designs (skipped where baybe is not installed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

NO_BAYBE = "baybe not installed (optional extra: pip install -e '.[bench]')"


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
    pytest.importorskip("baybe", reason=NO_BAYBE)
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
    pytest.importorskip("baybe", reason=NO_BAYBE)
    from benchmarks.loop import BAYBE, run_campaign
    from benchmarks.loop_landscapes import make_landscape

    landscape = make_landscape("sin_cos", 0)
    trace = run_campaign(landscape, BAYBE, seed=0, budget=16, epochs=1)  # a random batch, then BayBE's GP
    assert trace.experiments == [8, 16] and trace.repeats == 0
    assert all(0.0 <= f <= 1.0 + 1e-9 for f in trace.fractions)


def test_without_baybe_the_strategy_is_skipped_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from benchmarks.loop import BAYBE, bench_landscape

    monkeypatch.setitem(sys.modules, "baybe", None)  # `import baybe` now raises ImportError
    out = bench_landscape("sin_cos", seeds=1, budget=8, random_budget=8, epochs=1, strategies=[BAYBE])
    assert set(out["strategies"][BAYBE]) == {"skipped"}
    assert "baybe is not installed" in out["strategies"][BAYBE]["skipped"]


def test_a_discrete_space_too_large_to_list_is_skipped() -> None:
    from benchmarks.loop_baybe import MAX_DISCRETE, discrete_rows, too_large
    from schemas import SearchSpace

    search = SearchSpace(knockout_candidates=[f"g{i}" for i in range(60)], max_knockouts=4)
    assert discrete_rows(search) > MAX_DISCRETE
    assert "more than the" in (too_large(search) or "")
