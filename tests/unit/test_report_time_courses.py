"""Growth curves in the campaign report: measured ln OD per design, the dynamic model's band when given one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from factories import campaign_spec

from schemas import CampaignSpec, Design, Measurement
from schemas.timecourse import TimeCourseRequest
from services.predictor.dynamic import DynamicConfig, DynamicModel
from services.predictor.dynamic_files import save
from services.report import curves
from services.report.build import ReportOptions, build_report
from services.report.records import CampaignRecords
from simulators.cells import make_cell
from simulators.lab import Lab

TIMES = [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
REQUEST = TimeCourseRequest(times_h=TIMES, initial_mM={"glc__D_e": 15.0})
DESIGNS = [Design(), Design(knockouts=["b1380"]), Design(knockouts=["b2297"])]


def _spec() -> CampaignSpec:
    body = campaign_spec("c1").model_dump(mode="json")
    return CampaignSpec.model_validate({**body, "readout": {"time_course": REQUEST.model_dump()}})


@pytest.fixture(scope="module")
def measured() -> list[Measurement]:
    lab = Lab(make_cell("textbook"), seed=1)
    out = []
    for i, design in enumerate([*DESIGNS, DESIGNS[1]]):
        m = lab.run(design, "c1", f"run-{i}", readouts=["EX_succ_e"], time_course=REQUEST)
        assert isinstance(m, Measurement)
        out.append(m)
    return out


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory, measured: list[Measurement]) -> Path:
    """A small dynamic model fitted on the runs' own curves (glucose only)."""
    init = np.array([[m.initial_concentrations["glc__D_e"]] for m in measured])
    ln_od = np.array([m.time_courses["ln_od"].values for m in measured])
    model = DynamicModel(DynamicConfig(members=2, hidden=8, epochs=20, device="cpu")).fit(
        ["glc__D_e"], init, np.array(TIMES), ln_od)
    path = tmp_path_factory.mktemp("model") / "dynamic.pt"
    save(model, path, np.array(TIMES))
    return path


def _records(measured: list[Measurement], spec: CampaignSpec | None = None) -> CampaignRecords:
    return CampaignRecords(spec or _spec(), measurements=[m.model_dump(mode="json") for m in measured])


def test_curves_group_runs_by_design_and_medium(measured: list[Measurement]) -> None:
    groups = curves.by_design(measured)
    assert [len(g.runs) for g in groups] == [1, 2, 1]  # the repeated ldhA knockout shares a panel
    assert groups[1].text == "Δb1380" and groups[1].medium == {"glc__D_e": 15.0}
    assert groups[0].times == TIMES and groups[0].prediction is None


def test_without_a_model_the_report_draws_measurements_only_and_says_so(tmp_path: Path,
                                                                        measured: list[Measurement]) -> None:
    full = build_report(tmp_path, _records(measured))
    assert (tmp_path / "time_courses.png").read_bytes().startswith(b"\x89PNG")
    tc = full["time_courses"]
    assert tc["n_designs"] == 3 and tc["n_runs"] == 4 and tc["n_predicted"] == 0
    assert tc["prediction"] == curves.NO_MODEL
    html = (tmp_path / "report.html").read_text()
    assert "Growth curves (ln OD vs time, per design)" in html and "measurements only" in html
    assert json.loads((tmp_path / "summary.json").read_text())["time_courses"] == tc


def test_with_a_dynamic_model_the_report_draws_the_band(tmp_path: Path, measured: list[Measurement],
                                                        model_file: Path) -> None:
    full = build_report(tmp_path, _records(measured), options=ReportOptions(dynamic_model=model_file))
    tc = full["time_courses"]
    assert tc["n_predicted"] == 3 and "from the initial medium only" in tc["prediction"]
    groups = curves.by_design(measured)
    assert curves.predict(model_file, groups) is None
    band = groups[0].prediction
    assert band is not None and band.times == TIMES
    assert all(lo < mu < hi for lo, mu, hi in zip(band.lower, band.mean, band.upper, strict=True))
    assert groups[0].prediction == groups[1].prediction  # one medium, one predicted curve (the model's inputs)


def test_a_model_of_other_substrates_predicts_nothing_and_says_why(tmp_path: Path, measured: list[Measurement],
                                                                   model_file: Path) -> None:
    other = [m.model_copy(update={"initial_concentrations": {"succ_e": 10.0}}) for m in measured]
    groups = curves.by_design(other)
    why = curves.predict(model_file, groups)
    assert why is not None and "knows glc__D_e" in why and all(g.prediction is None for g in groups)
    assert curves.predict(tmp_path / "nope.pt", groups) is not None


def test_a_campaign_without_time_courses_has_no_curve_section(tmp_path: Path, measured: list[Measurement]) -> None:
    plain = [m.model_copy(update={"time_courses": {}, "initial_concentrations": {}}) for m in measured]
    full = build_report(tmp_path, _records(plain, campaign_spec("c1")))
    assert "time_courses" not in full and "time_courses" not in full["plots_missing"]
    assert not (tmp_path / "time_courses.png").exists()
    assert "Growth curves" not in (tmp_path / "report.html").read_text()
    asked = build_report(tmp_path, _records(plain))
    assert asked["plots_missing"]["time_courses"].startswith("No time courses yet")
    assert "No time courses yet" in (tmp_path / "report.html").read_text()


def test_the_dashboard_offers_the_designs_with_curves_and_draws_one(measured: list[Measurement],
                                                                    model_file: Path) -> None:
    from fastapi import HTTPException

    from services.review.curves_web import curve_choices, curve_png

    spec = _spec()
    choices = curve_choices(spec, measured, None)
    assert [d["text"] for d in choices["designs"]] == ["wild type", "ΔldhA (b1380)", "Δpta (b2297)"]
    assert choices["selected"] == choices["designs"][0]["id"] and choices["model"] is None and choices["asked"]
    picked = curve_choices(spec, measured, model_file, choices["designs"][1]["id"])
    assert picked["selected"] == choices["designs"][1]["id"] and picked["model"] == str(model_file)
    for model in (None, model_file):
        assert curve_png(spec, measured, choices["selected"], model).startswith(b"\x89PNG")
    with pytest.raises(HTTPException) as info:
        curve_png(spec, measured, "nope", None)
    assert info.value.status_code == 404
    none = curve_choices(campaign_spec("c1"), [m.model_copy(update={"time_courses": {}}) for m in measured], None)
    assert none["designs"] == [] and not none["asked"]
