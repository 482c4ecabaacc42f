"""The tracker process SIGKILLed mid-stream and restarted: no loss, no duplicates."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from factories import campaign_spec, created, measurement, work_order

from benchmarks.common import count_rows
from services.runtime.bus import Bus
from services.runtime.nats_server import EmbeddedNats


def _start_tracker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "tracker"], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


async def test_tracker_killed_mid_stream_loses_and_duplicates_nothing(
    tmp_path: Path, nats_server: EmbeddedNats, namespace: str, bus: Bus
) -> None:
    n = 3000
    db = tmp_path / "tracker.db"
    env = {**os.environ, "FLUXLAB_NATS_URL": nats_server.url, "FLUXLAB_NAMESPACE": namespace,
           "FLUXLAB_DB_URL": f"sqlite:///{db}", "FLUXLAB_DATA_DIR": str(tmp_path)}
    await bus.publish_event(created(campaign_spec("c1")))
    await bus.publish_many([(bus.subjects.event("work", "c1"), work_order("c1", i)) for i in range(n)])
    tracker = _start_tracker(env, tmp_path / "tracker.log")
    kills = 0
    publisher = asyncio.create_task(bus.publish_many(
        [(bus.subjects.event("measurement", "c1"), measurement("c1", i)) for i in range(n)]))
    try:
        for _ in range(3):  # kill it three times while measurements stream in
            while count_rows(db, "measurements") < (kills + 1) * n // 5:
                await asyncio.sleep(0.02)
            tracker.send_signal(signal.SIGKILL)
            tracker.wait()
            kills += 1
            tracker = _start_tracker(env, tmp_path / "tracker.log")
        await publisher
        for _ in range(600):
            if count_rows(db, "measurements") >= n:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        assert kills == 3
        assert count_rows(db, "measurements") == n
        with sqlite3.connect(db) as conn:
            distinct = conn.execute("SELECT count(DISTINCT run_id) FROM measurements").fetchone()[0]
            logged = conn.execute("SELECT count(*) FROM event_log WHERE kind = 'measurement'").fetchone()[0]
        assert distinct == n and logged == n
        assert count_rows(db, "dead_letters") == 0
    finally:
        tracker.terminate()
        tracker.wait(30)
