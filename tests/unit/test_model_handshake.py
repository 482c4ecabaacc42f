"""The predictor/optimizer handshake: what a model covers, a decline, the deadline; round latency samples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from factories import campaign_spec, measurement, work_order

from benchmarks.latency import round_latencies
from schemas import DeclineCause, ModelDeclined, ModelTrained
from services.optimizer.handshake import ModelWatch
from services.optimizer.ledger import CampaignLedger


def _ledger(n: int) -> CampaignLedger:
    ledger = CampaignLedger(campaign_spec("c1"))
    for i in range(n):
        ledger.apply(work_order("c1", i))
        ledger.apply(measurement("c1", i))
    return ledger


def _trained(version: int, n_train: int, covers: int | None) -> ModelTrained:
    return ModelTrained(id=f"m{version}", campaign_id="c1", version=version, artifact="a", model_kind="mlp",
                        n_train=n_train, covers=covers)


def test_the_optimizer_waits_until_a_model_covers_its_measurements_or_the_deadline() -> None:
    ledger, watch = _ledger(4), ModelWatch()
    now = ledger.last_measured_at
    assert watch.waiting("c1", ledger, now + 1.0, wait_s=30.0)
    assert not watch.waiting("c1", ledger, now + 30.0, wait_s=30.0)  # the stated deadline passed
    assert watch.apply(_trained(1, 2, covers=3))
    assert watch.waiting("c1", ledger, now + 1.0, wait_s=30.0)  # one measurement is not covered yet
    # two rows left out of training: n_train 2, but the model answers for all four measurements
    assert watch.apply(_trained(2, 2, covers=4)) and not watch.waiting("c1", ledger, now + 1.0, wait_s=30.0)
    assert not watch.apply(_trained(1, 2, covers=3))  # an older answer changes nothing


def test_a_decline_ends_the_wait_and_a_v1_model_event_covers_its_n_train() -> None:
    ledger, watch = _ledger(2), ModelWatch()
    now = ledger.last_measured_at
    watch.apply(ModelDeclined(id="d", campaign_id="c1", covers=2, cause=DeclineCause.TOO_FEW, reason="2 < 3"))
    assert not watch.waiting("c1", ledger, now, wait_s=30.0)
    old = ModelWatch()
    old.apply(_trained(1, 2, covers=None))
    assert not old.waiting("c1", ledger, now, wait_s=30.0)


def test_a_campaign_seeded_from_a_base_model_waits_for_it_before_its_first_batch() -> None:
    plain, seeded = CampaignLedger(campaign_spec("c1")), CampaignLedger(campaign_spec("c1").model_copy(
        update={"base_model": "lab-2025"}))
    watch = ModelWatch()
    opened = seeded.opened_at
    assert not watch.waiting("c1", plain, opened, wait_s=30.0)  # nothing measured, nothing to wait for
    assert watch.waiting("c1", seeded, opened + 1.0, wait_s=30.0)  # the base model plans the first batch
    assert not watch.waiting("c1", seeded, opened + 30.0, wait_s=30.0)  # ... unless it is not there in time
    assert watch.apply(_trained(1, 0, covers=0)) and not watch.waiting("c1", seeded, opened + 1.0, wait_s=30.0)


def test_round_latency_is_the_first_proposal_after_the_last_measurement_before_it() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def at(s: float) -> datetime:
        return t0 + timedelta(seconds=s)

    events = [("proposal", at(0), {"round": 1}), ("measurement", at(5), {}), ("measurement", at(6), {}),
              ("model", at(7), {}), ("proposal", at(8.5), {"round": 2}), ("proposal", at(8.6), {"round": 2}),
              ("measurement", at(12), {}), ("proposal", at(13), {"round": 3})]
    assert round_latencies(events) == [2.5, 1.0]
