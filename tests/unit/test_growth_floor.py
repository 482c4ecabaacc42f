"""The growth floor on measurements: the best design meets it, and the feasibility filter learns from growth."""

from __future__ import annotations

import math

import pytest

from schemas import Design, ExecutorKind, Measurement, Value, WorkOrder
from services.domain.floor import best_meeting_floor, fba_wild_type_growth, growth_floor
from services.optimizer.feasibility import FeasibilityFilter
from services.optimizer.growthfit import fit_growth_correction
from simulators.examples import succinate_core_spec

SPEC = succinate_core_spec()
WILD = Design()
STARVED = Design(knockouts=["b0723"])
HEALTHY = Design(knockouts=["b1241"])


def _m(i: int, design: Design, succ: float, growth: float | None) -> Measurement:
    return Measurement(id=f"m{i}", campaign_id=SPEC.id, run_id=f"run-{i}", design=design,
                       growth_rate=None if growth is None else Value(value=growth),
                       products={"EX_succ_e": Value(value=succ)})


def _campaign() -> list[Measurement]:
    # measured wild type 0.5 1/h -> floor 0.1 1/h; the highest reading grows at 0.05 1/h
    return [_m(0, WILD, 0.0, 0.5), _m(1, STARVED, 9.0, 0.05), _m(2, HEALTHY, 3.0, 0.3)]


def test_floor_comes_from_the_measured_wild_type() -> None:
    floor = growth_floor(SPEC, _campaign())
    assert floor.threshold == pytest.approx(0.1)
    assert "measured wild type" in floor.source and "0.1 1/h" in floor.describe()


def test_floor_falls_back_to_the_models_wild_type() -> None:
    floor = growth_floor(SPEC, _campaign()[1:])
    fba = fba_wild_type_growth("textbook", ())
    assert fba is not None and floor.threshold == pytest.approx(0.2 * fba)
    assert "FBA" in floor.source


def test_best_is_the_best_reading_meeting_the_floor() -> None:
    value, best = best_meeting_floor(SPEC, _campaign())
    assert value == 3.0 and best is not None and best.design == HEALTHY


def test_a_design_without_a_growth_reading_is_not_excluded() -> None:
    value, _ = best_meeting_floor(SPEC, [*_campaign(), _m(3, Design(knockouts=["b0351"]), 4.0, None)])
    assert value == 4.0


def test_replicates_are_judged_by_their_mean_growth() -> None:
    ms = [*_campaign(), _m(3, STARVED, 8.0, 0.25)]  # mean growth (0.05 + 0.25) / 2 = 0.15 >= 0.1
    value, best = best_meeting_floor(SPEC, ms)
    assert value == 9.0 and best is not None and best.design == STARVED


def test_summary_ledger_and_tracker_name_the_same_best() -> None:
    from services.domain.summary import campaign_summary
    from services.optimizer.ledger import CampaignLedger
    from services.tracker.queries import best_measured

    ms = _campaign()
    summary = campaign_summary(SPEC, [{"id": "p", "round": 1}],
                               [{"run_id": m.run_id, "proposal_id": "p"} for m in ms], ms, 0, [], [])
    assert summary["best_value"] == 3.0 and summary["best_by_batch"] == [3.0]
    assert summary["growth_floor_measured"]["n_designs_below"] == 1
    ledger = CampaignLedger(SPEC)
    for m in ms:
        ledger.apply(WorkOrder(id=f"wo-{m.run_id}", campaign_id=SPEC.id, run_id=m.run_id, proposal_id="p",
                               design=m.design, queue=ExecutorKind.BENCH))
        ledger.apply(m)
    assert ledger.best() == (3.0, HEALTHY)
    assert best_measured(SPEC, ms) == (3.0, HEALTHY)


def _truth(design: Design) -> float:
    """A hidden cell: 0.8 x FBA growth, and a knockout of b0723 costs 70 % more than FBA says."""
    return 0.8 * (0.3 if "b0723" in design.knockouts else 1.0) * _fba(design)


def _fba(design: Design) -> float:
    return 1.0 - 0.1 * len(design.knockouts)


MEASURED = [WILD, STARVED, HEALTHY, Design(knockouts=["b0723", "b0351"]), Design(knockouts=["b0351"]),
            Design(knockouts=["b1241", "b0351"])]


def test_correction_learns_the_typical_ratio_and_a_strains_shortfall() -> None:
    fit = fit_growth_correction([(d, _truth(d), _fba(d)) for d in MEASURED], alpha=0.01)
    assert fit is not None and fit.n_designs == len(MEASURED)
    assert math.exp(fit.intercept) == pytest.approx(0.8, rel=0.05)
    same_strain = Design(knockouts=["b0723"], expression={"b3956": 2.0})  # a measured strain, new expression
    assert fit.corrected(same_strain, _fba(same_strain)) == pytest.approx(_truth(STARVED), rel=0.15)
    other_strain = Design(knockouts=["b0723", "b1241"])  # unmeasured strain: the typical ratio only
    assert fit.corrected(other_strain, _fba(other_strain)) == pytest.approx(0.8 * _fba(other_strain), rel=0.05)
    assert "strain:b0723" in fit.describe()


def test_correction_needs_enough_designs() -> None:
    assert fit_growth_correction([(d, _truth(d), _fba(d)) for d in MEASURED[:3]]) is None
    lethal_by_fba = [(d, 0.0, 0.0) for d in MEASURED]
    assert fit_growth_correction(lethal_by_fba) is None


def test_calibrated_filter_rejects_what_measured_growth_says_falls_under_the_floor() -> None:
    floor = FeasibilityFilter(growth_floor=0.4, growth_fn=_fba)
    candidate = Design(knockouts=["b0723"], expression={"b3956": 2.0})  # FBA 0.9 >= 0.4; truth 0.22 < 0.4 x 0.8
    assert floor.is_feasible(candidate)
    fit = floor.calibrate([(d, _truth(d)) for d in MEASURED])
    assert fit is not None and floor.threshold == pytest.approx(0.4 * _truth(WILD))
    assert not floor.is_feasible(candidate) and floor.is_feasible(HEALTHY)
    assert floor.problem(candidate) is not None and "corrected" in (floor.problem(candidate) or "")
    assert floor.n_rejected == 1


def test_uncalibrated_filter_keeps_the_fba_floor() -> None:
    floor = FeasibilityFilter(growth_floor=0.4, growth_fn=_fba)
    assert floor.calibrate([(d, _truth(d)) for d in MEASURED[:2]]) is None
    assert floor.threshold == pytest.approx(0.4) and floor.correction is None
