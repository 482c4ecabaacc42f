"""SQLModel tables: the system of record. Review decisions and the event log are append-only.

The ORM hooks below refuse changes made through sessions; the database's own triggers (migration 0004)
refuse UPDATE and DELETE from any client, and review decisions are hash-chained and signed (audit.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import event
from sqlmodel import Field, SQLModel

from schemas.lifecycle import ProposalStatus, WorkOrderStatus


class EventLog(SQLModel, table=True):
    """Every event verbatim, keyed by message id (the same message twice is one row)."""

    __tablename__ = "event_log"
    msg_id: str = Field(primary_key=True, max_length=128)
    subject: str = Field(max_length=512)
    schema_name: str = Field(max_length=64)
    kind: str = Field(max_length=32, index=True)
    campaign_id: str = Field(default="", max_length=128, index=True)
    data: str
    received_at: datetime


class CampaignRow(SQLModel, table=True):
    """A campaign and its latest lifecycle state."""

    __tablename__ = "campaigns"
    id: str = Field(primary_key=True, max_length=128)
    name: str = Field(default="", max_length=200)
    status: str = Field(default="created", max_length=32)
    spec_json: str = ""
    best_value: float | None = None
    best_design_key: str | None = None
    created_at: datetime
    updated_at: datetime


class ProposalRow(SQLModel, table=True):
    """A proposal; `status` follows pending -> approved | rejected | amended -> measured | failed."""

    __tablename__ = "proposals"
    id: str = Field(primary_key=True, max_length=128)
    campaign_id: str = Field(index=True, max_length=128)
    round: int
    design_key: str = Field(index=True)
    design_json: str
    predicted_json: str = "{}"
    strategy: str = Field(max_length=32)
    acquisition: float | None = None
    insilico: float | None = None
    feasible: bool = True
    model_version: int | None = None
    version: int = 1
    parent_id: str | None = None
    status: str = Field(default=ProposalStatus.PENDING.value, max_length=32, index=True)
    created_at: datetime


class ReviewRow(SQLModel, table=True):
    """A review decision: who, when, what and its meaning. Never updated or deleted."""

    __tablename__ = "reviews"
    id: str = Field(primary_key=True, max_length=128)
    campaign_id: str = Field(index=True, max_length=128)
    proposal_id: str = Field(index=True, max_length=128)
    action: str = Field(max_length=16)
    reviewer: str = Field(max_length=200)
    reason: str = ""
    meaning: str = ""
    amended_design_json: str | None = None
    decided_at: datetime
    seq: int = Field(default=0, index=True)
    """Position in the audit chain (1, 2, ...; 0 = recorded before the chain existed)."""
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(default="", max_length=64)
    signature: str = Field(default="", max_length=64)
    """HMAC-SHA256 of `hash` with the server-held audit key (see services/tracker/audit.py)."""


class WorkOrderRow(SQLModel, table=True):
    """A run issued to a queue; measurements must quote an issued run id."""

    __tablename__ = "work_orders"
    id: str = Field(primary_key=True, max_length=128)
    run_id: str = Field(unique=True, max_length=128)
    campaign_id: str = Field(index=True, max_length=128)
    proposal_id: str = Field(max_length=128)
    queue: str = Field(max_length=16)
    station: str | None = None
    design_json: str
    status: str = Field(default=WorkOrderStatus.ISSUED.value, max_length=16)
    issued_at: datetime


class MeasurementRow(SQLModel, table=True):
    """One measurement (full message in `data_json`, key readouts as columns)."""

    __tablename__ = "measurements"
    id: str = Field(primary_key=True, max_length=128)
    campaign_id: str = Field(index=True, max_length=128)
    run_id: str = Field(index=True, max_length=128)
    design_key: str
    growth: float | None = None
    source: str = Field(default="robot", max_length=16)
    station: str | None = None
    batch_id: str = ""
    data_json: str
    measured_at: datetime


class HeldMeasurementRow(SQLModel, table=True):
    """A measurement waiting for its run's work order (body in the event log); refused ones await a dead letter."""

    __tablename__ = "held_measurements"
    msg_id: str = Field(primary_key=True, max_length=128)
    run_id: str = Field(index=True, max_length=128)
    campaign_id: str = Field(index=True, max_length=128)
    verdict: str = Field(default="waiting", max_length=16)
    field: str = ""
    reason: str = ""
    held_at: datetime


class RunFailureRow(SQLModel, table=True):
    """A run that failed at the executor."""

    __tablename__ = "run_failures"
    id: str = Field(primary_key=True, max_length=128)
    campaign_id: str = Field(index=True, max_length=128)
    run_id: str = Field(index=True, max_length=128)
    reason: str
    station: str | None = None
    failed_at: datetime


class ModelVersionRow(SQLModel, table=True):
    """A trained model version with its metrics."""

    __tablename__ = "model_versions"
    id: str = Field(primary_key=True, max_length=128)
    campaign_id: str = Field(index=True, max_length=128)
    version: int
    artifact: str
    model_kind: str = Field(max_length=32)
    n_train: int
    metrics_json: str = "{}"
    trained_at: datetime


class DeadLetterRow(SQLModel, table=True):
    """A message some consumer rejected, with the reason."""

    __tablename__ = "dead_letters"
    id: str = Field(primary_key=True, max_length=128)
    service: str = Field(max_length=64, index=True)
    subject: str = Field(max_length=512)
    field: str = ""
    reason: str
    error: str = ""
    data_b64: str
    original_msg_id: str | None = None
    deliveries: int = 1
    received_at: datetime


def _refuse_change(_mapper: object, _connection: object, target: object) -> None:
    raise PermissionError(f"{type(target).__name__} rows are append-only: no update or delete")


for _table in (ReviewRow, EventLog):
    event.listen(_table, "before_update", _refuse_change)
    event.listen(_table, "before_delete", _refuse_change)
