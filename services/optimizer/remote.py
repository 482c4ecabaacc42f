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
        self._answers: dict[str, dict[str, tuple[float, float]]] = {}
        """Design key -> output -> (mean, the model's own sd), from the answers so far."""

    def _outputs(self, designs: Sequence[Design], name: str) -> tuple[np.ndarray, np.ndarray]:
        """Mean and the model's own sd of output ``name`` per design (NaN where the model has none).

        Each request asks for every output in `outputs` and keeps the whole answer per design, so asking for
        growth or the second target of designs already answered (the batch's growth, NSGA-II's objectives)
        needs no second request; one instance serves one plan.
        """
        missing = list({d.key(): d for d in designs if d.key() not in self._answers}.values())
        for start in range(0, len(missing), MAX_BATCH):
            chunk = missing[start:start + MAX_BATCH]
            request = PredictRequest(campaign_id=self.campaign_id, designs=chunk, outputs=self.outputs)
            future = asyncio.run_coroutine_threadsafe(
                ask(self.bus, PREDICT, request, self.timeout_s), self.loop)
            reply = future.result(self.timeout_s + 5)
            self.model_version = reply.model_version
            self.sd_scale = dict(reply.sd_scale)
            for design, prediction in zip(chunk, reply.predictions, strict=True):
                self._answers[design.key()] = {
                    output: (value.mean, value.sd / (reply.sd_scale.get(output, 1.0) or 1.0))
                    for output, value in prediction.outputs.items()}
        rows = [self._answers[d.key()].get(name, (np.nan, np.nan)) for d in designs]
        values = np.array(rows, dtype=float).reshape(-1, 2)
        return values[:, 0], values[:, 1]

    def predict(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
        """Objective mean and the model's own sd per design (the recalibration divided out)."""
        return self._outputs(designs, self.target)

    def predict_growth(self, designs: Sequence[Design]) -> tuple[np.ndarray, np.ndarray]:
        """Growth mean and sd per design (NaN when the model has no growth output)."""
        return self._outputs(designs, "growth")

    def predict_output(self, designs: Sequence[Design], name: str) -> tuple[np.ndarray, np.ndarray]:
        """Any output the predictor was trained on (NaN where it has none), e.g. the second target."""
        return self._outputs(designs, name)
