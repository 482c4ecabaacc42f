"""The one fold of a proposal's lifecycle: which event moves which status where (pure; states drawn in
`schemas/lifecycle.py`).

The tracker (SQL updates guarded by `moves_from`), the optimizer's ledger (`advance` in memory) and the review
page (`target`, for the words it shows) all use this table, so they agree on every status.
"""

from __future__ import annotations

from collections.abc import Mapping

from schemas import ReviewAction
from schemas.lifecycle import ProposalStatus, WorkOrderStatus

ProposalEvent = ReviewAction | WorkOrderStatus
"""What can happen to a proposal: a review decision on it, or its work order reaching a status (its run's
outcome, MEASURED or FAILED; ISSUED moves nothing: the approval before it did)."""

_P = ProposalStatus
_RUN_OPEN = frozenset({_P.PENDING, _P.APPROVED, _P.MEASURED, _P.FAILED})

TRANSITIONS: Mapping[ProposalEvent, tuple[frozenset[ProposalStatus], ProposalStatus]] = {
    ReviewAction.APPROVE: (frozenset({_P.PENDING}), _P.APPROVED),
    ReviewAction.REJECT: (frozenset({_P.PENDING}), _P.REJECTED),
    ReviewAction.AMEND: (frozenset({_P.PENDING}), _P.AMENDED),
    WorkOrderStatus.MEASURED: (_RUN_OPEN, _P.MEASURED),
    WorkOrderStatus.FAILED: (_RUN_OPEN, _P.FAILED),
}
"""event -> (the statuses it moves from, the status it moves to); from any other status it is ignored."""

_STILL: tuple[frozenset[ProposalStatus], None] = (frozenset(), None)

RESOLVED: frozenset[ProposalStatus] = frozenset({_P.MEASURED, _P.FAILED, _P.REJECTED, _P.AMENDED})
"""Statuses of proposals no longer waiting for a decision or a result."""


def advance(status: ProposalStatus, event: ProposalEvent) -> ProposalStatus:
    """The status of a proposal in `status` after `event` (unchanged where the event does not apply)."""
    sources, to = TRANSITIONS.get(event, _STILL)
    return to if to is not None and status in sources else status


def moves_from(event: ProposalEvent) -> frozenset[ProposalStatus]:
    """The statuses `event` moves a proposal out of (a guard for a bulk update; empty: it moves none)."""
    return TRANSITIONS.get(event, _STILL)[0]


def target(event: ProposalEvent) -> ProposalStatus:
    """The status `event` moves a proposal to (KeyError for an event that moves none, ISSUED)."""
    return TRANSITIONS[event][1]


def is_resolved(status: ProposalStatus | str | None) -> bool:
    """Whether a proposal in `status` waits for nothing more (None: unknown, so not resolved)."""
    return status in RESOLVED

