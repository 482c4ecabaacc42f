"""The optimizer stops waiting for a model once no predictor answers `$SRV.PING` (a dead one will not deliver)."""

from __future__ import annotations

import asyncio

from services.optimizer.service import OptimizerService, OptimizerSettings
from services.predictor.service import PredictorService
from services.runtime.bus import Bus
from services.runtime.settings import Settings


async def _gone_after(optimizer: OptimizerService, seconds: float) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    gone = await optimizer.predictor_gone()
    while not gone and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)
        gone = await optimizer.predictor_gone()
    return gone


async def test_predictor_gone_follows_the_predictors_ping(settings: Settings, bus: Bus) -> None:
    options = OptimizerSettings(predictor_gone_s=1.0)
    async with OptimizerService(settings, bus=bus, options=options) as optimizer:
        async with PredictorService(settings, bus=bus):
            assert not await _gone_after(optimizer, 3.0)  # a live predictor answers: keep waiting for its model
        assert await _gone_after(optimizer, 6.0)  # stopped: after predictor_gone_s the optimizer plans without it
