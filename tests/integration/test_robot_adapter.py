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
