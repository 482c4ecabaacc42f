"""Fault scenarios on a measurement stream into a stand-alone tracker process (no campaign needed).

b. the tracker SIGKILLs itself between its commit and its ack (failpoint `tracker.after_commit`);
e. a poison message (valid schema; the database refuses it every time) ends in the dead letters;
f. hostile and malformed measurements all end in the dead letters with a reason, and nothing crashes;
g. SIGTERM mid-stream: the tracker drains, acks what it committed, leaves nothing in flight.
"""

from __future__ import annotations

import asyncio
import json
import math
import signal
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import progress_console
from benchmarks.faults_ledger import (
    consumer_state,
    count,
    ledger,
    query,
    start_service,
    stop_process,
    stream_run_counts,
    tracker_env,
    wait_for,
)
from schemas import MAX_MESSAGE_BYTES, Design, ExecutorKind, Measurement, Value, WorkOrder
from services.runtime.bus import MSG_ID, SCHEMA, Bus

CID = "faults"
POISON_RUN = "run-poison"
HOSTILE_HOLD_S = 3.0


def work_order(i: int | str, station: str = "s1") -> WorkOrder:
    """Work order for run `run-<i>`."""
    return WorkOrder(id=f"wo-{i}", campaign_id=CID, run_id=f"run-{i}", proposal_id=f"p-{i}",
                     design=Design(knockouts=["b1380"]), queue=ExecutorKind.ROBOT, station=station)


def measurement(i: int | str, station: str = "s1") -> Measurement:
    """A valid measurement answering work order i."""
    return Measurement(id=f"m-{i}", campaign_id=CID, run_id=f"run-{i}", design=Design(knockouts=["b1380"]),
                       growth_rate=Value(value=0.5, sd=0.01), products={"EX_succ_e": Value(value=1.0, sd=0.05)},
                       fluxes={"PGI": Value(value=4.9, sd=0.2)}, station=station)


async def _connect(url: str) -> tuple[Bus, str]:
    namespace = "f" + uuid.uuid4().hex[:8]
    return await Bus.connect(url, namespace, name="fluxlab-bench-faults"), namespace


async def _issue(bus: Bus, ids: list[int] | list[str], db: Path) -> None:
    """Publish work orders and wait until the tracker has recorded them."""
    before = count(db, "SELECT count(*) FROM work_orders")
    await bus.publish_many([(bus.subjects.event("work", CID), work_order(i)) for i in ids])
    await wait_for(lambda: count(db, "SELECT count(*) FROM work_orders") >= before + len(ids), 120)


async def _publish_measurements(bus: Bus, ids: list[int] | list[str]) -> None:
    await bus.publish_many([(bus.subjects.event("measurement", CID), measurement(i)) for i in ids])


async def _paced(bus: Bus, ids: list[int], chunk: int = 50, pause_s: float = 0.05) -> None:
    """Publish measurements as a steady stream (about 1,000/s) rather than one burst."""
    for start in range(0, len(ids), chunk):
        await _publish_measurements(bus, ids[start:start + chunk])
        await asyncio.sleep(pause_s)


async def commit_ack_kills(url: str, workdir: Path, deaths: int, probability: float = 0.6) -> dict[str, Any]:
    """Keep a measurement stream flowing while the tracker dies after commit, before ack, `deaths` times."""
    bus, ns = await _connect(url)
    db = workdir / "tracker.db"
    armed = tracker_env(url, ns, workdir, FLUXLAB_FAILPOINTS=f"tracker.after_commit={probability}")
    published = 0
    stop = asyncio.Event()

    async def flow() -> None:
        nonlocal published
        while not stop.is_set():
            ids = list(range(published, published + 20))
            await bus.publish_many([(bus.subjects.event("work", CID), work_order(i)) for i in ids])
            await _publish_measurements(bus, ids)
            published += len(ids)
            await asyncio.sleep(0.2)

    publisher = asyncio.create_task(flow())
    died = crashes = 0
    tracker = start_service("tracker", armed, workdir / "tracker.log")
    try:
        while died < deaths:
            await asyncio.sleep(0.05)
            if tracker.poll() is None:
                continue
            if tracker.returncode == -signal.SIGKILL:
                died += 1
            else:
                crashes += 1
            if died % 10 == 0 or died == deaths:
                progress_console.print(f"  commit/ack kills: {died}/{deaths} ({published} measurements sent)")
            if died < deaths:
                tracker = start_service("tracker", armed, workdir / "tracker.log")
        stop.set()
        await publisher
        tracker = start_service("tracker", tracker_env(url, ns, workdir), workdir / "tracker.log")
        await wait_for(lambda: count(db, "SELECT count(*) FROM measurements") >= published, 300, 0.2)
        await asyncio.sleep(1.0)  # anything still to come (a duplicate) would land now
        book = ledger(db, CID, await stream_run_counts(bus, CID))
        logged = count(db, "SELECT count(*) FROM event_log WHERE kind = 'measurement'")
    finally:
        stop.set()
        stop_process(tracker)
        await bus.close()
    return {"deaths": died, "probability": probability, "published": published, "recorded": book.measured,
            "event_log_measurements": logged, "lost": book.lost,
            "duplicated": book.duplicated, "dead_letters": count(db, "SELECT count(*) FROM dead_letters"),
            "crashes": crashes, "ledger": book.as_dict()}


