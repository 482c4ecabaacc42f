"""Deterministic ids and the work order of an approved design (pure: no NATS).

Every id derives from the proposal id, so a decision or work order re-published after a crash is the same
message and JetStream's duplicate window (and the tracker's own dedup by id) drops the copy.
"""

from __future__ import annotations

import hashlib

from schemas import AMENDED, CampaignSpec, Design, ExecutorKind, Proposal, TimeCourseRequest, WorkOrder
from services.runtime.subjects import Subjects


def decision_id(proposal_id: str) -> str:
    """The id of the (one, immutable) decision on a proposal."""
    return f"rev-{proposal_id}"[:128]


def work_order_id(proposal_id: str) -> str:
    """The id of the work order of an approved proposal."""
    return f"wo-{proposal_id}"[:128]


def run_id(proposal_id: str) -> str:
    """The run id the executor quotes in its measurement."""
    return "run-" + hashlib.sha256(proposal_id.encode()).hexdigest()[:16]


def amended_proposal_id(original: Proposal) -> str:
    """Id of the next version of a proposal (deterministic, so a retried amendment is the same message)."""
    suffix = f"-v{original.version + 1}"
    base = original.parent_id or original.id
    if len(base) + len(suffix) > 128:
        base = hashlib.sha256(base.encode()).hexdigest()[:32]
    return base + suffix


def amended_proposal(original: Proposal, design: Design) -> Proposal:
    """The reviewer's edit as a new proposal version (same round; predictions no longer apply)."""
    return Proposal(
        id=amended_proposal_id(original), campaign_id=original.campaign_id, round=original.round, design=design,
        predicted={}, strategy=AMENDED.format(), acquisition=None, feasible=True, model_version=original.model_version,
        version=original.version + 1, parent_id=original.id,
    )


def work_order_for(proposal: Proposal, spec: CampaignSpec) -> WorkOrder:
    """The work order that sends an approved proposal to the campaign's executor."""
    executor = spec.executor
    simulator = spec.simulator
    readouts = [spec.objective.target] + (["growth"] if spec.objective.target != "growth" else [])
    if spec.objective.second_target and spec.objective.second_target not in readouts:
        readouts.append(spec.objective.second_target)
    extra: dict[str, object] = {}
    if simulator is not None:
        extra = {"profile": simulator.profile, "function": simulator.expression, "noise": simulator.noise,
                 "failure_rate": simulator.failure_rate}
    return WorkOrder(
        id=work_order_id(proposal.id), campaign_id=proposal.campaign_id, run_id=run_id(proposal.id),
        proposal_id=proposal.id, design=proposal.design, queue=executor.kind,
        station=executor.station if executor.kind == ExecutorKind.ROBOT else None,
        organism=spec.organism.model, readouts=readouts, time_course=batch_request(spec),
        **extra,  # type: ignore[arg-type]
    )


def batch_request(spec: CampaignSpec) -> TimeCourseRequest | None:
    """The spec's time-course request, also following the objective's product (`objective.over_time`)."""
    request, over = spec.readout.time_course, spec.objective.over_time
    if request is None or over is None or over.metabolite in request.initial_mM or over.metabolite in request.tracked:
        return request
    return request.model_copy(update={"tracked": [*request.tracked, over.metabolite]})


def queue_subject(subjects: Subjects, order: WorkOrder) -> str:
    """`<ns>.work.robot.<station>` or `<ns>.work.bench`."""
    if order.queue == ExecutorKind.ROBOT:
        return subjects.robot(order.station or "default")
    return subjects.bench
