"""Database access for the tracker: idempotent batch ingest and queries. Knows nothing of NATS."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, func, insert, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from schemas import (
    CampaignEvent,
    CampaignEventKind,
    CampaignSpec,
    DeadLetter,
    Measurement,
    Message,
    ModelTrained,
    Proposal,
    ProposalStatus,
    ReviewDecision,
    RunFailed,
    WorkOrder,
    WorkOrderStatus,
    utcnow,
)
from schemas.channels import subject_kind
from services.domain import lifecycle
from services.domain.acceptance import IssuedRun, Verdict, judge
from services.runtime.consumer import InvalidMessage
from services.tracker import audit
from services.tracker.migrations import upgrade_to_head
from services.tracker.tables import (
    CampaignRow,
    DeadLetterRow,
    EventLog,
    HeldMeasurementRow,
    MeasurementRow,
    ModelVersionRow,
    ProposalRow,
    ReviewRow,
    RunFailureRow,
    WorkOrderRow,
)

_CHUNK = 500
EXPIRED = "expired"


@dataclass(frozen=True)
class HeldLetter:
    """A held measurement to dead-letter: refused once its work order came, or never issued in time."""

    msg_id: str
    subject: str
    data: str
    field: str
    reason: str


@dataclass(frozen=True)
class IncomingEvent:
    """One event to record: its message id, subject and parsed model."""

    msg_id: str
    subject: str
    model: Message
    data: bytes | None = None
    """The message body as received (stored verbatim); None = serialise the model."""

    def raw_json(self) -> str:
        """The verbatim JSON body."""
        return self.data.decode() if self.data is not None else self.model.model_dump_json()


def make_engine(url: str) -> Engine:
    """Engine with SQLite tuned for a single writer (WAL, NORMAL sync)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Repository:
    """The tracker's store."""

    def __init__(self, url: str, migrate: bool = True, audit_key: bytes | None = None) -> None:
        self.url = url
        self.audit_key = audit_key
        """Signs review decisions (services/tracker/audit.py); None records them chained but unsigned."""
        self.engine = make_engine(url)
        if migrate:
            upgrade_to_head(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success, rolled back on error."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    def ingest(self, events: Sequence[IncomingEvent]) -> int:
        """Record a batch in one transaction; returns the number of new events (duplicates are skipped)."""
        with self.session() as session:
            fresh = self._new_events(session, events)
            if not fresh:
                return 0
            now = utcnow()
            session.connection().execute(insert(_table(EventLog)), [_event_log_row(e, now) for e in fresh])
            _Applier(session, self.audit_key).apply(fresh)
        return len(fresh)

    def _new_events(self, session: Session, events: Sequence[IncomingEvent]) -> list[IncomingEvent]:
        unique: dict[str, IncomingEvent] = {}
        for e in events:
            unique.setdefault(e.msg_id, e)
        ids = list(unique)
        seen: set[str] = set()
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            seen.update(session.scalars(select(col(EventLog.msg_id)).where(col(EventLog.msg_id).in_(chunk))))
        return [e for msg_id, e in unique.items() if msg_id not in seen]

    def expire_and_list_held(self, hold_s: float) -> list[HeldLetter]:
        """Mark measurements held past `hold_s` expired; list every refused or expired one (to dead-letter)."""
        h, e = HeldMeasurementRow, EventLog
        cutoff = utcnow() - timedelta(seconds=hold_s)
        overdue = (col(h.verdict) == Verdict.WAITING.value, col(h.held_at) < cutoff)
        with self.session() as session:
            if session.scalar(select(col(h.msg_id)).where(*overdue).limit(1)) is not None:  # writes only when due
                session.execute(update(h).where(*overdue)
                                .values(verdict=EXPIRED, reason=h.reason + f" (held {hold_s:g} s; no work order)"))
            rows = session.execute(
                select(col(h.msg_id), col(e.subject), col(e.data), col(h.field), col(h.reason))
                .join(e, col(e.msg_id) == col(h.msg_id)).where(col(h.verdict) != Verdict.WAITING.value)).all()
        return [HeldLetter(*r) for r in rows]

    def forget_held(self, msg_ids: Sequence[str]) -> None:
        """Drop held measurements once their dead letters are published."""
        with self.session() as session:
            session.execute(delete(HeldMeasurementRow).where(col(HeldMeasurementRow.msg_id).in_(list(msg_ids))))

    def n_held(self) -> int:
        """Measurements waiting for their work order."""
        with self.session() as session:
            return int(session.scalar(select(func.count()).select_from(HeldMeasurementRow)
                                      .where(col(HeldMeasurementRow.verdict) == Verdict.WAITING.value)) or 0)

    def audit_records(self) -> tuple[list[dict[str, Any]], set[str]]:
        """Every review decision row (as stored), and the ids of the review events in the event log."""
        with self.session() as session:
            rows = [r.model_dump() for r in session.scalars(select(ReviewRow).order_by(col(ReviewRow.seq)))]
            logged = set(session.scalars(select(col(EventLog.msg_id)).where(
                col(EventLog.schema_name) == ReviewDecision.SCHEMA)))
        return rows, logged

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()


def _table(model: type) -> Any:
    """The Core table of a SQLModel class (Core inserts skip the ORM's per-row bookkeeping)."""
    return model.__table__  # type: ignore[attr-defined]


def _event_log_row(e: IncomingEvent, now: Any) -> dict[str, Any]:
    return {
        "msg_id": e.msg_id, "subject": e.subject, "schema_name": type(e.model).SCHEMA, "kind": subject_kind(e.subject),
        "campaign_id": getattr(e.model, "campaign_id", "") or "", "data": e.raw_json(),
        "received_at": now,
    }


class _Applier:
    """Applies a batch of new events to the domain tables, in stream order."""

    def __init__(self, session: Session, audit_key: bytes | None = None) -> None:
        self.session = session
        self.audit_key = audit_key
        self.chain_head: tuple[int, str] | None = None
        self.rows: dict[type, list[dict[str, Any]]] = {}
        self.raw: dict[str, IncomingEvent] = {}

    def apply(self, events: Sequence[IncomingEvent]) -> None:
        models = [e.model for e in events]
        self.raw = {e.model.id: e for e in events}
        measurements = [m for m in models if isinstance(m, Measurement)]
        work = [m for m in models if isinstance(m, WorkOrder)]
        self._work_orders(work)
        self._flush()
        self._release_held([o.run_id for o in work])
        self._measurements(measurements, {m.id: self.raw[m.id].raw_json() for m in measurements})
        for model in models:
            if isinstance(model, CampaignEvent):
                self._campaign(model)
            elif isinstance(model, Proposal):
                self._proposal(model)
            elif isinstance(model, ReviewDecision):
                self._review(model)
            elif isinstance(model, RunFailed):
                self._run_failed(model)
            elif isinstance(model, ModelTrained):
                self._add(ModelVersionRow, id=model.id, campaign_id=model.campaign_id, version=model.version,
                          artifact=model.artifact, model_kind=model.model_kind, n_train=model.n_train,
                          metrics_json=json.dumps(model.metrics), trained_at=model.trained_at)
            elif isinstance(model, DeadLetter):
                self._add(DeadLetterRow, id=model.id, service=model.service, subject=model.subject,
                          field=model.field, reason=model.reason, error=model.error, data_b64=model.data_b64,
                          original_msg_id=model.original_msg_id, deliveries=model.deliveries,
                          received_at=model.received_at)
        self._flush()

    def _add(self, table: type, **row: Any) -> None:
        self.rows.setdefault(table, []).append(row)

    def _flush(self) -> None:
        for table, rows in self.rows.items():
            if rows:
                self.session.connection().execute(insert(_table(table)), rows)
        self.rows = {}

    def _campaign(self, e: CampaignEvent) -> None:
        existing = self.session.get(CampaignRow, e.campaign_id)
        if existing is None:
            spec = e.spec or None
            self.session.add(CampaignRow(
                id=e.campaign_id, name=spec.name if spec else "", status=e.kind.value,
                spec_json=spec.model_dump_json() if spec else "", created_at=e.at, updated_at=e.at))
            self.session.flush()
            return
        if e.kind != CampaignEventKind.CREATED:
            existing.status = e.kind.value
        elif e.spec is not None and not existing.spec_json:
            existing.spec_json, existing.name = e.spec.model_dump_json(), e.spec.name
        existing.updated_at = e.at
        if e.best_value is not None:
            existing.best_value, existing.best_design_key = e.best_value, e.best_design_key
        self.session.flush()

    def _proposal(self, p: Proposal) -> None:
        self._add(ProposalRow, id=p.id, campaign_id=p.campaign_id, round=p.round, design_key=p.design.key(),
                  design_json=p.design.model_dump_json(),
                  predicted_json=json.dumps({k: v.model_dump() for k, v in p.predicted.items()}),
                  strategy=p.strategy, acquisition=p.acquisition, insilico=p.insilico, feasible=p.feasible,
                  model_version=p.model_version, version=p.version, parent_id=p.parent_id,
                  status=ProposalStatus.PENDING.value,
                  created_at=p.created_at)
        self._flush()

    def _advance_proposals(self, proposal_ids: Sequence[str], event: lifecycle.ProposalEvent) -> None:
        """Fold an event into the proposals' stored status (`services/domain/lifecycle.py`), in one update."""
        sources = [s.value for s in lifecycle.moves_from(event)]
        self.session.execute(update(ProposalRow).where(col(ProposalRow.id).in_(list(proposal_ids)),
                                                       col(ProposalRow.status).in_(sources))
                             .values(status=lifecycle.target(event).value))

    def _review(self, r: ReviewDecision) -> None:
        row: dict[str, Any] = dict(
            id=r.id, campaign_id=r.campaign_id, proposal_id=r.proposal_id, action=r.action.value,
            reviewer=r.reviewer, reason=r.reason, meaning=r.meaning, decided_at=r.decided_at,
            amended_design_json=r.amended_design.model_dump_json() if r.amended_design else None)
        if self.chain_head is None:
            last = self.session.execute(select(col(ReviewRow.seq), col(ReviewRow.hash))
                                        .order_by(col(ReviewRow.seq).desc()).limit(1)).first()
            self.chain_head = (int(last[0]), str(last[1])) if last else (0, "")
        seq, prev_hash = self.chain_head
        row.update(audit.link(row, seq + 1, prev_hash, self.audit_key))
        self.chain_head = (seq + 1, row["hash"])
        self._add(ReviewRow, **row)
        self._flush()
        self._advance_proposals([r.proposal_id], r.action)

    def _work_orders(self, orders: Sequence[WorkOrder]) -> None:
        if not orders:
            return
        known = set(self.session.scalars(select(col(WorkOrderRow.run_id)).where(
            col(WorkOrderRow.run_id).in_([o.run_id for o in orders]))))
        for o in orders:
            if o.run_id in known:
                continue
            known.add(o.run_id)
            self._add(WorkOrderRow, id=o.id, run_id=o.run_id, campaign_id=o.campaign_id, proposal_id=o.proposal_id,
                      queue=o.queue.value, station=o.station, design_json=o.design.model_dump_json(),
                      status=WorkOrderStatus.ISSUED.value, issued_at=o.issued_at)

    def _issued(self, run_ids: Sequence[str]) -> dict[str, IssuedRun]:
        issued: dict[str, IssuedRun] = {}
        w = WorkOrderRow
        for start in range(0, len(run_ids), _CHUNK):
            rows = self.session.execute(
                select(col(w.run_id), col(w.campaign_id), col(w.station), col(w.proposal_id))
                .where(col(w.run_id).in_(run_ids[start:start + _CHUNK])))
            issued.update({r[0]: IssuedRun(run_id=r[0], campaign_id=r[1], station=r[2], proposal_id=r[3])
                           for r in rows})
        return issued

    def _measurements(self, items: Sequence[Measurement], raw: dict[str, str], held: bool = False) -> None:
        """Record accepted measurements; hold those whose run is not issued yet; refuse the rest.

        A refused new message raises InvalidMessage (the consumer dead-letters it); a refused held one is
        marked so the tracker's sweeper dead-letters it.
        """
        if not items:
            return
        issued = self._issued([m.run_id for m in items])
        accepted: list[Measurement] = []
        for m in items:
            judgement = judge(m, issued.get(m.run_id))
            if judgement.verdict == Verdict.ACCEPTED:
                accepted.append(m)
            elif held and judgement.verdict == Verdict.REFUSED:
                self.session.execute(update(HeldMeasurementRow).where(col(HeldMeasurementRow.msg_id) == m.id)
                                     .values(verdict=judgement.verdict.value, field=judgement.field,
                                             reason=judgement.reason))
            elif judgement.verdict == Verdict.REFUSED:
                raise InvalidMessage(judgement.field, judgement.reason)
            elif not held:
                self._add(HeldMeasurementRow, msg_id=m.id, run_id=m.run_id, campaign_id=m.campaign_id,
                          verdict=judgement.verdict.value, field=judgement.field, reason=judgement.reason,
                          held_at=utcnow())
        for m in accepted:
            self._add(MeasurementRow, id=m.id, campaign_id=m.campaign_id, run_id=m.run_id, design_key=m.design.key(),
                      growth=m.growth_rate.value if m.growth_rate else None, source=m.source.value,
                      station=m.station, batch_id=m.batch_id, data_json=raw[m.id], measured_at=m.measured_at)
        self._flush()
        if held and accepted:
            self.session.execute(delete(HeldMeasurementRow).where(
                col(HeldMeasurementRow.msg_id).in_([m.id for m in accepted])))
        measured = [m.run_id for m in accepted if m.run_id in issued]
        if measured:
            self.session.execute(update(WorkOrderRow).where(col(WorkOrderRow.run_id).in_(measured))
                                 .values(status=WorkOrderStatus.MEASURED.value))
            self._advance_proposals(list({issued[r].proposal_id for r in measured}), WorkOrderStatus.MEASURED)

    def _release_held(self, run_ids: Sequence[str]) -> None:
        """Judge again the held measurements of runs whose work orders just arrived."""
        if not run_ids:
            return
        h, e = HeldMeasurementRow, EventLog
        rows: list[Any] = []
        for start in range(0, len(run_ids), _CHUNK):
            rows += self.session.execute(
                select(col(e.msg_id), col(e.data)).join(h, col(h.msg_id) == col(e.msg_id))
                .where(col(h.run_id).in_(run_ids[start:start + _CHUNK]), col(h.verdict) == Verdict.WAITING.value)
            ).all()
        if rows:
            raw = {r[0]: r[1] for r in rows}
            self._measurements([Measurement.model_validate_json(data) for data in raw.values()], raw, held=True)

    def _run_failed(self, f: RunFailed) -> None:
        self._add(RunFailureRow, id=f.id, campaign_id=f.campaign_id, run_id=f.run_id, reason=f.reason,
                  station=f.station, failed_at=f.failed_at)
        self._flush()
        order = self.session.scalars(select(WorkOrderRow).where(col(WorkOrderRow.run_id) == f.run_id)).first()
        if order is not None:
            order.status = WorkOrderStatus.FAILED.value
            self._advance_proposals([order.proposal_id], WorkOrderStatus.FAILED)


def parse_spec(row: CampaignRow) -> CampaignSpec | None:
    """The campaign's spec, if recorded."""
    return CampaignSpec.model_validate_json(row.spec_json) if row.spec_json else None
