"""Refusals the issues ask to prove: bad work orders, measurements from the wrong station, edits of decisions."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from factories import campaign_spec, created, measurement, work_order
from sqlalchemy import select

from schemas import Design, ExecutorKind, RunFailed, WorkOrder
from services.runtime.bus import Bus
from services.runtime.settings import Settings
from services.tracker.repository import Repository
from services.tracker.service import TrackerService
from services.tracker.tables import DeadLetterRow, MeasurementRow, ReviewRow, RunFailureRow
from simulators.executors import RobotSimService


async def _until(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout * 10)):
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached")


def _rows(repo: Repository, table: type) -> list:  # type: ignore[type-arg]
    with repo.session() as s:
        return list(s.scalars(select(table)))


async def test_bad_work_orders_fail_or_dead_letter_and_the_robot_keeps_running(settings: Settings, bus: Bus) -> None:
    spec = campaign_spec("c1").model_copy(update={"budget": 10})
    await bus.publish_event(created(spec))
    unknown_gene = WorkOrder(campaign_id="c1", run_id="bad-gene", proposal_id="p1",
                             design=Design(knockouts=["b9999"]), queue=ExecutorKind.ROBOT, station="s1",
                             readouts=["EX_succ_e", "growth"])
    good = WorkOrder(campaign_id="c1", run_id="good", proposal_id="p2", design=Design(knockouts=["b1380"]),
                     queue=ExecutorKind.ROBOT, station="s1", readouts=["EX_succ_e", "growth"])
    body = json.loads(good.model_copy(update={"id": "x1", "run_id": "nan-run"}).to_bytes())
    body["design"]["expression"] = {"b3956": -2.0}
    negative = json.dumps(body).encode()
    nan = json.dumps(body).replace("-2.0", "NaN").replace('"x1"', '"x2"').encode()
    async with TrackerService(settings, bus=bus) as tracker, RobotSimService(settings, bus=bus, station="s1"):
        for order in (unknown_gene, good):
            await bus.publish_event(order)
        await bus.publish(bus.subjects.robot("s1"), unknown_gene)
        await bus.js.publish(bus.subjects.robot("s1"), negative, headers={"Nats-Msg-Id": "x1"})
        await bus.js.publish(bus.subjects.robot("s1"), nan, headers={"Nats-Msg-Id": "x2"})
        await bus.publish(bus.subjects.robot("s1"), good)
        repo = tracker.repo
        assert repo is not None
        await _until(lambda: len(_rows(repo, RunFailureRow)) == 1 and len(_rows(repo, MeasurementRow)) == 1
                     and len(_rows(repo, DeadLetterRow)) == 2)
        failure = _rows(repo, RunFailureRow)[0]
        assert failure.run_id == "bad-gene" and "b9999" in failure.reason
        letters = {r.original_msg_id: r for r in _rows(repo, DeadLetterRow)}
        assert letters["x1"].service == "robot-sim" and "greater than 0" in letters["x1"].reason
        assert letters["x1"].field == "design.expression.b3956"
        assert "finite" in letters["x2"].reason
        assert _rows(repo, MeasurementRow)[0].run_id == "good"  # the robot kept working after the bad ones
    assert RunFailed.SCHEMA == "run_failed.v1"


async def test_a_measurement_from_another_station_is_refused(settings: Settings, bus: Bus) -> None:
    await bus.publish_event(created(campaign_spec("c1")))
    await bus.publish_event(work_order("c1", 1, station="s1"))
    await bus.publish_event(measurement("c1", 1, station="s2"))
    async with TrackerService(settings, bus=bus) as tracker:
        repo = tracker.repo
        assert repo is not None
        await _until(lambda: len(_rows(repo, DeadLetterRow)) == 1)
        letter = _rows(repo, DeadLetterRow)[0]
        assert letter.field == "station" and "issued to station 's1'" in letter.reason
        assert _rows(repo, MeasurementRow) == []


def test_review_decisions_cannot_be_updated_or_deleted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    repo = Repository(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with repo.session() as s:
        s.add(ReviewRow(id="r1", campaign_id="c1", proposal_id="p1", action="approve", reviewer="alice",
                        decided_at=datetime.now(UTC)))
    with pytest.raises(PermissionError, match="append-only"), repo.session() as s:
        row = s.get(ReviewRow, "r1")
        assert row is not None
        row.reviewer = "mallory"
    with pytest.raises(PermissionError, match="append-only"), repo.session() as s:
        row = s.get(ReviewRow, "r1")
        s.delete(row)
    with repo.session() as s:
        row = s.get(ReviewRow, "r1")
        assert row is not None and row.reviewer == "alice"
