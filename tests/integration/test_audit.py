"""The audit trail: raw-SQL edits of decisions are refused by triggers, and caught by `fluxlab audit verify`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from factories import campaign_spec, created

from schemas import Message, ReviewAction, ReviewDecision
from services.runtime.subjects import Subjects
from services.tracker import audit
from services.tracker.repository import IncomingEvent, Repository

KEY = bytes.fromhex("11" * 32)
SUBJECTS = Subjects("fluxlab")


def _event(model: Message, kind: str) -> IncomingEvent:
    return IncomingEvent(model.id, SUBJECTS.event(kind, "c1"), model)


def _decision(i: int, action: ReviewAction = ReviewAction.APPROVE) -> ReviewDecision:
    return ReviewDecision(id=f"r-{i}", campaign_id="c1", proposal_id=f"p-{i}", action=action, reviewer="alice",
                          reason="" if action == ReviewAction.APPROVE else "growth too low",
                          meaning="approved for the robot queue")


def _verify(repo: Repository) -> audit.AuditReport:
    rows, logged = repo.audit_records()
    return audit.verify(rows, KEY, logged)


def _cli_verify(db_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", "audit", "verify", "--db-url", db_url, "--json"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, audit.KEY_ENV: KEY.hex()})


def _drop_triggers(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("DROP TRIGGER reviews_append_only ON reviews"))
    else:
        conn.execute(sa.text("DROP TRIGGER reviews_no_update"))
        conn.execute(sa.text("DROP TRIGGER reviews_no_delete"))


@pytest.fixture
def repo(db_url: str) -> Repository:
    repository = Repository(db_url, audit_key=KEY)
    repository.ingest([_event(created(campaign_spec("c1")), "campaign"), _event(_decision(1), "review")])
    repository.ingest([_event(_decision(2, ReviewAction.REJECT), "review"), _event(_decision(3), "review")])
    yield repository
    repository.dispose()


def test_intact_chain_verifies_and_carries_the_signature_manifestation(repo: Repository) -> None:
    report = _verify(repo)
    assert report.ok and report.n_decisions == 3 and report.n_legacy == 0
    rows, _ = repo.audit_records()
    assert [r["seq"] for r in rows] == [1, 2, 3]
    assert rows[1]["prev_hash"] == rows[0]["hash"] and len(rows[2]["signature"]) == 64
    assert {(r["reviewer"], r["meaning"]) for r in rows} == {("alice", "approved for the robot queue")}


def test_raw_sql_edit_is_refused_by_the_trigger(repo: Repository) -> None:
    for statement in ("UPDATE reviews SET action = 'approve', reason = '' WHERE id = 'r-2'",
                      "DELETE FROM reviews WHERE id = 'r-1'", "UPDATE event_log SET data = '{}'"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), repo.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert _verify(repo).ok


def test_with_the_trigger_dropped_an_edit_is_caught_by_audit_verify(repo: Repository, db_url: str) -> None:
    with repo.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(sa.text("UPDATE reviews SET action = 'approve', reason = '' WHERE id = 'r-2'"))
    broken = _verify(repo).broken
    assert broken is not None and (broken["seq"], broken["problem"]) == (2, "content")
    result = _cli_verify(db_url)
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["broken"]["id"] == "r-2"


def test_a_deleted_or_re_chained_decision_is_caught(repo: Repository) -> None:
    with repo.engine.begin() as conn:
        _drop_triggers(conn)
        conn.execute(sa.text("DELETE FROM reviews WHERE id = 'r-2'"))
    broken = _verify(repo).broken
    assert broken is not None and (broken["seq"], broken["problem"]) == (3, "missing")
    # re-chaining the edited row without the server key: the hash fits, the signature does not
    rows, logged = repo.audit_records()
    forged = {**rows[1], "reason": "edited", "seq": 2, "prev_hash": rows[0]["hash"]}
    forged["hash"] = audit.chain_hash(forged["prev_hash"], forged)
    broken = audit.verify([rows[0], forged], KEY, logged - {"r-2"}).broken
    assert broken is not None and broken["problem"] == "signature"


def test_cli_reports_an_intact_trail(repo: Repository, db_url: str) -> None:
    result = _cli_verify(db_url)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True
