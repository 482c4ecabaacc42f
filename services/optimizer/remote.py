"""A Surrogate backed by the predictor service (`rpc.predict`), callable from a worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np

from schemas import Design, PredictRequest
from schemas.rpc import PREDICT
from services.runtime.bus import Bus
from services.runtime.rpc import ask

MAX_BATCH = 2000


class RemoteSurrogate:
    """Objective (and growth) mean/sd from the predictor; the planner runs in a thread, NATS in the loop."""

    def __init__(self, bus: Bus, loop: asyncio.AbstractEventLoop, campaign_id: str, target: str,
                 timeout_s: float = 30.0, second_target: str | None = None) -> None:
        self.bus = bus
        self.loop = loop
        self.campaign_id = campaign_id
        self.target = target
        self.timeout_s = timeout_s
        self.outputs = [target, "growth"]
        if second_target is not None and second_target not in self.outputs:
            self.outputs.append(second_target)
        """What each request asks for: the target, growth, and a two-objective campaign's second target."""
        self.model_version: int | None = None
        self.sd_scale: dict[str, float] = {}
        """The predictor's prospective recalibration factors of the last answer (`PredictReply.sd_scale`): the
        planner ranks by the model's own sd (the answers divided by them), proposals publish the recalibrated one."""

    def _outputs(self, designs: Sequence[Design], name: str) -> tuple[np.ndarray, np.ndarray]:
        means: list[float] = []
        sds: list[float] = []
        for start in range(0, len(designs), MAX_BATCH):
            chunk = list(designs[start:start + MAX_BATCH])
            request = PredictRequest(campaign_id=self.campaign_id, designs=chunk, outputs=self.outputs)
            future = asyncio.run_coroutine_threadsafe(
                ask(self.bus, PREDICT, request, self.timeout_s), self.loop)
            reply = future.result(self.timeout_s + 5)
            self.model_version = reply.model_version
            self.sd_scale = dict(reply.sd_scale)
            scale = reply.sd_scale.get(name, 1.0) or 1.0
            for prediction in reply.predictions:
                value = prediction.outputs.get(name)
                means.append(value.mean if value else np.nan)
                sds.append(value.sd / scale if value else np.nan)
        return np.array(means), np.array(sds)

    def predict(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
        """Objective mean and the model's own sd per design (the recalibration divided out)."""
        return self._outputs(designs, self.target)

    def predict_growth(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
        """Growth mean and sd per design (NaN when the model has no growth output)."""
        return self._outputs(designs, "growth")

    def predict_output(self, designs: Sequence[Design], name: str) -> tuple[np.ndarray, np.ndarray]:
        """Any output the predictor was trained on (NaN where it has none), e.g. the second target."""
        return self._outputs(designs, name)
