"""Subject and stream names, derived from the namespace (DESIGN.md's subject table)."""

from __future__ import annotations

from dataclasses import dataclass

from schemas import (
    CampaignEvent,
    DeadLetter,
    Measurement,
    Message,
    ModelDeclined,
    ModelTrained,
    Proposal,
    ReviewDecision,
    RunFailed,
    WorkOrder,
)

EVENT_MODELS: dict[str, type[Message]] = {
    "campaign": CampaignEvent,
    "proposal": Proposal,
    "review": ReviewDecision,
    "work": WorkOrder,
    "measurement": Measurement,
    "run_failed": RunFailed,
    "model": ModelTrained,
    "model_declined": ModelDeclined,
}
"""Event kind (the subject token after `evt`) -> message model."""

KIND_OF_MODEL: dict[type[Message], str] = {model: kind for kind, model in EVENT_MODELS.items()}


@dataclass(frozen=True)
class Subjects:
    """All subjects and stream names of one namespace."""

    ns: str = "fluxlab"

    def event(self, kind: str, campaign_id: str) -> str:
        """`<ns>.evt.<kind>.<cid>`."""
        return f"{self.ns}.evt.{kind}.{campaign_id}"

    def events(self, kind: str = "*", campaign_id: str = "*") -> str:
        """Wildcard over events."""
        return f"{self.ns}.evt.{kind}.{campaign_id}"

    @property
    def all_events(self) -> str:
        return f"{self.ns}.evt.>"

    def robot(self, station: str) -> str:
        """Work queue of one robot station."""
        return f"{self.ns}.work.robot.{station}"

    @property
    def bench(self) -> str:
        return f"{self.ns}.work.bench"

    @property
    def all_work(self) -> str:
        return f"{self.ns}.work.>"

    def rpc(self, service: str, verb: str) -> str:
        """Request/reply endpoint subject."""
        return f"{self.ns}.rpc.{service}.{verb}"

    @property
    def predict(self) -> str:
        return f"{self.ns}.rpc.predict"

    def dlq(self, service: str) -> str:
        """Dead-letter subject of one service."""
        return f"{self.ns}.dlq.{service}"

    @property
    def all_dlq(self) -> str:
        return f"{self.ns}.dlq.>"

    @property
    def events_stream(self) -> str:
        return f"{self.ns.upper()}_EVENTS"

    @property
    def work_stream(self) -> str:
        return f"{self.ns.upper()}_WORK"

    @property
    def dlq_stream(self) -> str:
        return f"{self.ns.upper()}_DLQ"

    @property
    def models_bucket(self) -> str:
        """Object store bucket of model artifacts (`fluxlab-models` in the default namespace)."""
        return f"{self.ns}-models"

    def model_for_subject(self, subject: str) -> type[Message]:
        """Which model a subject carries; raises KeyError for a subject outside the contract."""
        parts = subject.split(".")
        if len(parts) >= 4 and parts[1] == "evt":
            return EVENT_MODELS[parts[2]]
        if len(parts) >= 3 and parts[1] == "work":
            return WorkOrder
        if len(parts) >= 3 and parts[1] == "dlq":
            return DeadLetter
        raise KeyError(subject)
