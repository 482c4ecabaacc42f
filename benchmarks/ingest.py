"""End-to-end ingest: measurement events through JetStream into the tracker's database.

`events_per_s`: N Measurement events published (async, awaited acks) until the tracker process (a separate
`fluxlab serve tracker`, SQLite) has committed all N rows. `ceiling_events_per_s`: the same N message bodies
through raw JetStream publish + pull fetch + ack in one process, no database, in the same run. Work orders for
the runs are issued (and recorded) before the clock starts, because the tracker only accepts measurements that
quote an issued run id.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig

from benchmarks.common import count_rows, emit, median, parser, progress_console
from schemas import Design, ExecutorKind, Measurement, Value, WorkOrder
from services.runtime.bus import Bus
from services.runtime.nats_server import EmbeddedNats


def _measurement(cid: str, i: int) -> Measurement:
    return Measurement(
        id=f"m-{cid}-{i}", campaign_id=cid, run_id=f"run-{i}", design=Design(knockouts=["b1380", "b2297"]),
        growth_rate=Value(value=0.5 + (i % 100) * 1e-3, sd=0.02),
        products={"EX_succ_e": Value(value=1.2, sd=0.06), "EX_ac_e": Value(value=3.1, sd=0.2)},
        fluxes={r: Value(value=1.0 + k, sd=0.1) for k, r in enumerate(("PGI", "PFK", "GAPD", "PYK", "CS", "ICDHyr"))},
        station="s1", batch_id=f"b{i // 96}", plate_id=f"p{i // 96}", well=f"A{i % 12 + 1}",
    )



async def _wait_rows(db: Path, table: str, n: int, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while count_rows(db, table) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"tracker recorded {count_rows(db, table)}/{n} {table}")
        await asyncio.sleep(0.02)


async def end_to_end(url: str, workdir: Path, n: int) -> float:
    """Events per second recorded by a separate tracker process."""
    ns = "b" + uuid.uuid4().hex[:8]
    cid = "bench"
    db = workdir / f"{ns}.db"
    bus = await Bus.connect(url, ns)
    env = {**os.environ, "FLUXLAB_NATS_URL": url, "FLUXLAB_NAMESPACE": ns, "FLUXLAB_DB_URL": f"sqlite:///{db}",
           "FLUXLAB_DATA_DIR": str(workdir)}
    tracker = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "tracker"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        orders = [WorkOrder(id=f"wo-{i}", campaign_id=cid, run_id=f"run-{i}", proposal_id=f"p-{i}",
                            design=Design(knockouts=["b1380"]), queue=ExecutorKind.ROBOT, station="s1")
                  for i in range(n)]
        await bus.publish_many([(bus.subjects.event("work", cid), o) for o in orders])
        await _wait_rows(db, "work_orders", n)
        items = [(bus.subjects.event("measurement", cid), _measurement(cid, i)) for i in range(n)]
        start = time.perf_counter()
        await bus.publish_many(items)
        await _wait_rows(db, "measurements", n)
        return n / (time.perf_counter() - start)
    finally:
        tracker.terminate()
        tracker.wait(30)
        await bus.close()


async def ceiling(url: str, n: int) -> float:
    """Raw JetStream publish + fetch + ack of the same bodies, no database."""
    ns = "c" + uuid.uuid4().hex[:8]
    bus = await Bus.connect(url, ns)
    cid = "bench"
    subject = bus.subjects.event("measurement", cid)
    items = [(subject, _measurement(cid, i)) for i in range(n)]
    await bus.js.add_consumer(bus.subjects.events_stream, ConsumerConfig(
        durable_name="raw", ack_policy=AckPolicy.EXPLICIT, max_ack_pending=20_000))
    sub = await bus.js.pull_subscribe_bind("raw", stream=bus.subjects.events_stream)
    acked = 0

    async def consume() -> None:
        nonlocal acked
        while acked < n:
            try:
                msgs = await sub.fetch(1000, timeout=1.0)
            except NatsTimeoutError:
                continue
            for msg in msgs:
                Measurement.model_validate_json(msg.data)  # the tracker parses too; keep the ceiling comparable
                await msg.ack()
            acked += len(msgs)

    start = time.perf_counter()
    consumer = asyncio.create_task(consume())
    await bus.publish_many(items)
    await consumer
    elapsed = time.perf_counter() - start
    await sub.unsubscribe()
    await bus.close()
    return n / elapsed


async def run(n: int, repeat: int) -> dict[str, Any]:
    """Median figures over `repeat` runs against one embedded nats-server."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        server = EmbeddedNats(workdir / "nats").start()
        try:
            e2e, ceil = [], []
            for r in range(repeat):
                progress_console.print(f"ingest run {r + 1}/{repeat}: {n} events")
                ceil.append(await ceiling(server.url, n))
                e2e.append(await end_to_end(server.url, workdir, n))
        finally:
            server.stop()
    events_per_s, ceiling_per_s = median(e2e), median(ceil)
    return {"events_per_s": round(events_per_s, 1), "ceiling_events_per_s": round(ceiling_per_s, 1),
            "ratio": round(events_per_s / ceiling_per_s, 3), "n_events": n, "repeat": repeat,
            "runs_events_per_s": [round(x, 1) for x in e2e], "runs_ceiling_events_per_s": [round(x, 1) for x in ceil],
            "database": "sqlite", "target": {"events_per_s": 5000, "ratio": 0.3}}


def main(argv: list[str] | None = None) -> int:
    """`fluxlab bench ingest [--json] [--quick] [--n N] [--repeat R]`."""
    p = parser("tracker ingest throughput vs raw JetStream")
    p.add_argument("--n", type=int, default=20_000)
    args = p.parse_args(argv)
    n, repeat = (1000, 1) if args.quick else (args.n, args.repeat)
    emit(asyncio.run(run(n, repeat)), args.json, "ingest benchmark")
    return 0
