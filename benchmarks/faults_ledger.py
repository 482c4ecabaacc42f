"""The fault benchmarks' ledger: what was issued vs what the database and JetStream hold; tracker processes.

Counts come from the tracker's SQLite database (read directly, so they work while the tracker is down) and
from a fresh pull consumer over the events stream (what JetStream holds, independent of any service).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.optimizer.planner import CONTROL
from services.optimizer.replicates import REPLICATE
from services.runtime.bus import Bus


def query(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of a read-only query; [] while the database or table does not exist yet."""
    try:
        with sqlite3.connect(db, timeout=10) as conn:
            return list(conn.execute(sql, params).fetchall())
    except sqlite3.OperationalError:
        return []


def count(db: Path, sql: str, params: tuple[Any, ...] = ()) -> int:
    """A single count (0 while the table does not exist)."""
    rows = query(db, sql, params)
    return int(rows[0][0]) if rows else 0


async def wait_for(predicate: Any, timeout_s: float, poll_s: float = 0.1) -> bool:
    """Poll a zero-argument callable until true; False on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(poll_s)
    return bool(predicate())


async def stored_messages(bus: Bus, subject: str) -> list[Any]:
    """Every message on `subject` (a filter within the events stream), in stream order, read by a fresh consumer."""
    stream = bus.subjects.events_stream
    name = "ledger" + uuid.uuid4().hex[:8]
    config = ConsumerConfig(durable_name=name, ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL,
                            filter_subject=subject, inactive_threshold=60.0)
    await bus.js.add_consumer(stream, config)
    sub = await bus.js.pull_subscribe_bind(name, stream=stream)
    out: list[Any] = []
    try:
        while True:
            try:
                out += await sub.fetch(1000, timeout=1.0)
            except (NatsTimeoutError, TimeoutError):
                break
    finally:
        await sub.unsubscribe()
        with contextlib.suppress(Exception):
            await bus.js.delete_consumer(stream, name)
    return out


async def stream_run_counts(bus: Bus, campaign_id: str, kind: str = "measurement") -> Counter[str]:
    """Messages per run id on `<ns>.evt.<kind>.<cid>` in the events stream, read by a fresh consumer."""
    runs: Counter[str] = Counter()
    for msg in await stored_messages(bus, bus.subjects.event(kind, campaign_id)):
        try:
            runs[str(json.loads(msg.data)["run_id"])] += 1
        except (ValueError, KeyError, TypeError):
            runs["(unparsable)"] += 1
    return runs


@dataclass
class Ledger:
    """Issued runs vs recorded outcomes of one campaign, from the database and the stream."""

    issued: int = 0
    measured: int = 0
    failed: int = 0
    lost: int = 0
    duplicated: int = 0
    detail: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"issued": self.issued, "measured": self.measured, "failed": self.failed, "lost": self.lost,
                "duplicated": self.duplicated, **self.detail}


REPROPOSALS = (REPLICATE, CONTROL)
"""Proposal strategies that may repeat a design: replicates of the leaders, the wild-type control of each batch."""


def ledger(db: Path, campaign_id: str, stream_runs: Counter[str] | None = None) -> Ledger:
    """Lost = issued runs, or runs the stream holds a measurement of, with neither a recorded measurement nor a
    failure; duplicated = runs measured twice,
    designs proposed twice, and runs JetStream holds more than one measurement for."""
    issued = {r[0] for r in query(db, "SELECT run_id FROM work_orders WHERE campaign_id = ?", (campaign_id,))}
    measured = Counter(r[0] for r in query(db, "SELECT run_id FROM measurements WHERE campaign_id = ?",
                                           (campaign_id,)))
    failed = {r[0] for r in query(db, "SELECT run_id FROM run_failures WHERE campaign_id = ?", (campaign_id,))}
    rows = query(db, "SELECT design_key, strategy FROM proposals WHERE campaign_id = ?", (campaign_id,))
    # replicates and per-batch wild-type controls are allowed re-proposals (their own proposal and run ids);
    # "never propose twice" is about new designs
    designs = Counter(key for key, strategy in rows if strategy not in REPROPOSALS)
    runs_twice = sum(n - 1 for n in measured.values() if n > 1)
    designs_twice = sum(n - 1 for n in designs.values() if n > 1)
    detail = {"runs_measured_twice": runs_twice, "designs_proposed_twice": designs_twice,
              "measured_never_issued": len(set(measured) - issued), "proposals": len(rows),
              "reproposals": len(rows) - sum(designs.values())}
    duplicated = runs_twice + designs_twice
    if stream_runs is not None:
        stream_twice = sum(n - 1 for n in stream_runs.values() if n > 1)
        detail.update(stream_measurements=sum(stream_runs.values()), stream_runs_twice=stream_twice,
                      stream_not_in_db=len(set(stream_runs) - set(measured)),
                      db_not_in_stream=len(set(measured) - set(stream_runs)))
        duplicated += stream_twice
    lost_runs = issued - set(measured) - failed
    if stream_runs is not None:  # a measurement JetStream holds that the tracker never recorded is lost too
        lost_runs |= set(stream_runs) - set(measured) - failed
    lost = len(lost_runs)
    return Ledger(issued=len(issued), measured=sum(measured.values()), failed=len(failed), lost=lost,
                  duplicated=duplicated, detail=detail)


def tracker_env(url: str, namespace: str, workdir: Path, **extra: str) -> dict[str, str]:
    """Environment of a stand-alone tracker process on SQLite in `workdir`."""
    return {**os.environ, "FLUXLAB_NATS_URL": url, "FLUXLAB_NAMESPACE": namespace,
            "FLUXLAB_DB_URL": f"sqlite:///{workdir / 'tracker.db'}", "FLUXLAB_DATA_DIR": str(workdir),
            "FLUXLAB_GRACE_S": "5", **extra}


def start_service(name: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`python -m services.cli serve <name>` as a child process."""
    return subprocess.Popen([sys.executable, "-m", "services.cli", "serve", name], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    """SIGTERM, then SIGKILL after the timeout."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def consumer_state(bus: Bus, durable: str) -> dict[str, int]:
    """num_pending, num_ack_pending and num_redelivered of a durable on the events stream."""
    info = await bus.js.consumer_info(bus.subjects.events_stream, durable)
    return {"pending": int(info.num_pending or 0), "ack_pending": int(info.num_ack_pending or 0),
            "redelivered": int(info.num_redelivered or 0)}
