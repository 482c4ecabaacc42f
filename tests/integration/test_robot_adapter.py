"""The example lab-automation adapter speaks the robot protocol end to end."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from pathlib import Path

from factories import campaign_spec, created, work_order

from services.runtime.bus import Bus
from services.runtime.settings import Settings
from services.tracker.service import TrackerService
from services.tracker.tables import MeasurementRow

ADAPTER = Path(__file__).resolve().parents[2] / "examples" / "robot_adapter.py"


def _load_adapter():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("robot_adapter", ADAPTER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_adapter_turns_a_result_file_into_a_recorded_measurement(
    tmp_path: Path, settings: Settings, bus: Bus
) -> None:
    adapter = _load_adapter()
    order = work_order("c1", 7, station="s1")
    await bus.publish_event(created(campaign_spec("c1")))
    await bus.publish_event(order)
    await bus.publish(bus.subjects.robot("s1"), order)
    outbox, inbox = tmp_path / "out", tmp_path / "in"
    async with TrackerService(settings, bus=bus) as tracker:
        task = asyncio.create_task(adapter.serve(settings.nats_url, settings.namespace, "s1", outbox, inbox,
                                                 once=True))
        for _ in range(100):
            if (outbox / "run-7.json").is_file():
                break
            await asyncio.sleep(0.1)
        assert json.loads((outbox / "run-7.json").read_text())["run_id"] == "run-7"
        inbox.mkdir(parents=True, exist_ok=True)
        (inbox / "run-7.json").write_text(json.dumps({"growth": 0.55, "growth_sd": 0.02,
                                                      "products": {"EX_succ_e": [1.4, 0.1]}, "well": "B03"}))
        await asyncio.wait_for(task, 30)
        assert tracker.repo is not None
        for _ in range(100):
            with tracker.repo.session() as s:
                rows = s.query(MeasurementRow).all()
            if rows:
                break
            await asyncio.sleep(0.1)
        assert len(rows) == 1 and rows[0].run_id == "run-7" and rows[0].station == "s1"
        queue = await bus.js.stream_info(bus.subjects.work_stream)
        assert queue.state.messages == 0  # the order was acked off the work queue


def test_adapter_carries_a_time_course_and_refuses_a_bad_one() -> None:
    from schemas.timecourse import TimeCourseRequest, TimeCourseUnit

    adapter = _load_adapter()
    order = work_order("c1", 8).model_copy(update={"time_course": TimeCourseRequest(
        times_h=[0.0, 2.0, 4.0], initial_mM={"glc__D_e": 20.0})})
    curves = {"ln_od": {"unit": "ln_od", "times_h": [0, 2, 4], "values": [-3.2, -2.5, -1.4], "sd": [0.05] * 3},
              "glc__D_e": {"unit": "mM", "times_h": [0, 2, 4], "values": [20.0, 17.5, 9.0]}}
    message = adapter.result_message(order, "s1", {"growth": 0.5, "time_courses": curves})
    assert message.time_courses["ln_od"].unit == TimeCourseUnit.LN_OD
    assert message.time_courses["ln_od"].values == [-3.2, -2.5, -1.4]
    assert message.time_courses["glc__D_e"].points[1].sd is None
    assert message.initial_concentrations == {"glc__D_e": 20.0}  # the order's culture
    backwards = {"ln_od": {**curves["ln_od"], "times_h": [0, 4, 2]}}
    failed = adapter.result_message(order, "s1", {"growth": 0.5, "time_courses": backwards})
    assert type(failed).__name__ == "RunFailed" and failed.run_id == "run-8"
    assert failed.reason.startswith("invalid result file:") and "time_h" in failed.reason
    short = adapter.result_message(order, "s1", {"time_courses": {"ln_od": {"unit": "ln_od", "times_h": [0, 1]}}})
    assert type(short).__name__ == "RunFailed" and "missing field 'values'" in short.reason
