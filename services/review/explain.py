"""Ask the predictor why it favours each proposal (integrated gradients over `rpc.predict`), in words.

The attributions come from the campaign's current model (its version is shown beside them); a proposal made
before the first model has none, and the page says so.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from schemas import CampaignSpec, PredictRequest
from schemas.queries import ProposalRecord
from schemas.rpc import PREDICT
from services.review.names import gene_names
from services.review.why import why_words
from services.runtime.bus import Bus
from services.runtime.rpc import RpcFailed, ask


@dataclass(frozen=True)
class Explanation:
    """A proposal's 'why', or why there is none."""

    words: str | None = None
    attributions: dict[str, float] | None = None
    model_version: int | None = None
    unavailable: str | None = None

    def as_record(self) -> dict[str, Any]:
        """The fields a proposal record carries on the review page and in `review list/show` replies."""
        return {"why": self.words, "why_attributions": self.attributions, "why_model_version": self.model_version,
                "why_unavailable": self.unavailable}


class Explainer:
    """Attributions of proposals' designs to the campaign objective, from the predictor."""

    def __init__(self, bus: Bus, timeout_s: float = 5.0) -> None:
        self.bus = bus
        self.timeout_s = timeout_s

    async def explain(self, spec: CampaignSpec, proposals: list[ProposalRecord]) -> dict[str, Explanation]:
        """Proposal id -> its explanation (one predictor request for all of them)."""
        if not proposals:
            return {}
        request = PredictRequest(campaign_id=spec.id, designs=[p.design for p in proposals],
                                 outputs=[spec.objective.target], attributions=True)
        try:
            reply = await ask(self.bus, PREDICT, request, timeout=self.timeout_s)
        except RpcFailed as exc:
            return {p.id: Explanation(unavailable=exc.reason) for p in proposals}
        except (TimeoutError, NoRespondersError, NatsTimeoutError):
            return {p.id: Explanation(unavailable="the predictor is not answering") for p in proposals}
        names = await asyncio.to_thread(gene_names, None if spec.is_function else spec.organism.model)
        out = {}
        for p, prediction in zip(proposals, reply.predictions, strict=True):
            found = prediction.attributions
            out[p.id] = (Explanation(why_words(found, p.design, names), dict(found), reply.model_version)
                         if found is not None else Explanation(unavailable="the predictor gave no attributions"))
        return out
