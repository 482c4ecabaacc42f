"""The shared acceptance rule and the ledger that folds only accepted measurements."""

from __future__ import annotations

from factories import campaign_spec, measurement, work_order

from schemas import MeasurementSource, Value
from services.domain.acceptance import Gate, IssuedRun, Verdict, judge
from services.optimizer.ledger import CampaignLedger


def test_rule() -> None:
    m = measurement("c1", 1, station="s1")
    issued = IssuedRun.of(work_order("c1", 1, station="s1"))
    assert judge(m, issued).verdict == Verdict.ACCEPTED
    assert judge(m, None).verdict == Verdict.WAITING
    assert judge(m, IssuedRun.of(work_order("c2", 1))).field == "campaign_id"
    assert judge(m, IssuedRun.of(work_order("c1", 1, station="s2"))).field == "station"
    assert judge(m.model_copy(update={"source": MeasurementSource.IMPORT}), None).verdict == Verdict.ACCEPTED


def test_gate_releases_a_held_measurement_when_its_order_arrives() -> None:
    gate = Gate()
    m = measurement("c1", 1)
    assert gate.offer(m) == [] and gate.n_held == 1
    assert gate.offer(work_order("c1", 1)) == [m] and gate.n_held == 0


def test_ledger_ignores_forged_measurements_for_budget_and_best() -> None:
    ledger = CampaignLedger(campaign_spec("c1"))
    genuine = measurement("c1", 1)
    ledger.apply(work_order("c1", 1))
    ledger.apply(work_order("c1", 2, station="s2"))
    ledger.apply(genuine)
    huge = {"EX_succ_e": Value(value=1e6, sd=0.1)}
    ledger.apply(genuine.model_copy(update={"id": "f1", "run_id": "run-2", "products": huge}))  # other station
    ledger.apply(genuine.model_copy(update={"id": "f2", "run_id": "run-9", "products": huge}))  # never issued
    assert ledger.used == 1
    assert ledger.best()[0] == genuine.readout("EX_succ_e")
    assert [d for d, _ in ledger.observations()] == [genuine.design]