POISON_TRIGGER = (
    f"CREATE TRIGGER IF NOT EXISTS refuse_poison BEFORE INSERT ON measurements WHEN NEW.run_id = '{POISON_RUN}' "
    "BEGIN SELECT RAISE(ABORT, 'constraint: run quarantined by the lab'); END"
)


def _add_trigger(db: Path) -> None:
    """A database-side constraint the tracker cannot satisfy for one run (every delivery fails)."""
    with sqlite3.connect(db, timeout=30) as conn:
        conn.execute(POISON_TRIGGER)


async def poison(url: str, workdir: Path, n_after: int, max_deliver: int = 3) -> dict[str, Any]:
    """A valid measurement the database refuses on every delivery: dead-lettered; later ones still recorded."""
    bus, ns = await _connect(url)
    db = workdir / "tracker.db"
    tracker = start_service("tracker", tracker_env(url, ns, workdir, FLUXLAB_MAX_DELIVER=str(max_deliver)),
                            workdir / "tracker.log")
    try:
        await wait_for(lambda: bool(query(db, "SELECT 1 FROM sqlite_master WHERE name = 'measurements'")), 60)
        _add_trigger(db)
        await _issue(bus, ["poison", *range(n_after)], db)
        started = time.monotonic()
        await _publish_measurements(bus, ["poison"])
        await _publish_measurements(bus, list(range(n_after)))
        times: dict[str, float] = {}
        poison_dlq = "SELECT deliveries, reason FROM dead_letters WHERE original_msg_id = 'm-poison'"
        checks: dict[str, Callable[[], bool]] = {
            "later_recorded": lambda: count(db, "SELECT count(*) FROM measurements") >= n_after,
            "dead_lettered": lambda: bool(query(db, poison_dlq)),
        }
        deadline = time.monotonic() + 120
        while len(times) < len(checks) and time.monotonic() < deadline:
            for name, check in checks.items():
                if name not in times and check():
                    times[name] = time.monotonic() - started
            await asyncio.sleep(0.05)
        letter = query(db, poison_dlq)
        state = await consumer_state(bus, "tracker-events")
        crashed = tracker.poll() is not None
    finally:
        stop_process(tracker)
        await bus.close()
    return {"dead_letters": len(letter), "deliveries": letter[0][0] if letter else 0, "max_deliver": max_deliver,
            "reason": letter[0][1][:200] if letter else "", "later_recorded": count(db, "SELECT count(*) FROM "
                                                                                     "measurements"),
            "later_expected": n_after, "later_recorded_s": round(times.get("later_recorded", math.nan), 2),
            "dead_lettered_s": round(times.get("dead_lettered", math.nan), 2),
            "stalled": times.get("later_recorded", math.inf) > times.get("dead_lettered", math.inf),
            "consumer_after": state, "crashes": int(crashed)}


