"""A measurement that arrives before its work order is held in the database, then recorded when the order comes."""

from __future__ import annotations

from factories import campaign_spec, created, measurement, work_order
from sqlalchemy import select

from schemas import Message
from services.runtime.subjects import Subjects
from services.tracker.repository import IncomingEvent, Repository
from services.tracker.tables import HeldMeasurementRow, MeasurementRow, WorkOrderRow

SUBJECTS = Subjects("fluxlab")


def _event(model: Message, kind: str) -> IncomingEvent:
    return IncomingEvent(model.id, SUBJECTS.event(kind, "c1"), model)


def test_early_measurement_is_held_then_recorded_when_its_work_order_arrives(db_url: str) -> None:
    repo = Repository(db_url)
    repo.ingest([_event(created(campaign_spec("c1")), "campaign")])
    early, wrong_station = measurement("c1", 1), measurement("c1", 2, station="s9")
    assert repo.ingest([_event(early, "measurement")]) == 1
    with repo.session() as s:
        assert list(s.scalars(select(MeasurementRow))) == []
    repo.ingest([_event(wrong_station, "measurement")])
    assert repo.n_held() == 2
    assert repo.expire_and_list_held(hold_s=3600.0) == []  # nothing is due: both still wait
    # the work orders come later (e.g. redelivered after a tracker crash), each in its own batch
    repo.ingest([_event(work_order("c1", 1), "work"), _event(work_order("c1", 2), "work")])
    with repo.session() as s:
        assert [m.id for m in s.scalars(select(MeasurementRow))] == [early.id]
        assert s.scalar(select(WorkOrderRow.status).where(WorkOrderRow.run_id == "run-1")) == "measured"
        assert s.scalar(select(WorkOrderRow.status).where(WorkOrderRow.run_id == "run-2")) == "issued"
        assert [h.msg_id for h in s.scalars(select(HeldMeasurementRow))] == [wrong_station.id]
    letters = repo.expire_and_list_held(hold_s=3600.0)
    assert [(x.msg_id, x.field) for x in letters] == [(wrong_station.id, "station")]
    repo.forget_held([x.msg_id for x in letters])
    assert repo.n_held() == 0 and repo.expire_and_list_held(hold_s=3600.0) == []
    repo.dispose()


def test_a_measurement_never_issued_expires_after_the_hold(db_url: str) -> None:
    repo = Repository(db_url)
    repo.ingest([_event(measurement("c1", 7), "measurement")])
    assert repo.expire_and_list_held(hold_s=3600.0) == []
    (letter,) = repo.expire_and_list_held(hold_s=1e-6)
    assert letter.field == "run_id" and "never issued" in letter.reason and "no work order" in letter.reason
    repo.ingest([_event(work_order("c1", 7), "work")])  # too late: an expired measurement is not revived
    with repo.session() as s:
        assert list(s.scalars(select(MeasurementRow))) == []
    repo.dispose()
