"""The proposal lifecycle fold (every transition, the resolved set, ignored events) and typed origins."""

from __future__ import annotations

import pytest

from schemas import (
    AMENDED,
    Design,
    ErrorDetail,
    FieldError,
    Origin,
    Proposal,
    ProposalStatus,
    ReviewAction,
    WorkOrderStatus,
)
from services.domain import lifecycle
from services.domain.designcheck import DesignRefused
from services.domain.organism.model import OrganismError
from services.predictor.errors import PredictorError
from services.review.bench import BenchInputError
from services.review.forms import DesignInputError
from services.review.gate import ReviewRefused
from services.runtime.consumer import InvalidMessage, NotYetValid, TransientError
from services.runtime.rpc import RpcFailed
from services.runtime.service import RpcError

P = ProposalStatus
EVENTS: list[lifecycle.ProposalEvent] = [*ReviewAction, WorkOrderStatus.MEASURED, WorkOrderStatus.FAILED]

# (from, event) -> to, for every pair; anything not listed leaves the status as it is.
MOVES = {
    (P.PENDING, ReviewAction.APPROVE): P.APPROVED,
    (P.PENDING, ReviewAction.REJECT): P.REJECTED,
    (P.PENDING, ReviewAction.AMEND): P.AMENDED,
    (P.PENDING, WorkOrderStatus.MEASURED): P.MEASURED,
    (P.PENDING, WorkOrderStatus.FAILED): P.FAILED,
    (P.APPROVED, WorkOrderStatus.MEASURED): P.MEASURED,
    (P.APPROVED, WorkOrderStatus.FAILED): P.FAILED,
    (P.MEASURED, WorkOrderStatus.MEASURED): P.MEASURED,
    (P.MEASURED, WorkOrderStatus.FAILED): P.FAILED,
    (P.FAILED, WorkOrderStatus.MEASURED): P.MEASURED,
    (P.FAILED, WorkOrderStatus.FAILED): P.FAILED,
}


def test_the_stored_strings_stay_as_they_were() -> None:
    assert [s.value for s in ProposalStatus] == ["pending", "approved", "rejected", "amended", "measured", "failed"]
    assert [s.value for s in WorkOrderStatus] == ["issued", "measured", "failed"]
    assert ProposalStatus.PENDING == "pending" and f"{ProposalStatus.AMENDED}" == "amended"


@pytest.mark.parametrize("status", list(ProposalStatus))
@pytest.mark.parametrize("event", EVENTS)
def test_every_transition(status: ProposalStatus, event: lifecycle.ProposalEvent) -> None:
    expected = MOVES.get((status, event), status)
    assert lifecycle.advance(status, event) == expected
    moves = status in lifecycle.moves_from(event)
    assert moves == ((status, event) in MOVES)
    if moves:
        assert lifecycle.target(event) == expected


def test_review_decisions_apply_only_to_pending_proposals() -> None:
    for action in ReviewAction:
        assert lifecycle.moves_from(action) == {P.PENDING}
    assert lifecycle.advance(P.MEASURED, ReviewAction.APPROVE) == P.MEASURED  # a late approval undoes nothing
    assert lifecycle.advance(P.REJECTED, WorkOrderStatus.MEASURED) == P.REJECTED


def test_resolved_set() -> None:
    assert {P.MEASURED, P.FAILED, P.REJECTED, P.AMENDED} == lifecycle.RESOLVED
    assert not lifecycle.is_resolved(P.PENDING) and not lifecycle.is_resolved(P.APPROVED)
    assert not lifecycle.is_resolved(None)
    assert lifecycle.is_resolved("rejected")  # a status read back from the database as a plain string
    resolved_by = {lifecycle.target(e) for e in EVENTS} - {P.APPROVED}
    assert resolved_by == lifecycle.RESOLVED  # every event but an approval resolves a proposal


def test_a_fold_over_events_in_order() -> None:
    status = P.PENDING
    for event in (ReviewAction.APPROVE, WorkOrderStatus.FAILED, WorkOrderStatus.MEASURED, ReviewAction.REJECT):
        status = lifecycle.advance(status, event)
    assert status == P.MEASURED


def test_an_issued_work_order_moves_no_proposal() -> None:
    assert lifecycle.moves_from(WorkOrderStatus.ISSUED) == frozenset()
    for status in ProposalStatus:
        assert lifecycle.advance(status, WorkOrderStatus.ISSUED) == status
    with pytest.raises(KeyError):
        lifecycle.target(WorkOrderStatus.ISSUED)


@pytest.mark.parametrize("text", ["ga", "bo", "random", "control", "amended", "hybrid:ga", "hybrid:local",
                                  "hybrid:bo", "", ":ga", "hybrid:", "a:b:c", "a::b"])
def test_origin_round_trip(text: str) -> None:
    assert Origin.parse(text).format() == text
    assert str(Origin.parse(text)) == text


def test_origin_parts() -> None:
    assert Origin.parse("hybrid:local") == Origin(source="local", planner="hybrid")
    assert Origin.parse("ga") == Origin(source="ga")
    assert Origin.parse("ga").within("hybrid").format() == "hybrid:ga"
    origin = Origin(source="bo", planner="hybrid")
    assert Origin.parse(origin.format()) == origin
    assert AMENDED.format() == "amended" and AMENDED.is_amended
    assert not Origin.parse("hybrid:amended").is_amended and not Origin.parse("ga").is_amended
    with pytest.raises(ValueError, match="planner"):
        Origin(source="ga", planner="a:b")
    with pytest.raises(ValueError, match="planner"):
        Origin(source="ga", planner="")


def test_a_proposal_reads_its_origin() -> None:
    proposal = Proposal(id="p1", campaign_id="c1", round=1, design=Design(knockouts=["b0001"]), strategy="hybrid:ga")
    assert proposal.origin == Origin(source="ga", planner="hybrid")
    assert proposal.model_dump()["strategy"] == "hybrid:ga"


@pytest.mark.parametrize("cls", [InvalidMessage, NotYetValid, BenchInputError, ReviewRefused, DesignInputError,
                                 PredictorError, DesignRefused, OrganismError, RpcError])
def test_field_errors_share_one_shape(cls: type[FieldError]) -> None:
    exc = cls("design.knockouts[0]", "unknown gene")
    assert isinstance(exc, FieldError)
    assert str(exc) == "design.knockouts[0]: unknown gene"
    assert (exc.field, exc.reason) == ("design.knockouts[0]", "unknown gene")


def test_field_errors_keep_their_bases() -> None:
    for cls in (BenchInputError, DesignInputError, PredictorError, DesignRefused, OrganismError):
        assert issubclass(cls, ValueError)
    assert issubclass(NotYetValid, TransientError)
    assert RpcError("f", "r").detail.model_dump() == {"field": "f", "reason": "r"}


def test_rpc_failed_is_a_field_error() -> None:
    exc = RpcFailed(ErrorDetail(field="campaign_id", reason="unknown"))
    assert isinstance(exc, FieldError) and str(exc) == "campaign_id: unknown"
    assert exc.detail.field == exc.field == "campaign_id"
