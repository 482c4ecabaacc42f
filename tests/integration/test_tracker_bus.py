"""The tracker against a real nats-server: idempotence, dead letters, and both database backends."""

from __future__ import annotations

import asyncio
import json

from factories import campaign_spec, created, measurement, work_order
from sqlalchemy import func, select

from schemas import MAX_MESSAGE_BYTES
from services.runtime.bus import MSG_ID, SCHEMA, Bus
from services.runtime.settings import Settings
from services.tracker.repository import Repository
from services.tracker.service import TrackerService, TrackerSettings
from services.tracker.tables import DeadLetterRow, EventLog, MeasurementRow


async def _wait_for(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


async def _drained(bus: Bus, durable: str, timeout: float = 30.0) -> None:
    """Wait until a consumer has nothing pending and nothing awaiting ack."""
    for _ in range(int(timeout * 10)):
        info = await bus.js.consumer_info(bus.subjects.events_stream, durable)
        if info.num_pending == 0 and info.num_ack_pending == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{durable} not drained")


def _count(repo: Repository, table: type) -> int:
    with repo.session() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


async def test_thousand_measurements_published_twice_are_thousand_rows(
    settings: Settings, bus: Bus, db_url: str
) -> None:
    settings.db_url = db_url
    spec = campaign_spec("c1")
    await bus.publish_event(created(spec))
    await bus.publish_many([(bus.subjects.event("work", "c1"), work_order("c1", i)) for i in range(1000)])
    items = [(bus.subjects.event("measurement", "c1"), measurement("c1", i)) for i in range(1000)]
    acks = await bus.publish_many(items)
    again = await bus.publish_many(items)
    assert all(a.duplicate is None for a in acks)
    assert all(a.duplicate for a in again)
    # Past JetStream's dedup window (other header, or none): the tracker still dedups by the message's own id.
    for subject, m in items[:50]:
        await bus.js.publish(subject, m.to_bytes(), headers={SCHEMA: "measurement.v1", MSG_ID: m.id + "x"})
        await bus.js.publish(subject, m.to_bytes())
    async with TrackerService(settings, bus=bus) as tracker:
        repo = tracker.repo
        assert repo is not None
        await _wait_for(lambda: _count(repo, MeasurementRow) >= 1000 and _count(repo, EventLog) >= 2001)
        await _drained(bus, "tracker-events")
        assert _count(repo, MeasurementRow) == 1000
        assert _count(repo, EventLog) == 1 + 1000 + 1000
        assert _count(repo, DeadLetterRow) == 0


async def test_malformed_messages_become_dead_letters_and_service_stays_up(settings: Settings, bus: Bus) -> None:
    subject = bus.subjects.event("measurement", "c1")
    good = measurement("c1", 1)
    body = json.loads(good.to_bytes())
    nan_body = good.to_bytes().replace(b'"value":0.5001', b'"value":NaN')
    unknown = json.dumps({**body, "colour": "blue"}).encode()
    wrong_type = json.dumps({**body, "growth_rate": {"value": "fast", "sd": 0.1}}).encode()
    too_big = json.dumps({**body, "qc_flags": ["x" * 1000] * (MAX_MESSAGE_BYTES // 900)}).encode()
    never_issued = measurement("c1", 999).to_bytes()
    await bus.publish_event(created(campaign_spec("c1")))
    await bus.publish_event(work_order("c1", 1))
    for i, data in enumerate([nan_body, unknown, wrong_type, too_big, b"not json", never_issued]):
        await bus.js.publish(subject, data, headers={MSG_ID: f"bad-{i}"})
    await bus.publish(subject, good)
    async with TrackerService(settings, bus=bus, options=TrackerSettings(hold_s=1.0, sweep_s=0.2)) as tracker:
        repo = tracker.repo
        assert repo is not None
        await _wait_for(lambda: _count(repo, DeadLetterRow) >= 6 and _count(repo, MeasurementRow) >= 1)
        with repo.session() as s:
            letters = {r.original_msg_id: r for r in s.scalars(select(DeadLetterRow))}
        assert letters["bad-0"].field == "growth_rate.value" and "finite" in letters["bad-0"].reason
        assert letters["bad-1"].field == "colour" and "not permitted" in letters["bad-1"].reason.lower()
        assert letters["bad-2"].field == "growth_rate.value"
        assert "exceeds" in letters["bad-3"].reason
        assert letters["bad-4"].field == "(message)"
        # held for its work order first, dead-lettered once the hold deadline passed
        never = letters["m-c1-999"]
        assert never.field == "run_id" and "never issued" in never.reason and "held 1 s" in never.reason
        assert _count(repo, MeasurementRow) == 1
        # still up: a later good message is recorded
        await bus.publish_event(work_order("c1", 2))
        await bus.publish_event(measurement("c1", 2))
        await _wait_for(lambda: _count(repo, MeasurementRow) == 2)
