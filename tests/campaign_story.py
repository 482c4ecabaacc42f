"""A small campaign as the tracker records it: three rounds, a model, predictions, a repeated design.

Round 0 (no model yet): wild type and the three single knockouts. Round 1, predicted by model v1 against the
incumbent 1.5 (Δb2297): three designs clear 1.5 + 0.2 and three do not; the model calls 2 of its 3 positives
right. Round 2 (incumbent 2.5): one of four clears the bar, and Δb2297 is measured a second time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from factories import campaign_spec, created

from schemas import (
    CampaignSpec,
    Design,
    ExecutorKind,
    Measurement,
    Message,
    ModelTrained,
    Prediction,
    Proposal,
    Value,
    WorkOrder,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ROUNDS: list[list[tuple[Design, float, tuple[float, float] | None]]] = [
    [(Design(), 0.1, None), (Design(knockouts=["b1380"]), 1.0, None), (Design(knockouts=["b2297"]), 1.5, None),
     (Design(knockouts=["b0903"]), 0.8, None)],
    [(Design(knockouts=["b1380", "b2297"]), 2.5, (2.4, 0.2)), (Design(knockouts=["b1380", "b0903"]), 1.2, (1.9, 0.2)),
     (Design(knockouts=["b2297", "b0903"]), 2.2, (1.4, 0.3)),
     (Design(knockouts=["b2297"], expression={"b3956": 2.0}), 1.0, (1.0, 0.2)),
     (Design(knockouts=["b2297"], medium={"EX_o2_e": 5.0}), 2.0, (2.1, 0.2)),
     (Design(knockouts=["b1380"], expression={"b3956": 2.0}), 0.9, (0.8, 0.2))],
    [(Design(knockouts=["b1380", "b2297"], expression={"b3956": 2.0}), 2.9, (2.8, 0.2)),
     (Design(knockouts=["b2297"]), 1.6, (1.5, 0.2)), (Design(knockouts=["b0903"], expression={"b3956": 2.0}), 0.7,
                                                     (0.9, 0.2)),
     (Design(knockouts=["b1380", "b0903"], medium={"EX_o2_e": 5.0}), 1.1, (1.3, 0.2))],
]
"""Per round: (design, measured succinate, predicted (mean, sd) or None before the first model)."""


def story_spec(campaign_id: str = "c1") -> CampaignSpec:
    """The story's spec (the factories' succinate campaign)."""
    return campaign_spec(campaign_id)


def story_events(campaign_id: str = "c1") -> list[tuple[str, Message]]:
    """(event kind, message) in the order they happened."""
    events: list[tuple[str, Message]] = [("campaign", created(story_spec(campaign_id)))]
    clock = T0
    for round_, rows in enumerate(ROUNDS):
        if round_ == 1:
            events.append(("model", ModelTrained(id=f"{campaign_id}-model-1", campaign_id=campaign_id, version=1,
                                                 artifact="m1", model_kind="mlp", n_train=4, covers=4,
                                                 metrics={"val_r2": 0.5}, trained_at=clock)))
        for i, (design, _value, predicted) in enumerate(rows):
            pid, run = f"{campaign_id}-p{round_}-{i}", f"{campaign_id}-run{round_}-{i}"
            clock += timedelta(minutes=1)
            events.append(("proposal", Proposal(
                id=pid, campaign_id=campaign_id, round=round_, design=design, strategy="ga", created_at=clock,
                model_version=1 if predicted else None,
                predicted={"EX_succ_e": Prediction(mean=predicted[0], sd=predicted[1])} if predicted else {})))
            events.append(("work", WorkOrder(id=f"wo-{run}", campaign_id=campaign_id, run_id=run, proposal_id=pid,
                                             design=design, queue=ExecutorKind.ROBOT, station="s1")))
        for i, (design, value, _) in enumerate(rows):
            clock += timedelta(minutes=1)
            events.append(("measurement", Measurement(
                id=f"m-{campaign_id}-{round_}-{i}", campaign_id=campaign_id, run_id=f"{campaign_id}-run{round_}-{i}",
                design=design, station="s1", measured_at=clock, batch_id=f"b{round_}",
                growth_rate=Value(value=0.6), products={"EX_succ_e": Value(value=value)})))
    return events
