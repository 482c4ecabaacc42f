"""Request/reply endpoints of the contract: which channel and verb, request model in, reply model out.

One `RpcSpec` is the declaration both sides use: a service registers a handler for it
(`services.runtime.service.Endpoint`) and a client calls it (`services.runtime.rpc.ask`), so the subject, the
request model and the reply model are written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

from schemas.channels import BY_NAME
from schemas.model import PredictReply, PredictRequest
from schemas.queries import CampaignList, CampaignQuery, RecordList

Q = TypeVar("Q", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True)
class RpcSpec(Generic[Q, R]):
    """One endpoint: a request/reply channel of the table (and the verb, for `<ns>.rpc.<service>.<verb>`)."""

    channel: str
    verb: str | None
    request: type[Q]
    reply: type[R]

    @property
    def name(self) -> str:
        """The endpoint's name in the NATS micro service (`$SRV.INFO`)."""
        return self.verb or self.channel

    def subject(self, ns: str) -> str:
        """The endpoint's subject in a namespace."""
        return BY_NAME[self.channel].subject(ns, **({"verb": self.verb} if self.verb else {}))

    @property
    def empty_is_default(self) -> bool:
        """An empty request body reads as `{}` when every field of the request has a default."""
        return not any(field.is_required() for field in self.request.model_fields.values())


PREDICT = RpcSpec("predict", None, PredictRequest, PredictReply)
TRACKER_CAMPAIGNS = RpcSpec("trackerRpc", "campaigns", CampaignQuery, CampaignList)
TRACKER_BEST = RpcSpec("trackerRpc", "best", CampaignQuery, CampaignList)
TRACKER_PROPOSALS = RpcSpec("trackerRpc", "proposals", CampaignQuery, RecordList)
TRACKER_MEASUREMENTS = RpcSpec("trackerRpc", "measurements", CampaignQuery, RecordList)
TRACKER_WORK_ORDERS = RpcSpec("trackerRpc", "work_orders", CampaignQuery, RecordList)
TRACKER_REVIEWS = RpcSpec("trackerRpc", "reviews", CampaignQuery, RecordList)
TRACKER_MODELS = RpcSpec("trackerRpc", "models", CampaignQuery, RecordList)
TRACKER: tuple[RpcSpec[CampaignQuery, CampaignList] | RpcSpec[CampaignQuery, RecordList], ...] = (
    TRACKER_CAMPAIGNS, TRACKER_PROPOSALS, TRACKER_MEASUREMENTS, TRACKER_BEST, TRACKER_WORK_ORDERS, TRACKER_REVIEWS,
    TRACKER_MODELS,
)
"""The tracker's reads, in registration order."""
