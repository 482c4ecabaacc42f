"""Ask the predictor why it favours each proposal, and put the answer in words.

Cell designs: exact Shapley values of the predicted objective over the design's interventions, from one
`rpc.predict` request for every sub-design (services/review/shapley.py says why not the raw gradients).
Black-box designs and designs of more than 8 changes: the predictor's integrated gradients (`attributions`).
Both come from the campaign's current model, whose version is shown beside them; before the first model, or
with the predictor gone, the explanation says so instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from schemas import CampaignSpec, Design, PredictReply, PredictRequest
from schemas.queries import ProposalRecord
from schemas.rpc import PREDICT
from services.review import shapley
from services.review.names import gene_names
from services.review.why import why_words
from services.runtime.bus import Bus
from services.runtime.rpc import RpcFailed, ask

CHUNK = 2000
"""Designs per predict request."""


@dataclass(frozen=True)
class Explanation:
    """A proposal's 'why', or why there is none."""

    words: str | None = None
    attributions: dict[str, float] | None = None
    model_version: int | None = None
    method: str | None = None
    unavailable: str | None = None

    def as_record(self) -> dict[str, Any]:
        """The fields a proposal record carries on the review page and in `review list/show` replies."""
        return {"why": self.words, "why_attributions": self.attributions, "why_model_version": self.model_version,
                "why_method": self.method, "why_unavailable": self.unavailable}


class _Unavailable(Exception):
    pass


class Explainer:
    """Attributions of proposals' designs to the campaign objective, from the predictor."""

    def __init__(self, bus: Bus, timeout_s: float = 10.0) -> None:
        self.bus = bus
        self.timeout_s = timeout_s

    async def _predict(self, spec: CampaignSpec, designs: list[Design], attributions: bool) -> list[PredictReply]:
        replies = []
        for start in range(0, len(designs), CHUNK):
            request = PredictRequest(campaign_id=spec.id, designs=designs[start:start + CHUNK],
                                     outputs=[spec.objective.target], attributions=attributions)
            try:
                replies.append(await ask(self.bus, PREDICT, request, timeout=self.timeout_s))
            except RpcFailed as exc:
                raise _Unavailable(exc.reason) from None
            except (TimeoutError, NoRespondersError, NatsTimeoutError):
                raise _Unavailable("the predictor is not answering") from None
        return replies

    async def explain(self, spec: CampaignSpec, proposals: list[ProposalRecord]) -> dict[str, Explanation]:
        """Proposal id -> its explanation."""
        if not proposals:
            return {}
        try:
            found = await self._shapley(spec, [p for p in proposals if shapley.explainable(p.design)])
            found.update(await self._gradients(spec, [p for p in proposals if not shapley.explainable(p.design)]))
        except _Unavailable as exc:
            return {p.id: Explanation(unavailable=str(exc)) for p in proposals}
        names = await asyncio.to_thread(gene_names, None if spec.is_function else spec.organism.model)
        out = {}
        for p in proposals:
            attributions, version, method = found[p.id]
            out[p.id] = (Explanation(why_words(attributions, p.design, names), attributions, version, method)
                         if attributions is not None else
                         Explanation(unavailable=f"the predictor gave no prediction of {spec.objective.target}"))
        return out

    async def _shapley(self, spec: CampaignSpec, proposals: list[ProposalRecord]
                       ) -> dict[str, tuple[dict[str, float] | None, int | None, str]]:
        if not proposals:
            return {}
        needed = {d.key(): d for p in proposals for d in shapley.sub_designs(p.design)}
        designs = list(needed.values())
        replies = await self._predict(spec, designs, attributions=False)
        target = spec.objective.target
        predictions = [pred for reply in replies for pred in reply.predictions]
        mean = {d.key(): pred.outputs[target].mean for d, pred in zip(designs, predictions, strict=True)
                if target in pred.outputs}
        version = replies[-1].model_version
        out: dict[str, tuple[dict[str, float] | None, int | None, str]] = {}
        for p in proposals:
            if all(d.key() in mean for d in shapley.sub_designs(p.design)):
                values = shapley.design_shapley(p.design, lambda d: mean[d.key()])
                out[p.id] = ({k: round(v, 6) for k, v in values.items()}, version, "shapley")
            else:
                out[p.id] = (None, version, "shapley")
        return out

    async def _gradients(self, spec: CampaignSpec, proposals: list[ProposalRecord]
                         ) -> dict[str, tuple[dict[str, float] | None, int | None, str]]:
        if not proposals:
            return {}
        replies = await self._predict(spec, [p.design for p in proposals], attributions=True)
        predictions = [pred for reply in replies for pred in reply.predictions]
        version = replies[-1].model_version
        return {p.id: (dict(pred.attributions) if pred.attributions is not None else None, version,
                       "integrated gradients") for p, pred in zip(proposals, predictions, strict=True)}
