"""Replicates of the leading designs and the posterior best (`services.optimizer.replicates`,
`services.domain.posterior`)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from factories import cell_like_spec

from schemas import AnalysisSpec, Design, Measurement, Prediction, Proposal, Value
from services.domain.floor import GrowthFloor
from services.domain.posterior import Prior, noise_estimate, posterior_best, priors_from_proposals, shrink
from services.domain.summary import campaign_summary
from services.optimizer.context import Context, History, PlannedProposal
from services.optimizer.ledger import CampaignLedger
from services.optimizer.planner import plan_batch
from services.optimizer.replicates import MAX_READINGS, REPLICATE, contenders, plan_replicates, replicate_slots
from services.optimizer.service import OptimizerService
from services.optimizer.space import DesignSpace
from services.runtime.settings import Settings

A, B, C = Design(knockouts=["b0002"]), Design(knockouts=["b0004"]), Design(knockouts=["b0005"])
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _m(i: int, design: Design, value: float, sd: float = 0.2, growth: float = 0.5) -> Measurement:
    return Measurement(id=f"m{i}", campaign_id="c1", run_id=f"r{i}", design=design,
                       measured_at=T0 + timedelta(seconds=i), values={"EX_succ_e": Value(value=value, sd=sd)},
                       growth_rate=Value(value=growth))


def _spec(replicates: int = 2):  # type: ignore[no-untyped-def]
    return cell_like_spec().model_copy(update={"analysis": AnalysisSpec(replicates=replicates)})


def _ctx(history: History, spec=None) -> Context:  # type: ignore[no-untyped-def]
    spec = spec or _spec()
    return Context(DesignSpace.from_spec(spec), history, np.random.default_rng(0), None)


# --- the shrinkage, known numbers -------------------------------------------------------------------------------

def test_shrink_is_the_normal_normal_posterior() -> None:
    mean, sd = shrink([4.0, 3.8], 0.2, Prior(3.5, 0.2))  # data precision 2/0.04 = 50, prior 1/0.04 = 25
    assert mean == pytest.approx((25 * 3.5 + 50 * 3.9) / 75)
    assert sd == pytest.approx(1 / math.sqrt(75))


def test_shrink_without_a_prediction_is_the_replicate_mean_and_without_noise_has_no_sd() -> None:
    assert shrink([4.0, 3.8], 0.2, None) == pytest.approx((3.9, 0.2 / math.sqrt(2)))
    assert shrink([4.0, 3.8], None, Prior(3.0, 0.1)) == (pytest.approx(3.9), None)
    with pytest.raises(ValueError):
        shrink([], 0.2, None)


def test_noise_is_the_pooled_replicate_spread_else_the_reported_sd() -> None:
    single = [_m(0, A, 4.0, sd=0.3), _m(1, B, 3.0, sd=0.1)]
    assert noise_estimate("EX_succ_e", single).sd == pytest.approx(0.2)
    pooled = [_m(0, A, 4.0), _m(1, A, 4.2), _m(2, B, 3.0), _m(3, B, 3.2), _m(4, C, 1.0)]
    noise = noise_estimate("EX_succ_e", pooled)
    assert noise.sd == pytest.approx(math.sqrt((0.02 + 0.02) / 2)) and "pooled" in noise.source


def test_an_interval_on_a_pooled_sd_uses_students_t() -> None:
    pooled = [_m(0, A, 4.0), _m(1, A, 4.2), _m(2, B, 3.0), _m(3, B, 3.2)]
    best = posterior_best(_spec(), pooled, {}, GrowthFloor(None, "none"))
    assert best is not None and best.dof == 2
    low, high = best.interval() or (0.0, 0.0)
    assert (high - low) / 2 == pytest.approx(4.302652729911275 * 0.1414213562 / math.sqrt(2), rel=1e-6)
    reported = posterior_best(_spec(), [_m(0, A, 4.0, sd=0.2)], {}, GrowthFloor(None, "none"))
    assert reported is not None and reported.interval() == pytest.approx((4.0 - 1.959964 * 0.2, 4.0 + 1.959964 * 0.2))


def test_posterior_best_prefers_a_replicated_design_to_one_lucky_reading() -> None:
    runs = [_m(0, A, 4.3), _m(1, B, 3.95), _m(2, B, 4.05), _m(3, C, 2.0)]
    priors = {A.key(): Prior(3.5, 0.15), B.key(): Prior(4.0, 0.3)}
    best = posterior_best(_spec(), runs, priors, GrowthFloor(None, "none"))
    assert best is not None and best.design == B and best.n == 2
    low, high = best.interval() or (0.0, 0.0)
    assert low < 4.0 < high
    plain = posterior_best(_spec(), runs, {}, GrowthFloor(None, "none"))
    assert plain is not None and plain.design == A, "without the model the lucky reading still leads"


def test_posterior_best_respects_the_growth_floor() -> None:
    runs = [_m(0, A, 5.0, growth=0.01), _m(1, B, 4.0)]
    best = posterior_best(_spec(), runs, {}, GrowthFloor(0.1, "test"))
    assert best is not None and best.design == B


def test_priors_come_from_the_first_proposal_with_a_prediction() -> None:
    records = [{"design": A.model_dump(mode="json"), "round": 3, "predicted": {"EX_succ_e": {"mean": 9.0, "sd": 1.0}}},
               {"design": A.model_dump(mode="json"), "round": 2, "predicted": {"EX_succ_e": {"mean": 4.0, "sd": 0.5}}},
               {"design": B.model_dump(mode="json"), "round": 1, "predicted": {}}]
    assert priors_from_proposals("EX_succ_e", records) == {A.key(): Prior(4.0, 0.5)}


def test_summary_names_the_posterior_best_with_its_interval() -> None:
    runs = [_m(0, A, 4.3), _m(1, B, 3.95), _m(2, B, 4.05), _m(3, Design(), 1.0)]
    proposals = [{"id": "p0", "design": A.model_dump(mode="json"), "round": 2, "strategy": "ga",
                  "predicted": {"EX_succ_e": {"mean": 3.5, "sd": 0.15}}},
                 {"id": "p1", "design": B.model_dump(mode="json"), "round": 1, "strategy": "ga", "predicted": {}}]
    summary = campaign_summary(_spec(), proposals, [], runs, 0, [], [])
    assert summary["best_design"] == B.model_dump(mode="json")
    assert summary["best_reading"] == 4.3 and summary["best_reading_design"] == A.model_dump(mode="json")
    low, high = summary["best_interval95"]
    assert low < summary["best_value"] < high and summary["best_posterior"]["n_readings"] == 2


# --- contenders and slots ----------------------------------------------------------------------------------------

def test_slots_follow_the_setting_and_a_quarter_of_the_batch() -> None:
    assert replicate_slots(_spec(2), 8) == 2
    assert replicate_slots(_spec(2), 4) == 1
    assert replicate_slots(_spec(2), 3) == 0
    assert replicate_slots(_spec(0), 8) == 0


def test_contenders_are_the_designs_within_noise_of_the_leader() -> None:
    close = History(measured=[(A, 4.0), (B, 3.9), (C, 2.0)], noise_sd=0.2)
    assert {d.key() for d, _, _ in contenders(_ctx(close))} == {A.key(), B.key()}
    apart = History(measured=[(A, 4.0), (B, 3.0), (C, 2.0)], noise_sd=0.2)
    assert contenders(_ctx(apart)) == [], "a clear leader needs no replicates"


def test_plan_replicates_skips_pending_floor_failures_and_designs_read_enough() -> None:
    history = History(measured=[(A, 4.0), (B, 3.9), (C, 3.95)], noise_sd=0.2)
    picks = plan_replicates(_spec(), _ctx(history), 8, lambda _: True)
    assert len(picks) == 2 and all(p.strategy == REPLICATE for p in picks)
    assert plan_replicates(_spec(0), _ctx(history), 8, lambda _: True) == []
    history.pending, history.below_floor = [A], {C.key()}
    assert [p.design for p in plan_replicates(_spec(), _ctx(history), 8, lambda _: True)] == [B]
    enough = History(measured=[(A, 4.0)] * MAX_READINGS + [(B, 3.9)] * MAX_READINGS, noise_sd=0.2)
    assert plan_replicates(_spec(), _ctx(enough), 8, lambda _: True) == []


def test_plan_batch_replicates_contenders_and_never_repeats_a_new_design() -> None:
    measured = [(Design(), 1.0), (A, 4.0), (B, 3.9)]
    pending = [Design(knockouts=["b0006"])]
    history = History(measured=measured, pending=pending, noise_sd=0.2)
    planned = plan_batch(_spec(), history, None, 8, np.random.default_rng(1))
    replicates = [p.design for p in planned if p.strategy == REPLICATE]
    assert sorted(d.key() for d in replicates) == sorted([A.key(), B.key()])
    new = [p.design.key() for p in planned if p.strategy != REPLICATE]
    assert len(planned) == 8 and len(new) == len(set(new))
    assert not set(new) & history.excluded_keys(), "new designs never repeat a measured or pending one"


# --- replicate proposals get their own ids --------------------------------------------------------------------------

def test_a_replicate_is_its_own_proposal_and_keeps_its_design_origin(tmp_path: Path) -> None:
    service = OptimizerService(Settings(data_dir=tmp_path))
    ledger = CampaignLedger(_spec())
    first = PlannedProposal(design=A, strategy="ga", acquisition=None, mean=None, sd=None)
    again = PlannedProposal(design=A, strategy=REPLICATE, acquisition=None, mean=None, sd=None)
    ids = [service._proposal("c1", 1, first, ledger).id, service._proposal("c1", 2, again, ledger).id,
           service._proposal("c1", 3, again, ledger).id]
    assert len(set(ids)) == 3
    assert service._proposal("c1", 4, first, ledger).id == ids[0], "a new design's id is its digest, as before"
    for round_, item in ((1, first), (2, again)):
        ledger.apply(service._proposal("c1", round_, item, ledger))
    assert ledger.history().origins == {A.key(): "ga"}


def test_ledger_priors_are_the_first_published_prediction() -> None:
    ledger = CampaignLedger(_spec())
    for round_, mean in ((1, 4.0), (2, 9.0)):
        ledger.apply(Proposal(id=f"p{round_}", campaign_id="c1", round=round_, design=A,
                              predicted={"EX_succ_e": Prediction(mean=mean, sd=0.5)}, strategy="ga"))
    assert ledger.priors() == {A.key(): Prior(4.0, 0.5)}
