"""Request/reply models and endpoints of the review gate `<ns>.rpc.review.{list,approve,reject,amend}`."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from schemas import Design, ProposalStatus, WireModel
from schemas.rpc import RpcSpec


class Credentials(WireModel):
    """A reviewer's user name and password (checked against the reviewers file on every action)."""

    user: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)


class DecisionRequest(WireModel):
    """Common part of approve / reject / amend."""

    credentials: Credentials
    proposal_id: str = Field(min_length=1, max_length=128)
    campaign_id: str | None = Field(default=None, max_length=128, description="Speeds up the lookup; optional.")
    reason: str = Field(default="", max_length=4000)


class ApproveRequest(DecisionRequest):
    """Approve a pending proposal: it is dispatched to the campaign's executor."""

    SCHEMA = "review_approve_request.v1"


class RejectRequest(DecisionRequest):
    """Reject a pending proposal; the reason is required."""

    SCHEMA = "review_reject_request.v1"

    @field_validator("reason")
    @classmethod
    def _reason_given(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a rejection needs a reason")
        return value.strip()


class AmendRequest(DecisionRequest):
    """Replace a pending proposal's design: version + 1 is published, approved and dispatched."""

    SCHEMA = "review_amend_request.v1"

    design: Design


class ListRequest(WireModel):
    """Proposals (with their decisions) of one campaign, or one proposal anywhere."""

    SCHEMA = "review_list_request.v1"

    campaign_id: str | None = Field(default=None, max_length=128)
    proposal_id: str | None = Field(default=None, max_length=128)
    status: str | None = Field(default=ProposalStatus.PENDING.value, max_length=32, description="None = every status.")


class DecisionReply(WireModel):
    """What an action did: the decision, the work order dispatched, and (amend) the new proposal version."""

    SCHEMA = "review_decision_reply.v1"

    decision: dict[str, Any]
    work_order: dict[str, Any] | None = None
    amended_proposal: dict[str, Any] | None = None
    approval: dict[str, Any] | None = Field(default=None, description="Amend: the approval of the new version.")


class ListReply(WireModel):
    """Proposals (tracker records) and the decisions on them."""

    SCHEMA = "review_list_reply.v1"

    proposals: list[dict[str, Any]]
    reviews: list[dict[str, Any]]


REVIEW_LIST = RpcSpec("reviewRpc", "list", ListRequest, ListReply)
REVIEW_APPROVE = RpcSpec("reviewRpc", "approve", ApproveRequest, DecisionReply)
REVIEW_REJECT = RpcSpec("reviewRpc", "reject", RejectRequest, DecisionReply)
REVIEW_AMEND = RpcSpec("reviewRpc", "amend", AmendRequest, DecisionReply)
REVIEW = (REVIEW_LIST, REVIEW_APPROVE, REVIEW_REJECT, REVIEW_AMEND)
"""The review gate's endpoints (`<ns>.rpc.review.<verb>`), request model in, reply model out."""
