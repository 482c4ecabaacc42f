"""Campaign summaries: best by batch, and the Pareto set when the objective has a second target."""

from __future__ import annotations

import pytest

from schemas import Design, Measurement, Objective, Value
from simulators.examples import succinate_core_spec


def _m(i: int, succ: float, growth: float) -> Measurement:
    return Measurement(id=f"m{i}", campaign_id="c", run_id=f"r{i}", design=Design(knockouts=[f"b{i:04d}"]),
                       growth_rate=Value(value=growth), products={"EX_succ_e": Value(value=succ)})


def test_best_by_batch_and_pareto_set() -> None:
    from services.domain.summary import campaign_summary

    spec = succinate_core_spec().model_copy(update={"objective": Objective(
        target="EX_succ_e", second_target="growth", growth_floor=0.2)})
    ms = [_m(0, 1.0, 0.8), _m(1, 3.0, 0.3), _m(2, 2.0, 0.2), _m(3, 0.5, 0.9)]
    proposals = [{"id": f"p{i}", "round": 1 + i // 2} for i in range(4)]
    orders = [{"run_id": f"r{i}", "proposal_id": f"p{i}"} for i in range(4)]
    summary = campaign_summary(spec, proposals, orders, ms, 0, [], [])
    assert summary["best_value"] == 3.0 and summary["best_by_batch"] == [3.0, 3.0]
    front = [(p["EX_succ_e"], p["growth"]) for p in summary["pareto"]]
    assert front == [(3.0, 0.3), (1.0, 0.8), (0.5, 0.9)]  # (2.0, 0.2) is dominated by (3.0, 0.3)


def test_hypervolume_by_round_uses_one_reference_and_rises() -> None:
    from services.domain.summary import campaign_summary, hypervolume_by_round

    spec = succinate_core_spec().model_copy(update={"objective": Objective(
        target="EX_succ_e", second_target="growth", growth_floor=0.2)})
    wild = Measurement(id="w", campaign_id="c", run_id="rw", design=Design(), growth_rate=Value(value=1.0),
                       products={"EX_succ_e": Value(value=0.0)})
    ms = [wild, _m(1, 3.0, 0.3), _m(2, 2.0, 0.5), _m(3, 4.0, 0.1)]  # m3 grows below the floor (0.2 x 1.0)
    proposals = [{"id": "pw", "round": 1}, {"id": "p1", "round": 1}, {"id": "p2", "round": 2}, {"id": "p3", "round": 2}]
    orders = [{"run_id": m.run_id, "proposal_id": p["id"]} for m, p in zip(ms, proposals, strict=True)]
    hv = hypervolume_by_round(spec, proposals, orders, ms)
    # reference: worst succinate among designs meeting the floor (0.0), growth at the floor (0.2)
    assert hv["reference"] == {"EX_succ_e": 0.0, "growth": pytest.approx(0.2)}
    assert hv["rounds"] == [1, 2]
    # round 1: (0, 1) adds no area, (3, 0.3) adds 3 x 0.1; round 2: (2, 0.5) adds 2 x 0.2; m3 is below the floor
    assert hv["by_round"] == [pytest.approx(0.3), pytest.approx(0.3 + 0.4)]
    assert campaign_summary(spec, proposals, orders, ms, 0, [], [])["hypervolume"] == hv
    single = succinate_core_spec()
    assert "hypervolume" not in campaign_summary(single, proposals, orders, ms, 0, [], [])
