"""What the optimizer knows about one campaign, folded from events (idempotent by message id)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from schemas import (
    CampaignSpec,
    Design,
    Measurement,
    MeasurementSource,
    Message,
    ModelTrained,
    Proposal,
    ProposalStatus,
    ReviewDecision,
    RunFailed,
    WorkOrder,
    WorkOrderStatus,
)
from services.domain import lifecycle
from services.domain.acceptance import Gate
from services.domain.floor import GrowthFloor, below_floor, best_meeting_floor, growth_floor, meeting_floor
from services.domain.objective import with_objective
from services.domain.posterior import Posterior, Prior, noise_estimate, posterior_best, priors_from_proposals
from services.optimizer.context import History
from services.optimizer.replicates import REPLICATE


@dataclass
class CampaignLedger:
    """Proposals and their fate, measurements, failures and model versions of one campaign.

    Measurements pass the shared acceptance rule (`services.domain.acceptance`): one quoting a run never
    issued for this campaign (or issued to another station) is held or refused, and never counts towards
    the budget, the models' data or the best design.
    """

    spec: CampaignSpec
    seen: set[str] = field(default_factory=set)
    proposals: dict[str, Proposal] = field(default_factory=dict)
    status: dict[str, ProposalStatus] = field(default_factory=dict)
    run_to_proposal: dict[str, str] = field(default_factory=dict)
    measurements: dict[str, Measurement] = field(default_factory=dict)
    failures: dict[str, RunFailed] = field(default_factory=dict)
    model_version: int = 0
    model_n_train: int = 0
    last_measured_at: float = 0.0
    opened_at: float = field(default_factory=time.monotonic)
    """When this ledger was opened (a campaign seeded from a base model waits for it from then on)."""
    completed: bool = False
    gate: Gate = field(default_factory=Gate)

    def apply(self, model: Message) -> bool:
        """Fold one event in; returns False when it was already applied."""
        if model.id in self.seen:
            return False
        self.seen.add(model.id)
        if isinstance(model, Proposal):
            self.proposals[model.id] = model
            self.status.setdefault(model.id, ProposalStatus.PENDING)
        elif isinstance(model, ReviewDecision):
            self._advance(model.proposal_id, model.action)
        elif isinstance(model, WorkOrder):
            self.run_to_proposal[model.run_id] = model.proposal_id
            self._accepted(self.gate.offer(model))
        elif isinstance(model, Measurement):
            self._accepted(self.gate.offer(model))
        elif isinstance(model, RunFailed):
            self.failures[model.run_id] = model
            self._resolve_run(model.run_id, WorkOrderStatus.FAILED)
        elif isinstance(model, ModelTrained) and model.version > self.model_version:
            self.model_version, self.model_n_train = model.version, model.n_train
        return True

    def _accepted(self, measurements: list[Measurement]) -> None:
        for m in measurements:  # the target's reading is the objective's value (over time when the spec asks)
            self.measurements[m.run_id] = with_objective(self.spec, m)
            self._resolve_run(m.run_id, WorkOrderStatus.MEASURED)
            self.last_measured_at = time.monotonic()

    def _resolve_run(self, run_id: str, outcome: WorkOrderStatus) -> None:
        proposal_id = self.run_to_proposal.get(run_id)
        if proposal_id is not None:
            self._advance(proposal_id, outcome)

    def _advance(self, proposal_id: str, event: lifecycle.ProposalEvent) -> None:
        """Fold an event into a proposal's status (a proposal not seen yet counts as pending)."""
        self.status[proposal_id] = lifecycle.advance(self.status.get(proposal_id, ProposalStatus.PENDING), event)

    @property
    def pending(self) -> list[Proposal]:
        """Proposals neither measured, failed, rejected nor amended."""
        return [p for pid, p in self.proposals.items() if not lifecycle.is_resolved(self.status.get(pid))]

    @property
    def used(self) -> int:
        """Experiments spent: runs measured or failed (a failure counts once its run is known to be issued here).

        Imported measurements (`fluxlab import measurements`: what the lab measured before) train the model and
        may be the best design, but were not run by this campaign and spend none of its budget.
        """
        run = sum(1 for m in self.measurements.values() if m.source != MeasurementSource.IMPORT)
        return run + sum(1 for run_id in self.failures if run_id in self.gate.issued)

    @property
    def next_round(self) -> int:
        """Round number of the next batch."""
        return 1 + max((p.round for p in self.proposals.values()), default=0)

    def capacity(self) -> int:
        """How many proposals may be added now (batch size and budget both respected)."""
        pending = len(self.pending)
        return max(0, min(self.spec.batch_size - pending, self.spec.budget - self.used - pending))

    def observations(self) -> list[tuple[Design, float]]:
        """Measured designs with their objective value."""
        target = self.spec.objective.target
        out = []
        for m in self.measurements.values():
            value = m.readout(target)
            if value is not None:
                out.append((m.design, value))
        return out

    def history(self) -> History:
        """The optimizer core's view."""
        rejected = {self.proposals[pid].design.key() for pid, s in self.status.items()
                    if s == ProposalStatus.REJECTED and pid in self.proposals}
        failed_runs = {self.run_to_proposal.get(r) for r in self.failures}
        failed = [self.proposals[pid].design for pid in failed_runs if pid in self.proposals]
        measurements = list(self.measurements.values())
        noise = noise_estimate(self.spec.objective.target, measurements)
        return History(measured=self.observations(), pending=[p.design for p in self.pending], failed=failed,
                       rejected_keys=rejected, origins=self.origins(),
                       noise_sd=noise.sd if noise.sd is not None and noise.source.startswith("median sd") else None,
                       below_floor=below_floor(measurements, self.growth_floor()), pareto_points=self.pareto_points())

    def origins(self) -> dict[str, str]:
        """Design key -> the strategy of the proposal that first put it in the lab (a replicate is not an origin)."""
        out: dict[str, str] = {}
        for p in sorted(self.proposals.values(), key=lambda p: p.round):
            if p.strategy != REPLICATE:
                out.setdefault(p.design.key(), p.strategy)
        return out

    def priors(self) -> dict[str, Prior]:
        """Design key -> the model's prediction published with its first proposal (`services.domain.posterior`)."""
        return priors_from_proposals(self.spec.objective.target,
                                     ({"design": p.design, "round": p.round,
                                       "predicted": {k: v.model_dump() for k, v in p.predicted.items()}}
                                      for p in self.proposals.values()))

    def pareto_points(self) -> list[tuple[Design, float, float]]:
        """Two-objective campaigns: measured designs meeting the growth floor with both readings (else none)."""
        first, second = self.spec.objective.target, self.spec.objective.second_target
        if not second:
            return []
        measured = meeting_floor(self.spec, list(self.measurements.values()), self.growth_floor())
        return [(m.design, a, b) for m in measured
                if (a := m.readout(first)) is not None and (b := m.readout(second)) is not None]

    def growth_floor(self) -> GrowthFloor:
        """The growth floor on measured growth (`services.domain.floor`)."""
        return growth_floor(self.spec, list(self.measurements.values()))

    def best(self) -> tuple[float | None, Design | None]:
        """Best measured value and design (by the objective's sense) among designs meeting the growth floor."""
        value, best = best_meeting_floor(self.spec, list(self.measurements.values()), self.growth_floor())
        return value, best.design if best is not None else None

    def best_posterior(self) -> Posterior | None:
        """The campaign's named best: the best posterior among designs meeting the floor (`domain.posterior`)."""
        return posterior_best(self.spec, list(self.measurements.values()), self.priors(), self.growth_floor())

    @property
    def budget_spent(self) -> bool:
        """Every experiment of the budget has a result."""
        return self.used >= self.spec.budget and not self.pending
