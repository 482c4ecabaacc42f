"""The optimizer's side of the model handshake: which measurements the predictor has answered for.

The predictor answers each campaign's accepted measurements with a `ModelTrained` (whose `covers` counts
the measurements it accounts for) or a `ModelDeclined` (too few to train on, or training failed). The
optimizer plans a batch once the answer covers every measurement its ledger holds, or once the deadline
`model_wait_s` after the round's last measurement has passed (or no predictor answers its ping): then it
plans with the model at hand. No bare thresholds are shared between the two services.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas import Message, ModelDeclined, ModelTrained
from services.optimizer.ledger import CampaignLedger


@dataclass
class ModelWatch:
    """Per campaign, how many accepted measurements the predictor's latest answer covers."""

    covered: dict[str, int] = field(default_factory=dict)

    def apply(self, model: Message) -> bool:
        """Fold a model event; True when it covers more than before (a waiting campaign may plan now)."""
        if isinstance(model, ModelTrained):
            covers = model.covers if model.covers is not None else model.n_train
        elif isinstance(model, ModelDeclined):
            covers = model.covers
        else:
            return False
        if covers <= self.covered.get(model.campaign_id, -1):
            return False
        self.covered[model.campaign_id] = covers
        return True

    def answered(self, campaign_id: str, ledger: CampaignLedger) -> bool:
        """Has the predictor answered (trained on or declined) every measurement the ledger holds?

        A campaign seeded from a base model (`CampaignSpec.base_model`) expects an answer before its first
        measurement too: the base model, announced as its first version, plans the first batch.
        """
        nothing = -1 if ledger.spec.base_model else 0
        return self.covered.get(campaign_id, nothing) >= len(ledger.measurements)

    def deadline_passed(self, ledger: CampaignLedger, now: float, wait_s: float) -> bool:
        """Has the deadline `wait_s` after the round's last measurement (or the seeded campaign's opening) passed?"""
        since = max(ledger.last_measured_at, ledger.opened_at if ledger.spec.base_model else 0.0)
        return now - since >= wait_s

    def waiting(self, campaign_id: str, ledger: CampaignLedger, now: float, wait_s: float) -> bool:
        """Wait for the model: it has not answered for the ledger's measurements and the deadline is ahead."""
        return not self.answered(campaign_id, ledger) and not self.deadline_passed(ledger, now, wait_s)
