"""Campaigns that ask for time courses: the spec setting, the work order field and the lab's batch cultures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from factories import campaign_spec
from pydantic import ValidationError

from schemas import CampaignSpec, Design, Measurement, Proposal, WorkOrder, describe_validation_error
from schemas.timecourse import TimeCourseRequest
from services.review.dispatch import work_order_for
from services.runtime.specfile import SpecFileError, load_spec, organism_problem
from simulators.cells import make_cell
from simulators.lab import Lab

TIMES = [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0]
REQUEST: dict[str, object] = {"times_h": TIMES, "initial_mM": {"glc__D_e": 20.0}}


def _spec(time_course: dict[str, object] | None) -> CampaignSpec:
    body = campaign_spec().model_dump(mode="json")
    if time_course is not None:
        body["readout"] = {"time_course": time_course}
    return CampaignSpec.model_validate(body)


def test_time_courses_are_off_by_default_and_v1_specs_and_orders_stay_valid() -> None:
    spec = campaign_spec()
    assert spec.readout.time_course is None
    assert CampaignSpec.SCHEMA == "campaign_spec.v3" and WorkOrder.SCHEMA == "work_order.v3"
    v1 = spec.model_dump(mode="json")
    del v1["readout"]
    assert CampaignSpec.model_validate(v1).readout.time_course is None
    proposal = Proposal(id="p1", campaign_id="c1", round=0, design=Design(knockouts=["b1380"]), strategy="ga")
    assert work_order_for(proposal, spec).time_course is None


@pytest.mark.parametrize(("time_course", "field", "reason"), [
    ({**REQUEST, "times_h": [0.0, -1.0]}, "readout.time_course.times_h.1", "greater than or equal to 0"),
    ({**REQUEST, "times_h": [0.0, 4.0, 2.0]}, "readout.time_course.times_h", "times_h[2] = 2.0 h must be greater"),
    ({**REQUEST, "times_h": [0.0, 2.0, 2.0]}, "readout.time_course.times_h", "times_h[2] = 2.0 h must be greater"),
    ({**REQUEST, "times_h": []}, "readout.time_course.times_h", "at least 1 item"),
    ({**REQUEST, "initial_mM": {"glc__D_e": -5.0}}, "readout.time_course.initial_mM.glc__D_e",
     "greater than or equal to 0"),
    ({**REQUEST, "initial_mM": {}}, "readout.time_course.initial_mM", "at least 1 item"),
    ({**REQUEST, "colour": "blue"}, "readout.time_course.colour", "Extra inputs"),
])
def test_a_bad_time_course_gives_one_error_naming_the_field(time_course: dict[str, object], field: str,
                                                            reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        _spec(time_course)
    assert info.value.error_count() == 1
    where, why = describe_validation_error(info.value)
    assert where == field
    assert reason in why


def test_a_metabolite_the_organism_lacks_is_named() -> None:
    problem = organism_problem(_spec({**REQUEST, "initial_mM": {"glc__D": 20.0}}))
    assert problem is not None
    assert problem.startswith("readout.time_course.initial_mM.glc__D: unknown metabolite 'glc__D'")
    assert "did you mean glc__D_e?" in problem
    assert organism_problem(_spec(REQUEST)) is None


def test_a_function_campaign_cannot_ask_for_time_courses() -> None:
    body = {"objective": {"target": "y"}, "search_space": {"parameters": [{"name": "x0", "low": 0, "high": 1}]},
            "simulator": {"kind": "function", "expression": "x0"}, "readout": {"time_course": REQUEST}}
    with pytest.raises(ValidationError) as info:
        CampaignSpec.model_validate(body)
    assert info.value.error_count() == 1
    assert "readout.time_course: a black-box function campaign" in describe_validation_error(info.value)[1]


def test_a_toml_spec_asks_for_time_courses(tmp_path: Path) -> None:
    text = Path("examples/succinate_core.toml").read_text()
    path = tmp_path / "spec.toml"
    path.write_text(text + "\n[readout.time_course]\ntimes_h = [0, 4, 8, 12]\ninitial_mM = { glc__D_e = 15.0 }\n")
    spec = load_spec(path)
    assert spec.readout.time_course == TimeCourseRequest(times_h=[0, 4, 8, 12], initial_mM={"glc__D_e": 15.0})
    path.write_text(text + "\n[readout.time_course]\ntimes_h = [0, 4]\ninitial_mM = { sucrose_e = 15.0 }\n")
    with pytest.raises(SpecFileError, match=r"readout.time_course.initial_mM.sucrose_e: unknown metabolite"):
        load_spec(path)


def test_the_work_order_carries_the_request() -> None:
    spec = _spec(REQUEST)
    proposal = Proposal(id="p1", campaign_id="c1", round=0, design=Design(knockouts=["b1380"]), strategy="ga")
    order = work_order_for(proposal, spec)
    assert order.time_course == spec.readout.time_course
    assert WorkOrder.from_bytes(order.to_bytes()).time_course == order.time_course


@pytest.fixture(scope="module")
def lab() -> Lab:
    return Lab(make_cell("textbook"), seed=3)


def test_the_lab_grows_a_requested_time_course_and_keeps_the_end_points(lab: Lab) -> None:
    design = Design(knockouts=["b1380"])
    request = TimeCourseRequest.model_validate(REQUEST)
    with_courses = lab.run(design, "c1", "r1", readouts=["EX_succ_e"], time_course=request)
    plain = lab.run(design, "c1", "r1", readouts=["EX_succ_e"])
    assert isinstance(with_courses, Measurement) and isinstance(plain, Measurement)
    assert with_courses.growth_rate == plain.growth_rate  # the end points draw from their own random stream
    assert with_courses.products == plain.products
    assert plain.time_courses == {}
    assert with_courses.initial_concentrations == {"glc__D_e": 20.0}
    ln_od = with_courses.time_courses["ln_od"]
    assert ln_od.unit == "ln_od" and ln_od.times == TIMES
    assert ln_od.values[-1] - ln_od.values[0] > 3.0  # it grew (from 0.027 OD to stationary phase)
    glucose = with_courses.time_courses["glc__D_e"]
    assert glucose.unit == "mM" and glucose.values[0] == pytest.approx(20.0, rel=0.2) and glucose.values[-1] < 1.0
    assert "ac_e" in with_courses.time_courses  # the overflow product is followed
    again = lab.run(design, "c1", "r1", readouts=["EX_succ_e"], time_course=request)
    assert isinstance(again, Measurement) and again.time_courses == with_courses.time_courses  # seeded


def test_a_lethal_design_gives_a_flat_curve(lab: Lab) -> None:
    request = TimeCourseRequest.model_validate(REQUEST)
    dead = lab.run(Design(knockouts=["PGK"]), "c1", "r2", time_course=request)
    assert isinstance(dead, Measurement)
    values = np.array(dead.time_courses["ln_od"].values)
    assert np.ptp(values) < 0.5  # no growth: the death rate and the reader's noise only


def test_a_genome_scale_model_grows_in_batch_on_its_trace_elements() -> None:
    from simulators.dfba import FREE_INORGANIC, BatchCulture

    culture = BatchCulture("iJO1366")  # the "genome" profile's cell: its trace metals must not be closed
    assert {"zn2_e", "cobalt2_e", "mn2_e"} <= culture._free and culture._free >= FREE_INORGANIC
    assert "glc__D_e" not in culture._free
    curve = culture.simulate({"glc__D_e": 15.0}, np.array([0.0, 4.0]))
    assert np.log(curve.biomass[1] / curve.biomass[0]) > 1.0
