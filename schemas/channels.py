"""The one channel table of the contract: every subject, the message it carries, who publishes and who reads it.

Generated from this table: the subject helpers and the subject -> model map (`services/runtime/subjects.py`),
the AsyncAPI document (`schemas/export.py` -> `schemas/asyncapi.yaml`) and the per-user NATS permissions
(`services/runtime/security.py` -> `deploy/nats/accounts.conf`). `tests/unit/test_channels.py` checks that the
three agree. Roles are the NATS users of `security.py`; `robot` stands for every `robot-<station>` user.

An address is a template over `{ns}` (the namespace) and at most one more parameter; in a permission an unbound
parameter becomes `>` when it is the last token and `*` otherwise. A channel's `publish_own` / `read_own`
parameter is bound to the user's own name: a service publishes only its own dead letters, a robot pulls only its
own station's queue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from schemas.campaign import CampaignEvent
from schemas.deadletter import DeadLetter
from schemas.measurement import Measurement
from schemas.model import ModelDeclined, ModelTrained, PredictReply, PredictRequest
from schemas.proposal import Proposal, ReviewDecision
from schemas.queries import CampaignList, CampaignQuery, RecordList
from schemas.work import RunFailed, WorkOrder

ROBOT = "robot"
CORE = ("tracker", "predictor", "optimizer", "review")
_PARAM = re.compile(r"^\{(\w+)\}$")


@dataclass(frozen=True)
class Stream:
    """A JetStream stream over one subject group (`<ns>.<group>.>`)."""

    group: str
    suffix: str
    work_queue: bool = False
    """Work-queue retention: readers pull only through named consumers with a fixed filter."""

    def name(self, ns: str) -> str:
        """`FLUXLAB_EVENTS` in the default namespace."""
        return f"{ns.upper()}_{self.suffix}"

    def subjects(self, ns: str) -> str:
        """`<ns>.<group>.>`: every subject of the stream."""
        return f"{ns}.{self.group}.>"


STREAMS = (Stream("evt", "EVENTS"), Stream("work", "WORK", work_queue=True), Stream("dlq", "DLQ"))


@dataclass(frozen=True)
class Channel:
    """One subject (template) of the contract."""

    name: str
    address: str
    model: type[Any] | None
    description: str
    publishers: tuple[str, ...] = ()
    subscribers: tuple[str, ...] = ()
    readers: tuple[str, ...] = ()
    """Read through JetStream consumers without a core subscription (the CLI, lab stations)."""
    publish_own: str | None = None
    """A parameter each publisher binds to its own name (a service publishes only its own dead letters)."""
    read_own: str | None = None
    """A parameter each reader binds to its own name (a robot pulls only its own station's queue)."""
    replies: tuple[type[Any], ...] = ()
    """Request/reply: the reply models."""

    @property
    def tokens(self) -> tuple[str, ...]:
        """The template's tokens after `{ns}`."""
        return tuple(self.address.split(".")[1:])

    @property
    def group(self) -> str:
        """`evt`, `work`, `rpc` or `dlq`."""
        return self.tokens[0]

    @property
    def kind(self) -> str:
        """The token after the group (`measurement` for `{ns}.evt.measurement.{cid}`)."""
        return self.tokens[1]

    @property
    def params(self) -> tuple[str, ...]:
        """Parameters other than `ns`."""
        return tuple(m.group(1) for t in self.tokens if (m := _PARAM.match(t)))

    def subject(self, ns: str, **values: str) -> str:
        """A concrete subject (every parameter given)."""
        return self.address.format(ns=ns, **values)

    def pattern(self, ns: str, **bound: str) -> str:
        """A NATS wildcard over the unbound parameters (the last one `>`, inner ones `*`)."""
        last = len(self.tokens) - 1
        out = [ns]
        for i, token in enumerate(self.tokens):
            param = _PARAM.match(token)
            if param is None:
                out.append(token)
            elif param.group(1) in bound:
                out.append(bound[param.group(1)])
            else:
                out.append(">" if i == last else "*")
        return ".".join(out)

    def match(self, tokens: tuple[str, ...]) -> dict[str, str] | None:
        """The parameter values when `tokens` (after the namespace) are a subject of this channel."""
        if len(tokens) != len(self.tokens):
            return None
        values: dict[str, str] = {}
        for token, template in zip(tokens, self.tokens, strict=True):
            param = _PARAM.match(template)
            if param is not None:
                values[param.group(1)] = token
            elif token != template:
                return None
        return values

    def roles(self) -> set[str]:
        """Every role that publishes, subscribes to or reads this channel."""
        return {*self.publishers, *self.subscribers, *self.readers}


_EVT_READERS = ("tracker", "optimizer", "review")
_LAB = (ROBOT, "bench")

CHANNELS: tuple[Channel, ...] = (
    Channel("campaignEvents", "{ns}.evt.campaign.{cid}", CampaignEvent, "Campaign lifecycle (CLI/UI -> all).",
            publishers=("cli", "optimizer"), subscribers=(*_EVT_READERS, "predictor"), readers=("cli",)),
    Channel("proposals", "{ns}.evt.proposal.{cid}", Proposal,
            "Optimizer proposals (optimizer -> tracker, review).",
            publishers=("optimizer", "review"), subscribers=_EVT_READERS, readers=("cli",)),
    Channel("reviews", "{ns}.evt.review.{cid}", ReviewDecision,
            "Review decisions (review -> tracker, optimizer).",
            publishers=("review",), subscribers=_EVT_READERS, readers=("cli",)),
    Channel("workIssued", "{ns}.evt.work.{cid}", WorkOrder, "Record of issued work orders (review -> tracker).",
            publishers=("review",), subscribers=(*_EVT_READERS, "predictor"), readers=("cli",)),
    Channel("measurements", "{ns}.evt.measurement.{cid}", Measurement,
            "Measured outcomes (robot / bench / the review service's bench page / import -> tracker, predictor, "
            "optimizer). The executor quotes the work order's run_id and its own station; the message id should be "
            "derived from the run id so a re-publish after a crash is dropped as a duplicate.",
            publishers=(*_LAB, "review", "cli"), subscribers=(*_EVT_READERS, "predictor"), readers=("cli",)),
    Channel("runFailed", "{ns}.evt.run_failed.{cid}", RunFailed,
            "Failed runs (robot / bench -> tracker, predictor, optimizer).",
            publishers=_LAB, subscribers=(*_EVT_READERS, "predictor"), readers=("cli",)),
    Channel("modelTrained", "{ns}.evt.model.{cid}", ModelTrained,
            "New model versions and the measurements each covers (predictor -> tracker, optimizer).",
            publishers=("predictor",), subscribers=_EVT_READERS, readers=("cli",)),
    Channel("modelDeclined", "{ns}.evt.model_declined.{cid}", ModelDeclined,
            "The predictor declined to train on the measurements so far: too few, or training failed "
            "(predictor -> tracker, optimizer, which then stops waiting for a model).",
            publishers=("predictor",), subscribers=_EVT_READERS, readers=("cli",)),
    Channel("robotWork", "{ns}.work.robot.{station}", WorkOrder,
            "Robot protocol: a lab-automation adapter pulls from its station's work-queue subject with a durable pull "
            "consumer, runs the order, publishes a Measurement (or RunFailed) on the events subject with headers "
            "Nats-Msg-Id and Fluxlab-Schema, awaits the JetStream ack, then acks the work order. A crash before the "
            "ack redelivers the order; the deterministic message id makes the re-publish a no-op.",
            publishers=("review",), readers=(ROBOT,), read_own="station"),
    Channel("benchWork", "{ns}.work.bench", WorkOrder, "Bench queue for biologists who run experiments by hand.",
            publishers=("review",), readers=("bench",)),
    Channel("predict", "{ns}.rpc.predict", PredictRequest,
            "Request/reply: batched predictions (reply PredictReply); the review service asks for a proposal's "
            "attributions ('why this design').",
            publishers=("optimizer", "review", "cli"), subscribers=("predictor",), replies=(PredictReply,)),
    Channel("deadLetters", "{ns}.dlq.{service}", DeadLetter, "Rejected input with reason (any consumer -> tracker).",
            publishers=(*CORE, *_LAB), subscribers=("tracker",), readers=("cli",), publish_own="service"),
    Channel("trackerRpc", "{ns}.rpc.tracker.{verb}", CampaignQuery,
            "Request/reply: the tracker's reads (campaigns, best, proposals, measurements, work_orders, reviews, "
            "models); reply CampaignList for campaigns and best, RecordList otherwise.",
            publishers=("review", "cli"), subscribers=("tracker",), replies=(CampaignList, RecordList)),
    Channel("reviewRpc", "{ns}.rpc.review.{verb}", None,
            "Request/reply: the review gate (list, approve, reject, amend; models in services/review/models.py).",
            publishers=("cli",), subscribers=("review",)),
    Channel("predictorRpc", "{ns}.rpc.predictor.{verb}", None,
            "Request/reply endpoints of the predictor (reserved: none yet).",
            publishers=("cli",), subscribers=("predictor",)),
    Channel("optimizerRpc", "{ns}.rpc.optimizer.{verb}", None,
            "Request/reply endpoints of the optimizer (reserved: none yet).",
            publishers=("cli",), subscribers=("optimizer",)),
)
"""Every channel; nothing is published or subscribed outside this table (but NATS's own `$JS`/`$SRV`/`_INBOX`)."""

BY_NAME = {c.name: c for c in CHANNELS}
EVENT_CHANNELS = {c.kind: c for c in CHANNELS if c.group == "evt"}
"""Event kind (the subject token after `evt`) -> channel."""


class Route(NamedTuple):
    """A parsed subject: its namespace, its channel and the channel's parameter values."""

    ns: str
    channel: Channel
    params: dict[str, str]

    @property
    def campaign_id(self) -> str | None:
        """The campaign id of an event subject."""
        return self.params.get("cid")


def parse_subject(subject: str) -> Route:
    """The one subject parser; raises KeyError for a subject outside the table."""
    ns, _, rest = subject.partition(".")
    tokens = tuple(rest.split(".")) if rest else ()
    for channel in CHANNELS:
        values = channel.match(tokens)
        if values is not None:
            return Route(ns, channel, values)
    raise KeyError(subject)


def subject_kind(subject: str) -> str:
    """What the tracker's event log files a subject under: the event kind, else the group (`dlq`, `work`)."""
    try:
        channel = parse_subject(subject).channel
    except KeyError:
        return ""
    return channel.kind if channel.group == "evt" else channel.group
