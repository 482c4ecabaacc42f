"""Objectives over time (`objective.over_time`): the spec field, the value read off a time course, the work
order that follows the product, the lab's growth-coupled product curves and the consumers that count it."""

from __future__ import annotations

from typing import Any

import pytest
from factories import campaign_spec
from pydantic import ValidationError

from schemas import CampaignSpec, Design, Measurement, Proposal, Value, describe_validation_error
from services.domain.objective import objective_reading, objective_view, over_time_value, with_objective
from services.domain.summary import campaign_summary
from services.optimizer.ledger import CampaignLedger
from services.predictor.trainset import training_data
from services.review.dispatch import work_order_for
from services.runtime.specfile import organism_problem
from simulators.cells import make_cell
from simulators.lab import Lab

TIMES = [0.0, 2.0, 4.0, 6.0, 8.0, 12.0]
COURSE: dict[str, Any] = {"times_h": TIMES, "initial_mM": {"glc__D_e": 20.0}}
TITRE: dict[str, Any] = {"kind": "titre", "metabolite": "succ_e", "harvest_h": 7.0}


def _spec(over_time: dict[str, Any] | None, time_course: dict[str, Any] | None = COURSE,
          target: str = "EX_succ_e") -> CampaignSpec:
    body = campaign_spec().model_dump(mode="json")
    body["objective"]["target"] = target
    if over_time is not None:
        body["objective"]["over_time"] = over_time
    if time_course is not None:
        body["readout"] = {"time_course": time_course}
    return CampaignSpec.model_validate(body)


def _run(run_id: str, succ: list[float], glc: list[float] | None = None, end_point: float = 0.5) -> Measurement:
    courses: dict[str, Any] = {"ln_od": {"unit": "ln_od", "points": [{"time_h": t, "value": -3.0 + 0.3 * t}
                                                                     for t in TIMES]},
                               "succ_e": {"unit": "mM", "points": [{"time_h": t, "value": v}
                                                                   for t, v in zip(TIMES, succ, strict=True)]}}
    if glc is not None:
        courses["glc__D_e"] = {"unit": "mM", "points": [{"time_h": t, "value": v}
                                                        for t, v in zip(TIMES, glc, strict=True)]}
    return Measurement.model_validate({
        "campaign_id": "c1", "run_id": run_id, "design": {"knockouts": ["b1380"]},
        "growth_rate": {"value": 0.5, "sd": 0.01}, "products": {"EX_succ_e": {"value": end_point, "sd": 0.05}},
        "time_courses": courses, "initial_concentrations": {"glc__D_e": 20.0}})


def test_v2_specs_stay_valid_and_the_objective_is_off_by_default() -> None:
    spec = _spec(None)
    assert spec.objective.over_time is None and CampaignSpec.SCHEMA == "campaign_spec.v3"
    assert _spec(TITRE).objective.over_time is not None
    run = _run("r1", [0.0] * 6)
    assert objective_reading(spec, run) == run.reading("EX_succ_e") and with_objective(spec, run) is run


