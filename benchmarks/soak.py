"""Soak: a sustained measurement stream into one tracker process, sampled every second.

Work orders for every run are issued (and recorded) before the clock starts. Then measurements are published at
`--rate` per second for `--seconds`, and once a second the benchmark samples the tracker process's resident
memory (/proc/<pid>/status VmRSS), the `tracker-events` consumer's lag (num_pending) and ack pending, and the
nats-server's slow-consumer count (/varz on its monitoring port). `rss_drift_mb` is RSS at the end minus RSS
after warm-up (the first 20 % of the run).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from benchmarks.common import emit, parser, progress_console
from benchmarks.faults_ledger import consumer_state, count, start_service, stop_process, tracker_env, wait_for
from benchmarks.faults_stream import CID, measurement, work_order
from services.runtime.bus import Bus
from services.runtime.nats_server import EmbeddedNats, free_port


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def slow_consumers(monitor_port: int) -> int:
    """The nats-server's slow-consumer counter."""
    with urllib.request.urlopen(f"http://127.0.0.1:{monitor_port}/varz", timeout=2) as reply:
        return int(json.loads(reply.read()).get("slow_consumers", 0))


def downsample(values: list[float], keep: int = 60) -> list[float]:
    """At most `keep` evenly spaced values (first and last kept)."""
    if len(values) <= keep:
        return [round(v, 1) for v in values]
    step = (len(values) - 1) / (keep - 1)
    return [round(values[round(i * step)], 1) for i in range(keep)]


async def _issue_all(bus: Bus, db: Path, n: int) -> None:
    subject = bus.subjects.event("work", CID)
    for start in range(0, n, 5000):
        await bus.publish_many([(subject, work_order(i)) for i in range(start, min(start + 5000, n))])
    if not await wait_for(lambda: count(db, "SELECT count(*) FROM work_orders") >= n, 600, 0.5):
        raise TimeoutError("the tracker did not record the work orders")


async def soak(seconds: float, rate: float) -> dict[str, Any]:
    """Run the soak and return its figures."""
    n = int(seconds * rate)
    with tempfile.TemporaryDirectory(prefix="fluxlab-soak-") as tmp:
        workdir = Path(tmp)
        monitor = free_port()
        server = EmbeddedNats(workdir / "nats", extra_args=["-m", str(monitor)]).start()
        ns = "s" + uuid.uuid4().hex[:8]
        bus = await Bus.connect(server.url, ns, name="fluxlab-bench-soak")
        db = workdir / "tracker.db"
        tracker = start_service("tracker", tracker_env(server.url, ns, workdir), workdir / "tracker.log")
        try:
            progress_console.print(f"soak: issuing {n} work orders")
            await _issue_all(bus, db, n)
            slow_before = slow_consumers(monitor)
            result = await _stream(bus, db, tracker.pid, monitor, seconds, rate, n)
            result["slow_consumer_errors"] -= slow_before
            result["crashed"] = tracker.poll() is not None
        finally:
            stop_process(tracker)
            await bus.close()
            server.stop()
    return result


async def _stream(bus: Bus, db: Path, pid: int, monitor: int, seconds: float, rate: float, n: int) -> dict[str, Any]:
    subject = bus.subjects.event("measurement", CID)
    rss: list[float] = []
    lag: list[int] = []
    ack_pending: list[int] = []
    sent = 0
    started = time.monotonic()
    next_sample = started
    while sent < n:
        now = time.monotonic()
        due = min(int((now - started) * rate), n)
        if due > sent:
            futures = [await bus.js.publish_async(subject, measurement(i).to_bytes(),
                                                  headers={"Nats-Msg-Id": f"m-{i}"}) for i in range(sent, due)]
            sent = due
            await asyncio.gather(*futures)
        if now >= next_sample:
            state = await consumer_state(bus, "tracker-events")
            rss.append(rss_mb(pid))
            lag.append(state["pending"])
            ack_pending.append(state["ack_pending"])
            next_sample += 1.0
            if len(rss) % 10 == 0:
                progress_console.print(f"  {len(rss)}s sent {sent} rss {rss[-1]:.1f} MiB lag {lag[-1]}")
        await asyncio.sleep(0.02)
    elapsed = time.monotonic() - started
    recorded_in_window = count(db, "SELECT count(*) FROM measurements")
    drained = await wait_for(lambda: count(db, "SELECT count(*) FROM measurements") >= n, 300, 0.2)
    drain_s = time.monotonic() - started - elapsed
    warm = rss[max(int(len(rss) * 0.2) - 1, 0)] if rss else 0.0
    return {
        "seconds": round(elapsed, 1), "rate": rate, "achieved_rate": round(sent / elapsed, 1),
        "recorded_rate": round(recorded_in_window / elapsed, 1), "sent": sent,
        "recorded": count(db, "SELECT count(*) FROM measurements"), "drained": drained, "drain_s": round(drain_s, 2),
        "rss_drift_mb": round(rss[-1] - warm, 1) if rss else 0.0, "rss_warm_mb": round(warm, 1),
        "rss_end_mb": round(rss[-1], 1) if rss else 0.0, "max_consumer_lag": max(lag, default=0),
        "max_ack_pending": max(ack_pending, default=0), "final_consumer_lag": lag[-1] if lag else 0,
        "slow_consumer_errors": slow_consumers(monitor), "rss_samples_mb": downsample(rss),
        "lag_samples": [int(v) for v in downsample([float(x) for x in lag])],
        "target": {"rss_drift_mb": 50, "seconds": 300, "rate": 1000},
    }


def main(argv: list[str] | None = None) -> int:
    """`fluxlab bench soak [--seconds S] [--rate R] [--json] [--quick]`."""
    p = parser("sustained measurement stream into the tracker: memory drift, consumer lag, slow consumers")
    p.add_argument("--seconds", type=float, default=300.0)
    p.add_argument("--rate", type=float, default=1000.0)
    args = p.parse_args(argv)
    seconds, rate = (10.0, 200.0) if args.quick else (args.seconds, args.rate)
    emit(asyncio.run(soak(seconds, rate)), args.json, "soak benchmark")
    return 0
