"""Time courses: the measurement.v2 readout, the long-form CSV, curve metrics and the dFBA batch culture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from schemas import Measurement
from services.predictor.curve_metrics import curve_r2, curve_report, mu_max
from services.tracker.csvio import CsvRowError
from services.tracker.timecourse_csv import read_time_courses, write_time_courses

DAMN = Path(__file__).resolve().parents[3] / "shared" / "data" / "damn_growth_curves"
CURVES = ("run_id,time_h,y:ln_od,sd:ln_od,y:ac_e,qc:ac_e\n"
          "r1,0.5,-2.4,0.01,0.0,\n" "r1,1.5,-1.9,0.02,0.4,below_lod\n" "r2,0.5,-2.5,,,\n")
RUNS = "run_id,ko,init:glc__D_e,medium:EX_o2_e\nr1,b1380,20.0,15\nr2,,5.0,\nr3,,0,\n"


def _course(points: list[dict[str, float]], unit: str = "ln_od") -> dict[str, object]:
    return {"unit": unit, "points": points}


def _measurement(**courses: dict[str, object]) -> Measurement:
    return Measurement.model_validate({"campaign_id": "c", "run_id": "r", "design": {}, "time_courses": courses})


def test_measurement_v2_carries_courses_and_v1_payloads_stay_valid() -> None:
    m = _measurement(ln_od=_course([{"time_h": 0.5, "value": -2.0, "sd": 0.1, "qc_flags": ["edge"]}]))
    assert Measurement.SCHEMA == "measurement.v2"
    assert m.time_courses["ln_od"].points[0].qc_flags == ["edge"]
    assert Measurement.model_validate({"campaign_id": "c", "run_id": "r", "design": {}}).time_courses == {}


@pytest.mark.parametrize("points, unit, reason", [
    ([{"time_h": 1.0, "value": 0.1}, {"time_h": 1.0, "value": 0.2}], "od", "greater than the previous"),
    ([{"time_h": 1.0, "value": -0.1}], "mM", ">= 0 in unit mM"),
    ([{"time_h": -1.0, "value": 0.1}], "od", "greater than or equal to 0"),
    ([{"time_h": 1.0, "value": float("nan")}], "ln_od", "finite"),
    ([{"time_h": 1.0, "value": 0.1}], "furlongs", "Input should be"),
])
def test_bad_time_course_is_refused_with_reason(points: list[dict[str, float]], unit: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        _measurement(x=_course(points, unit))


def test_csv_reads_long_form_with_runs_table_and_round_trips() -> None:
    items = read_time_courses(CURVES, RUNS, "c1")
    assert [m.run_id for m in items] == ["r1", "r2", "r3"]
    r1 = items[0]
    assert r1.design.knockouts == ["b1380"] and r1.design.medium == {"EX_o2_e": 15.0}
    assert r1.initial_concentrations == {"glc__D_e": 20.0}
    assert r1.time_courses["ln_od"].values == [-2.4, -1.9] and r1.time_courses["ac_e"].unit == "mM"
    assert r1.time_courses["ac_e"].points[1].qc_flags == ["below_lod"]
    assert items[1].time_courses["ln_od"].points[0].sd is None and "ac_e" not in items[1].time_courses
    assert items[2].time_courses == {}
    again = read_time_courses(*write_time_courses(items), "c1")
    assert [(m.design, m.initial_concentrations, m.time_courses) for m in again] == \
        [(m.design, m.initial_concentrations, m.time_courses) for m in items]


@pytest.mark.parametrize("curves, runs, column, reason", [
    (CURVES.replace("r2,0.5", "r9,0.5"), RUNS, "run_id", "not in the runs table"),
    (CURVES.replace("-1.9", "fast"), RUNS, "y:ln_od", "not a number"),
    (CURVES, RUNS + "r1,,1,\n", "run_id", "twice"),
    (CURVES, RUNS.replace("init:glc__D_e", "colour"), "colour", "unknown column"),
    (CURVES.replace("time_h", "t"), RUNS, "time_h", "missing"),
    (CURVES.replace("1.5,-1.9", "0.5,-1.9"), RUNS, "y:ln_od", "run r1: points[1].time_h 0.5 must be greater"),
])
def test_bad_csv_names_column_and_reason(curves: str, runs: str, column: str, reason: str) -> None:
    with pytest.raises(CsvRowError) as info:
        read_time_courses(curves, runs, "c1")
    assert info.value.column == column and reason in info.value.reason


@pytest.mark.skipif(not DAMN.is_dir(), reason=f"dAMN growth curves not present at {DAMN}")
def test_damn_growth_curves_are_already_in_the_format() -> None:
    items = read_time_courses((DAMN / "growth_curves.csv").read_text(), (DAMN / "runs.csv").read_text(), "d")
    measured = [m for m in items if m.time_courses]
    assert len(items) == 280 and len(measured) == 186
    assert all(len(m.time_courses["ln_od"].points) == 20 for m in measured)


def test_curve_metrics() -> None:
    times = np.array([0.0, 1.0, 2.0, 3.0])
    true = np.array([[0.0, 1.0, 2.0, 2.0], [0.0, 0.5, 1.0, 1.5]])
    assert curve_r2(true, true).tolist() == [1.0, 1.0]
    assert curve_r2(true, -true)[0] == 0.0  # clipped at 0
    assert mu_max(times, true).tolist() == [1.0, 0.5]
    report = curve_report(times, true, true, np.full_like(true, 0.1))
    assert report["curve_r2_mean"] == 1.0 and report["coverage95"] == 1.0 and report["n_runs"] == 2
