"""The review gate: auto policies, human decisions and dispatch to the work queues.

Every decision is published before its work order; the work order is recorded on `<ns>.evt.work.<cid>` before
it is put on its queue (the tracker rejects measurements quoting a run id that was never issued). Ids derive
from the proposal id, so a retried step is a duplicate JetStream drops.

Amend: the reviewer's edited design becomes a new proposal version (version + 1, `parent_id` = original,
same round, strategy "amended"); the original gets an `amend` decision, and the new version is approved by
the same reviewer and dispatched at once. An amendment must pass the planner's growth-floor check (organism
model's growth corrected by the campaign's measured growth, `services.optimizer.feasibility`), else it is refused.
"""

from __future__ import annotations

import asyncio
from typing import Any

from schemas import (
    CampaignSpec,
    Design,
    ExecutorKind,
    FieldError,
    Proposal,
    ProposalStatus,
    ReviewAction,
    ReviewDecision,
    ReviewMode,
    WorkOrder,
)
from schemas.queries import ProposalRecord
from services.domain.designcheck import DesignRefused, check_design
from services.optimizer.feasibility import growth_floor_problem
from services.review import dispatch
from services.review.auth import Reviewer, ReviewerBook
from services.review.names import describe
from services.review.policy import evaluate
from services.review.tracker_client import TrackerClient
from services.runtime.bus import Bus
from services.runtime.campaigns import CampaignDirectory
from services.runtime.consumer import InvalidMessage


class ReviewRefused(FieldError):
    """A review action that cannot be done: the field at fault and why."""


