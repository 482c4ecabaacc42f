"""`fluxlab status` sees every service of the stack: each answers `$SRV.PING`, with or without endpoints."""

from __future__ import annotations

import asyncio

from services.optimizer.service import OptimizerService
from services.runtime.bus import Bus
from services.runtime.settings import Settings
from services.runtime.status import ping_services
from services.tracker.service import TrackerService
from simulators.executors import BenchSimService, RobotSimService


async def test_services_without_endpoints_answer_ping(settings: Settings, bus: Bus) -> None:
    async with TrackerService(settings, bus=bus), OptimizerService(settings, bus=bus), \
            RobotSimService(settings, bus=bus), BenchSimService(settings, bus=bus):
        names: set[str] = set()
        for _ in range(20):
            names = {s["name"] for s in await ping_services(bus)}
            if len(names) >= 4:
                break
            await asyncio.sleep(0.1)
        assert {"fluxlab-tracker", "fluxlab-optimizer", "fluxlab-robot-sim", "fluxlab-bench-sim"} <= names
