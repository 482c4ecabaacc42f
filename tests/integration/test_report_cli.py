"""`fluxlab report CAMPAIGN --out DIR` against a running tracker (real nats-server, SQLite), and from its database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from campaign_story import story_events
from test_cli import fluxlab
from test_review_gate import wait_until

from services.review.tracker_client import TrackerClient
from services.runtime.bus import Bus
from services.runtime.nats_server import EmbeddedNats
from services.runtime.settings import Settings
from services.tracker.service import TrackerService


async def test_report_of_a_campaign_from_the_running_tracker_and_from_its_database(
        tmp_path: Path, settings: Settings, nats_server: EmbeddedNats, namespace: str, bus: Bus) -> None:
    env = {"FLUXLAB_NATS_URL": nats_server.url, "FLUXLAB_NAMESPACE": namespace}
    async with TrackerService(settings, bus=bus):
        for kind, message in story_events("c1"):
            await bus.publish(bus.subjects.event(kind, "c1"), message)
        tracker = TrackerClient(bus)

        async def recorded() -> bool:
            return len(await tracker.measurements("c1")) == 14 and len(await tracker.models("c1")) == 1
        await wait_until(recorded, timeout=30)
        out = tmp_path / "report"
        result = await asyncio.to_thread(fluxlab, "report", "c1", "--out", str(out), "--json", env=env)
        assert result.returncode == 0, result.stderr[-2000:]
        summary = json.loads(result.stdout)
        assert summary["best_value"] == 2.9 and summary["n_measurements"] == 14 and summary["true_optimum"] is None
        assert summary["prospective"]["beats_incumbent"]["precision"] == 0.75
        for name in ("report.html", "summary.json", "best_so_far.png", "predicted_vs_measured.png",
                     "model_metrics.png", "production_envelope.png"):
            assert (out / name).is_file(), name
        unknown = await asyncio.to_thread(fluxlab, "report", "c9", "--out", str(tmp_path / "x"), env=env)
        assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
        assert [line for line in unknown.stderr.splitlines() if line.strip()] == [
            "error: campaign: unknown campaign 'c9' (known: c1)"]
    database = settings.data_dir / "fluxlab.db"
    from_file = await asyncio.to_thread(fluxlab, "report", "c1", "--db", str(database), "--out",
                                        str(tmp_path / "from-db"))
    assert from_file.returncode == 0, from_file.stderr[-2000:]
    assert "not informative" not in from_file.stderr and "precision 0.75" in from_file.stderr
    assert json.loads((tmp_path / "from-db" / "summary.json").read_text())["best_value"] == 2.9
    typo = await asyncio.to_thread(fluxlab, "report", "c2", "--db", str(database))
    assert typo.returncode == 2 and typo.stderr.strip() == "error: campaign: unknown campaign 'c2' (known: c1)"
    missing = await asyncio.to_thread(fluxlab, "report", "c1", "--db", str(tmp_path / "nope.db"))
    assert missing.returncode == 2 and "db: '" in missing.stderr and "does not exist" in missing.stderr