class ReviewGate:
    """Decides on proposals (policy or reviewer) and dispatches approved designs."""

    def __init__(self, bus: Bus, campaigns: CampaignDirectory, reviewers: ReviewerBook,
                 campaign_wait_s: float = 5.0) -> None:
        self.bus = bus
        self.campaigns = campaigns
        self.reviewers = reviewers
        self.tracker = TrackerClient(bus)
        self.campaign_wait_s = campaign_wait_s
        self._locks: dict[str, asyncio.Lock] = {}
        self._decided: set[str] = set()

    async def spec_of(self, campaign_id: str) -> CampaignSpec:
        """The campaign's spec; unknown campaigns raise InvalidMessage."""
        state = self.campaigns.get(campaign_id) or await self.campaigns.wait_for(campaign_id, self.campaign_wait_s)
        if state is None:
            raise InvalidMessage("campaign_id", f"unknown campaign '{campaign_id}'")
        return state.spec

    async def on_proposal(self, proposal: Proposal) -> ReviewDecision | None:
        """Auto mode: apply the policy, publish the decision, dispatch if approved. Human mode: wait."""
        spec = await self.spec_of(proposal.campaign_id)
        if spec.review.mode == ReviewMode.HUMAN or proposal.origin.is_amended:
            return None  # a reviewer decides (an amended version was approved by its reviewer already)
        outcome = evaluate(proposal, spec)
        approve, reason, meaning = outcome.approve, outcome.reason, outcome.meaning
        problem = await buildable_problem(proposal.design, spec)
        if approve and problem:
            approve, reason = False, f"cannot be built: {problem}"
            meaning = f"rejected {_named(proposal.design, spec)}: {reason}"
        decision = ReviewDecision(
            id=dispatch.decision_id(proposal.id), campaign_id=proposal.campaign_id, proposal_id=proposal.id,
            action=ReviewAction.APPROVE if approve else ReviewAction.REJECT,
            reviewer=f"policy:{spec.review.policy.value}", reason=reason, meaning=meaning,
        )
        await self.bus.publish_event(decision)
        if approve:
            await self.dispatch(proposal, spec)
        return decision

    async def dispatch(self, proposal: Proposal, spec: CampaignSpec) -> WorkOrder:
        """Record the work order on `evt.work`, then put it on its queue."""
        order = dispatch.work_order_for(proposal, spec)
        await self.bus.publish_event(order)
        await self.bus.publish(dispatch.queue_subject(self.bus.subjects, order), order)
        return order

    def authenticate(self, user: str, password: str) -> Reviewer:
        """The reviewer, or ReviewRefused for wrong credentials."""
        reviewer = self.reviewers.authenticate(user, password)
        if reviewer is None:
            raise ReviewRefused("credentials", "unknown reviewer or wrong password")
        return reviewer

    async def find_proposal(self, proposal_id: str, campaign_id: str | None = None) -> ProposalRecord:
        """The tracker's record of a proposal (with its status)."""
        candidates = [campaign_id] if campaign_id else list(self.campaigns.campaigns)
        for cid in candidates:
            for record in await self.tracker.proposals(cid):
                if record.id == proposal_id:
                    return record
        raise ReviewRefused("proposal_id", f"unknown proposal '{proposal_id}'")

    async def decide(self, reviewer: Reviewer, action: ReviewAction, proposal_id: str, *, reason: str = "",
                     campaign_id: str | None = None, design: Design | None = None) -> dict[str, Any]:
        """A reviewer's decision on a pending proposal; returns what was published (decision, work order, ...)."""
        if action == ReviewAction.REJECT and not reason.strip():
            raise ReviewRefused("reason", "a rejection needs a reason")
        if action == ReviewAction.AMEND and design is None:
            raise ReviewRefused("design", "an amendment needs the edited design")
        lock = self._locks.setdefault(proposal_id, asyncio.Lock())
        async with lock:
            record = await self.find_proposal(proposal_id, campaign_id)
            if proposal_id in self._decided or record.status != ProposalStatus.PENDING:
                status = "decided" if proposal_id in self._decided else record.status
                raise ReviewRefused("proposal_id", f"proposal '{proposal_id}' is already {status}; "
                                                   "decisions are immutable")
            proposal = Proposal.model_validate(record.model_dump(mode="json", include=set(Proposal.model_fields)))
            spec = await self.spec_of(proposal.campaign_id)
            if action == ReviewAction.AMEND:
                assert design is not None
                design = await _buildable(design, spec)
                await self._grows_enough(design, spec)
                result = await self._amend(reviewer, proposal, spec, design, reason)
            else:
                if action == ReviewAction.APPROVE:
                    await _buildable(proposal.design, spec)
                result = await self._approve_or_reject(reviewer, action, proposal, spec, reason)
            self._decided.add(proposal_id)
            return result

    def is_decided(self, proposal_id: str) -> bool:
        """Whether this gate decided the proposal (the tracker may not have recorded it yet)."""
        return proposal_id in self._decided

    async def wait_recorded(self, campaign_id: str, proposal_id: str, timeout_s: float = 3.0) -> bool:
        """Wait until the tracker no longer lists the proposal as pending (so a reloaded page is not stale)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            records = await self.tracker.proposals(campaign_id)
            if any(r.id == proposal_id and r.status != ProposalStatus.PENDING for r in records):
                return True
            await asyncio.sleep(0.05)
        return False

    async def _grows_enough(self, design: Design, spec: CampaignSpec) -> None:
        """Refuse an amendment the growth-floor filter rejects (corrected by the campaign's measured growth)."""
        if spec.is_function or spec.objective.growth_floor <= 0:
            return
        measurements = await self.tracker.measurements(spec.id)
        problem = await asyncio.to_thread(growth_floor_problem, design, spec, measurements)
        if problem is not None:
            raise ReviewRefused("design", problem)

    async def _publish_decision(self, decision: ReviewDecision) -> ReviewDecision:
        ack = await self.bus.publish_event(decision)
        if ack.duplicate:
            raise ReviewRefused("proposal_id", f"proposal '{decision.proposal_id}' was already decided; "
                                               "decisions are immutable")
        return decision

    async def _approve_or_reject(self, reviewer: Reviewer, action: ReviewAction, proposal: Proposal,
                                 spec: CampaignSpec, reason: str) -> dict[str, Any]:
        order = dispatch.work_order_for(proposal, spec)
        if action == ReviewAction.APPROVE:
            meaning = (f"{reviewer.display} approved building and measuring {_named(proposal.design, spec)} "
                       f"({_destination(order)}, run {order.run_id})")
        else:
            meaning = f"{reviewer.display} rejected {_named(proposal.design, spec)}: it will not be built"
        decision = await self._publish_decision(ReviewDecision(
            id=dispatch.decision_id(proposal.id), campaign_id=proposal.campaign_id, proposal_id=proposal.id,
            action=action, reviewer=reviewer.display, reason=reason.strip(), meaning=meaning,
        ))
        result: dict[str, Any] = {"decision": decision.model_dump(mode="json")}
        if action == ReviewAction.APPROVE:
            result["work_order"] = (await self.dispatch(proposal, spec)).model_dump(mode="json")
        return result

    async def _amend(self, reviewer: Reviewer, original: Proposal, spec: CampaignSpec, design: Design,
                     reason: str) -> dict[str, Any]:
        if design.key() == original.design.key():
            raise ReviewRefused("design", "the amended design is identical to the proposal; approve it instead")
        amended = dispatch.amended_proposal(original, design)
        amend = await self._publish_decision(ReviewDecision(
            id=dispatch.decision_id(original.id), campaign_id=original.campaign_id, proposal_id=original.id,
            action=ReviewAction.AMEND, reviewer=reviewer.display, reason=reason.strip(), amended_design=design,
            meaning=(f"{reviewer.display} replaced {_named(original.design, spec)} by {_named(design, spec)} "
                     f"(proposal version {amended.version}, {amended.id})"),
        ))
        await self.bus.publish_event(amended)
        approved = await self._approve_or_reject(reviewer, ReviewAction.APPROVE, amended, spec,
                                                 reason or "amended by the reviewer")
        return {"decision": amend.model_dump(mode="json"), "amended_proposal": amended.model_dump(mode="json"),
                "approval": approved["decision"], "work_order": approved["work_order"]}


async def buildable_problem(design: Design, spec: CampaignSpec) -> str | None:
    """'field: reason' when the design cannot be built in the campaign (search space, organism model)."""
    try:
        await asyncio.to_thread(check_design, design, spec)
    except DesignRefused as exc:
        return str(exc)
    return None


async def _buildable(design: Design, spec: CampaignSpec) -> Design:
    """The design with gene names resolved, or ReviewRefused naming the design field at fault."""
    try:
        return await asyncio.to_thread(check_design, design, spec)
    except DesignRefused as exc:
        raise ReviewRefused(f"design.{exc.field}", exc.reason) from None


def _named(design: Design, spec: CampaignSpec) -> str:
    """The design with gene names ('ΔldhA (b1380)')."""
    return describe(design, None if spec.is_function else spec.organism.model)


def _destination(order: WorkOrder) -> str:
    return f"robot station {order.station}" if order.queue == ExecutorKind.ROBOT else "bench"
