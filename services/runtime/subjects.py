"""Subject and stream names of one namespace, generated from the channel table (`schemas/channels.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from schemas import Message
from schemas.channels import BY_NAME, EVENT_CHANNELS, STREAMS, Route, parse_subject

EVENT_MODELS: dict[str, type[Message]] = {kind: c.model for kind, c in EVENT_CHANNELS.items() if c.model}
"""Event kind (the subject token after `evt`) -> message model (from the channel table)."""

KIND_OF_MODEL: dict[type[Message], str] = {model: kind for kind, model in EVENT_MODELS.items()}
_STREAM = {s.group: s for s in STREAMS}


@dataclass(frozen=True)
class Subjects:
    """All subjects and stream names of one namespace (each one a channel of the table)."""

    ns: str = "fluxlab"

    def event(self, kind: str, campaign_id: str) -> str:
        """`<ns>.evt.<kind>.<cid>`; raises KeyError for a kind outside the table."""
        return EVENT_CHANNELS[kind].subject(self.ns, cid=campaign_id)

    def events(self, kind: str = "*", campaign_id: str = "*") -> str:
        """Wildcard over events (`*` for any kind, `*` or `>` for any campaign)."""
        if kind != "*" and kind not in EVENT_CHANNELS:
            raise KeyError(kind)
        return f"{self.ns}.evt.{kind}.{campaign_id}"

    @property
    def all_events(self) -> str:
        return _STREAM["evt"].subjects(self.ns)

    def robot(self, station: str) -> str:
        """Work queue of one robot station."""
        return BY_NAME["robotWork"].subject(self.ns, station=station)

    @property
    def bench(self) -> str:
        return BY_NAME["benchWork"].subject(self.ns)

    @property
    def all_work(self) -> str:
        return _STREAM["work"].subjects(self.ns)

    def rpc(self, service: str, verb: str) -> str:
        """Request/reply endpoint subject; raises KeyError for a service without an rpc channel."""
        return BY_NAME[f"{service}Rpc"].subject(self.ns, verb=verb)

    @property
    def predict(self) -> str:
        return BY_NAME["predict"].subject(self.ns)

    def dlq(self, service: str) -> str:
        """Dead-letter subject of one service."""
        return BY_NAME["deadLetters"].subject(self.ns, service=service)

    @property
    def all_dlq(self) -> str:
        return _STREAM["dlq"].subjects(self.ns)

    @property
    def events_stream(self) -> str:
        return _STREAM["evt"].name(self.ns)

    @property
    def work_stream(self) -> str:
        return _STREAM["work"].name(self.ns)

    @property
    def dlq_stream(self) -> str:
        return _STREAM["dlq"].name(self.ns)

    @property
    def models_bucket(self) -> str:
        """Object store bucket of model artifacts (`fluxlab-models` in the default namespace)."""
        return f"{self.ns}-models"

    def parse(self, subject: str) -> Route:
        """The subject's channel and parameters; raises KeyError for a subject outside the table."""
        return parse_subject(subject)

    def model_for_subject(self, subject: str) -> type[Message]:
        """Which model a subject carries; raises KeyError for a subject outside the contract."""
        model = parse_subject(subject).channel.model
        if model is None:
            raise KeyError(subject)
        return model  # type: ignore[no-any-return]