def _hostile(i: int, issued: int) -> tuple[str, bytes]:
    """Hostile message number i: (campaign id of its subject, body)."""
    good = measurement(i % issued).model_dump(mode="json")
    good["id"] = f"hostile-{i}"
    kind = i % 12
    if kind == 0:
        good["growth_rate"]["value"] = math.nan
    elif kind == 1:
        good["products"]["EX_succ_e"]["value"] = math.inf
    elif kind == 2:
        good["fluxes"] = [1.0, 2.0, 3.0]
    elif kind == 3:
        good["growth_rate"] = "fast"
    elif kind == 4:
        good["colour"] = "blue"
    elif kind == 5:
        good["qc_flags"] = ["x" * 1000] * (MAX_MESSAGE_BYTES // 1000 + 10)
    elif kind == 6:
        good["run_id"] = f"ghost-{i}"
    elif kind == 7:
        good["station"] = "intruder"
    elif kind == 8:
        return CID, json.dumps(good).encode()[: 40 + i % 50]
    elif kind == 9:
        return "other", json.dumps(good).encode()
    elif kind == 10:
        del good["run_id"]
    else:
        good["design"]["knockouts"] = [{"drop": "table"}]
    return CID, json.dumps(good).encode()


async def hostile(url: str, workdir: Path, n: int, n_valid: int = 100) -> dict[str, Any]:
    """n hostile measurements interleaved with valid ones: n dead letters with reasons, valid ones recorded.

    Ghost run ids (never issued) are held for their work order first; a short hold lets them reach the
    dead letters within the scenario.
    """
    bus, ns = await _connect(url)
    db = workdir / "tracker.db"
    env = tracker_env(url, ns, workdir, FLUXLAB_TRACKER_HOLD_S=str(HOSTILE_HOLD_S))
    tracker = start_service("tracker", env, workdir / "tracker.log")
    try:
        await _issue(bus, list(range(n_valid)), db)
        valid = iter(range(n_valid))
        every = max(n // n_valid, 1)
        for i in range(n):
            cid, body = _hostile(i, n_valid)
            headers = {MSG_ID: f"hostile-{i}", SCHEMA: "measurement.v1"}
            await bus.js.publish_async(bus.subjects.event("measurement", cid), body, headers=headers)
            if i % every == 0 and (j := next(valid, None)) is not None:
                await _publish_measurements(bus, [j])
        await bus.js.publish_async_completed()
        letters = "SELECT count(*) FROM dead_letters WHERE service = 'tracker'"
        await wait_for(lambda: count(db, letters) >= n and count(db, "SELECT count(*) FROM measurements")
                       >= n_valid, 180, 0.2)
        await asyncio.sleep(1.0)
        crashed = tracker.poll() is not None
        fields = Counter(r[0] for r in query(db, "SELECT field FROM dead_letters WHERE service = 'tracker'"))
        result = {"sent": n, "dead_letters": count(db, letters),
                  "with_reason": count(db, letters + " AND length(reason) > 0"),
                  "valid_sent": n_valid, "valid_recorded": count(db, "SELECT count(*) FROM measurements"),
                  "fields": dict(fields.most_common(12)), "crashes": int(crashed), "hold_s": HOSTILE_HOLD_S}
    finally:
        stop_process(tracker)
        await bus.close()
    return result


async def sigterm_drain(url: str, workdir: Path, n: int) -> dict[str, Any]:
    """SIGTERM the tracker mid-stream: acked = committed, nothing left in flight, nothing lost after restart."""
    bus, ns = await _connect(url)
    db = workdir / "tracker.db"
    env = tracker_env(url, ns, workdir)
    tracker = start_service("tracker", env, workdir / "tracker.log")
    try:
        await _issue(bus, list(range(n)), db)
        measured = "SELECT count(*) FROM measurements"
        publisher = asyncio.create_task(_paced(bus, list(range(n))))
        await wait_for(lambda: count(db, measured) >= n // 5, 120, 0.01)
        at_signal = count(db, measured)
        sent = time.monotonic()
        tracker.send_signal(signal.SIGTERM)
        returncode = await asyncio.to_thread(tracker.wait, 60)
        exit_s = time.monotonic() - sent
        await publisher
        state = await consumer_state(bus, "tracker-events")
        logged = count(db, "SELECT count(*) FROM event_log")
        total = (await bus.js.stream_info(bus.subjects.events_stream)).state.messages
        acked = total - state["pending"] - state["ack_pending"]
        tracker = start_service("tracker", env, workdir / "tracker.log")
        await wait_for(lambda: count(db, measured) >= n, 120, 0.1)
        await asyncio.sleep(1.0)
        book = ledger(db, CID, await stream_run_counts(bus, CID))
    finally:
        stop_process(tracker)
        await bus.close()
    return {"sent": n, "recorded_at_signal": at_signal, "exit_code": returncode, "exit_s": round(exit_s, 2),
            "in_flight_at_exit": state["ack_pending"], "acked_not_recorded": max(acked - logged, 0),
            "lost": book.lost, "duplicated": book.duplicated, "recorded_after_restart": book.measured,
            "crashes": int(returncode not in (0, -signal.SIGTERM))}
