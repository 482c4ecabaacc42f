"""The one validity rule for measurements, applied by every consumer on the same issued-work record.

A robot or bench measurement is accepted only when it quotes a run id issued (by a WorkOrder event)
for its campaign and, for a robot, to its station. Until the run's work order has been seen the
measurement is *waiting*: it is held, never used, and judged again when the order arrives. The tracker
(the system of record) dead-letters a refused or long-unknown measurement with the reason; the predictor,
the optimizer's ledger and state replays fold only accepted ones. Knows nothing of NATS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from schemas import Measurement, MeasurementSource, WorkOrder


class Verdict(StrEnum):
    """What the rule says about one measurement."""

    ACCEPTED = "accepted"
    WAITING = "waiting"
    """Its run's work order has not been seen (yet): hold it, use it not."""
    REFUSED = "refused"


@dataclass(frozen=True)
class IssuedRun:
    """What a work order says about its run."""

    run_id: str
    campaign_id: str
    station: str | None
    proposal_id: str

    @classmethod
    def of(cls, order: WorkOrder) -> IssuedRun:
        """The issued-run record of a work order."""
        return cls(run_id=order.run_id, campaign_id=order.campaign_id, station=order.station,
                   proposal_id=order.proposal_id)


@dataclass(frozen=True)
class Judgement:
    """A verdict with the field and reason (empty when accepted)."""

    verdict: Verdict
    field: str = ""
    reason: str = ""


ACCEPT = Judgement(Verdict.ACCEPTED)


def judge(m: Measurement, issued: IssuedRun | None) -> Judgement:
    """The rule: imports stand alone; a robot/bench measurement must match the run issued for it."""
    if m.source == MeasurementSource.IMPORT:
        return ACCEPT
    if issued is None:
        return Judgement(Verdict.WAITING, "run_id", f"run id '{m.run_id}' was never issued")
    if issued.campaign_id != m.campaign_id:
        return Judgement(Verdict.REFUSED, "campaign_id", f"run '{m.run_id}' belongs to campaign '{issued.campaign_id}'")
    if m.source == MeasurementSource.ROBOT and issued.station != m.station:
        return Judgement(Verdict.REFUSED, "station",
                         f"run '{m.run_id}' was issued to station '{issued.station}', not '{m.station}'")
    return ACCEPT


@dataclass
class Gate:
    """In-memory form of the rule for event folders: tracks issued runs, holds waiting measurements.

    `offer` returns the measurements that became accepted (the offered one, or held ones a work order
    released); refused ones are counted and dropped.
    """

    issued: dict[str, IssuedRun] = field(default_factory=dict)
    held: dict[str, dict[str, Measurement]] = field(default_factory=dict)
    """run id -> message id -> measurement waiting for that run's work order."""
    refused: dict[str, Judgement] = field(default_factory=dict)
    """message id -> why it was refused."""

    def offer(self, model: WorkOrder | Measurement) -> list[Measurement]:
        """Fold a work order or a measurement; returns the measurements accepted by this step."""
        if isinstance(model, WorkOrder):
            self.issued.setdefault(model.run_id, IssuedRun.of(model))
            waiting = self.held.pop(model.run_id, {})
            return [m for m in waiting.values() if self._decide(m)]
        return [model] if self._decide(model) else []

    def _decide(self, m: Measurement) -> bool:
        judgement = judge(m, self.issued.get(m.run_id))
        if judgement.verdict == Verdict.WAITING:
            self.held.setdefault(m.run_id, {})[m.id] = m
        elif judgement.verdict == Verdict.REFUSED:
            self.refused[m.id] = judgement
        return judgement.verdict == Verdict.ACCEPTED

    @property
    def n_held(self) -> int:
        """Measurements waiting for their work order."""
        return sum(len(v) for v in self.held.values())
