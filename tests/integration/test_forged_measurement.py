"""A robot account forges measurements: the tracker dead-letters them with the reason, and nothing uses them.

Runs against a real nats-server with the per-user permissions (the default, secure mode): the forger is a
real robot account allowed to publish measurements, just not for runs it was never issued.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from factories import campaign_spec, created, measurement, work_order
from sqlalchemy import select

from schemas import Measurement, Value
from services.optimizer.ledger import CampaignLedger
from services.predictor.service import PredictorService
from services.runtime.bus import Bus
from services.runtime.nats_server import EmbeddedNats
from services.runtime.replay import replay
from services.runtime.security import render_accounts_config, users
from services.runtime.settings import Settings
from services.tracker.service import TrackerService, TrackerSettings
from services.tracker.tables import DeadLetterRow, HeldMeasurementRow, MeasurementRow

STATIONS = ["sim1", "sim2"]
HUGE = 1e6


@pytest.fixture
async def buses(tmp_path: Path, namespace: str) -> AsyncIterator[dict[str, Bus]]:
    """One bus per account on a server started with the accounts config."""
    passwords = {user: f"pw-{user}-{namespace}" for user in users(STATIONS)}
    config = tmp_path / "accounts.conf"
    config.write_text(render_accounts_config(namespace, passwords, STATIONS))
    with EmbeddedNats(tmp_path / "nats", config_file=config) as server:
        connected = {"operator": await Bus.connect(server.url, namespace, user="operator",
                                                   password=passwords["operator"])}
        for user in ("tracker", "review", "cli", "robot-sim1"):
            connected[user] = await Bus.connect(server.url, namespace, user=user, password=passwords[user],
                                                ensure=False)
        yield connected
        for bus in connected.values():
            await bus.close()


def _forged(genuine: Measurement, run_id: str, msg_id: str) -> Measurement:
    return genuine.model_copy(update={"id": msg_id, "run_id": run_id,
                                      "products": {"EX_succ_e": Value(value=HUGE, sd=0.01)}})


async def _until(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


async def test_forged_measurements_are_dead_lettered_and_never_used(
    buses: dict[str, Bus], tmp_path: Path, namespace: str
) -> None:
    spec = campaign_spec("c1")
    await buses["cli"].publish_event(created(spec))
    await buses["review"].publish_event(work_order("c1", 1, station="sim1"))
    await buses["review"].publish_event(work_order("c1", 2, station="sim2"))
    genuine = measurement("c1", 1, station="sim1")
    robot = buses["robot-sim1"]
    await robot.publish_event(genuine)
    await robot.publish_event(_forged(genuine, "run-999", "forged-never-issued"))
    await robot.publish_event(_forged(genuine, "run-2", "forged-other-station"))

    settings = Settings(data_dir=tmp_path / "data", namespace=namespace, grace_s=1.0)
    async with TrackerService(settings, bus=buses["tracker"],
                              options=TrackerSettings(hold_s=1.0, sweep_s=0.2)) as tracker:
        repo = tracker.repo
        assert repo is not None

        def rows(table: type) -> list:  # type: ignore[type-arg]
            with repo.session() as s:
                return list(s.scalars(select(table)))

        await _until(lambda: len(rows(DeadLetterRow)) >= 2 and not rows(HeldMeasurementRow))
        letters = {r.original_msg_id: r for r in rows(DeadLetterRow)}
        assert letters["forged-other-station"].field == "station"
        assert "issued to station 'sim2'" in letters["forged-other-station"].reason
        assert letters["forged-never-issued"].field == "run_id"
        assert "never issued" in letters["forged-never-issued"].reason
        assert [m.id for m in rows(MeasurementRow)] == [genuine.id]

    ledger = CampaignLedger(spec)
    await replay(buses["operator"], f"{namespace}.evt.>", lambda _s, m: ledger.apply(m) and None)
    assert ledger.used == 1
    assert ledger.best()[0] == genuine.readout("EX_succ_e")
    assert set(ledger.gate.refused) == {"forged-other-station"}
    assert ledger.gate.n_held == 1  # the never-issued one: held, never counted

    predictor = PredictorService(settings, bus=buses["operator"])
    await replay(buses["operator"], f"{namespace}.evt.work.>", predictor._apply)
    await replay(buses["operator"], f"{namespace}.evt.measurement.>", predictor._apply)
    assert list(predictor.campaign("c1").measurements) == [genuine.id]  # the training set of every version