@pytest.mark.parametrize(("over_time", "time_course", "target", "field", "reason"), [
    (TITRE, None, "EX_succ_e", "(message)", "objective.over_time: needs readout.time_course"),
    ({**TITRE, "harvest_h": 13.0}, COURSE, "EX_succ_e", "(message)",
     "objective.over_time.harvest_h: 13 h is outside the sampled times (0-12 h"),
    ({**TITRE, "harvest_h": 0.0}, COURSE, "EX_succ_e", "objective.over_time.harvest_h", "greater than 0"),
    ({**TITRE, "kind": "yield"}, COURSE, "EX_succ_e", "objective.over_time", "substrate: a yield needs"),
    ({**TITRE, "substrate": "glc__D_e"}, COURSE, "EX_succ_e", "objective.over_time",
     "substrate: only a yield has a substrate"),
    ({**TITRE, "kind": "yield", "substrate": "fru_e"}, COURSE, "EX_succ_e", "(message)",
     "objective.over_time.substrate: 'fru_e' is not in readout.time_course.initial_mM"),
    ({**TITRE, "kind": "titer"}, COURSE, "EX_succ_e", "objective.over_time.kind", "'titre', 'yield' or"),
    (TITRE, COURSE, "growth", "(message)", "objective.target: with objective.over_time"),
])
def test_a_bad_objective_over_time_gives_one_error_naming_the_field(
        over_time: dict[str, Any], time_course: dict[str, Any] | None, target: str, field: str, reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        _spec(over_time, time_course, target)
    assert info.value.error_count() == 1
    where, why = describe_validation_error(info.value)
    assert where == field and reason in why, (where, why)


def test_an_unknown_product_is_named_with_a_hint() -> None:
    problem = organism_problem(_spec({**TITRE, "metabolite": "succ"}))
    assert problem is not None and problem.startswith("objective.over_time.metabolite: unknown metabolite 'succ'")
    assert "did you mean succ_e?" in problem
    assert organism_problem(_spec(TITRE)) is None


def test_titre_yield_and_productivity_are_read_off_the_course() -> None:
    run = _run("r1", [0.0, 0.2, 0.6, 1.4, 2.0, 2.0], glc=[20.0, 19.0, 15.0, 6.0, 0.0, 0.0])
    titre = over_time_value(_spec(TITRE).objective.over_time, run)  # type: ignore[arg-type]
    assert titre is not None and titre.value == pytest.approx(1.7)  # halfway between 6 h (1.4) and 8 h (2.0)
    productivity = objective_reading(_spec({**TITRE, "kind": "productivity"}), run)
    assert productivity is not None and productivity.value == pytest.approx(1.7 / 7.0)
    yield_ = objective_reading(_spec({**TITRE, "kind": "yield", "substrate": "glc__D_e"}), run)
    assert yield_ is not None and yield_.value == pytest.approx(1.7 / (20.0 - 3.0))  # glucose 3 mM left at 7 h
    no_course = run.model_copy(update={"time_courses": {}})
    assert objective_reading(_spec(TITRE), no_course) is None


def test_every_consumer_counts_the_value_over_time() -> None:
    spec = _spec(TITRE)
    low = _run("r1", [0.0, 0.1, 0.2, 0.3, 0.4, 0.4], end_point=9.0)  # the best end point, the worst titre
    high = _run("r2", [0.0, 1.0, 2.0, 3.0, 4.0, 4.0], end_point=0.1).model_copy(
        update={"design": Design(knockouts=["b2297"])})
    viewed = objective_view(spec, [low, high])
    assert [m.readout("EX_succ_e") for m in viewed] == pytest.approx([0.35, 3.5])
    assert viewed[0].products == {} and low.products["EX_succ_e"].value == 9.0  # the stored message is unchanged
    assert [m.readout("EX_succ_e") for m in training_data(spec, [low, high])] == pytest.approx([0.35, 3.5])
    summary = campaign_summary(spec, [], [], [low, high], 0, [], [])
    assert summary["best_reading"] == pytest.approx(3.5)
    ledger = CampaignLedger(spec)
    ledger._accepted([low, high])
    value, best = ledger.best()
    assert value == pytest.approx(3.5) and best is not None and best.knockouts == ["b2297"]
    assert sorted(v for _, v in ledger.observations()) == pytest.approx([0.35, 3.5])  # the optimizer's history
    plain = campaign_summary(_spec(None), [], [], [low, high], 0, [], [])
    assert plain["best_reading"] == pytest.approx(9.0)  # an end-point campaign reads the end point


def test_the_work_order_follows_the_product_and_the_lab_measures_it() -> None:
    spec = _spec({**TITRE, "harvest_h": 12.0})  # glucose runs out near 12 h
    proposal = Proposal(id="p1", campaign_id="c1", round=0, design=Design(knockouts=["b0723"]), strategy="ga")
    order = work_order_for(proposal, spec)
    assert order.time_course is not None and order.time_course.tracked == ["succ_e"]
    assert order.time_course.initial_mM == {"glc__D_e": 20.0}
    assert work_order_for(proposal, _spec(None)).time_course == spec.readout.time_course  # nothing added
    lab = Lab(make_cell("textbook"), seed=3)
    sdh = lab.run_order(order)
    wild = lab.run_order(order.model_copy(update={"design": Design()}))
    assert isinstance(sdh, Measurement) and isinstance(wild, Measurement)
    assert sdh.initial_concentrations == {"glc__D_e": 20.0}
    titre = objective_reading(spec, sdh)
    wild_titre = objective_reading(spec, wild)
    assert titre is not None and wild_titre is not None
    assert titre.value > 1.0 > 0.3 > wild_titre.value  # sdhA knocked out secretes succinate, the wild type none
    succ = sdh.time_courses["succ_e"].values
    assert succ[0] < 0.3 and succ[-1] > 1.0 and all(v < 0.3 for v in wild.time_courses["succ_e"].values)


def test_a_run_without_the_course_has_no_objective_value() -> None:
    spec = _spec(TITRE)
    bare = _run("r1", [0.0] * 6).model_copy(update={"time_courses": {}})
    viewed = with_objective(spec, bare)
    assert viewed.readout("EX_succ_e") is None and viewed.growth_rate == Value(value=0.5, sd=0.01)
