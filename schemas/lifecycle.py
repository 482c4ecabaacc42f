"""The lifecycle of a proposal and of its work order, and where a proposal came from.

The values are the strings stored in the tracker's tables and sent in JSON; the moves between them are one
pure fold in `services/domain/lifecycle.py` (used by the tracker, the optimizer's ledger and the review page).

A proposal::

                  approve             measured | failed
    PENDING ─────────────────► APPROVED ─────────────────┐
       │                                                 ▼
       ├──── measured | failed (no review step) ───► MEASURED ◄──┐ a later outcome of the
       │                                             FAILED ◄────┘ same run replaces it
       ├──── reject ─────────────────────────────► REJECTED
       └──── amend ──────────────────────────────► AMENDED    (the edit is a new proposal:
                                                               version + 1, origin "amended")

    resolved (no longer pending an outcome): MEASURED, FAILED, REJECTED, AMENDED.
    Any other event leaves the status as it is (a decision on a decided proposal, an outcome of a
    rejected one).

A work order (its status after MEASURED or FAILED is the run's outcome, whatever it was before)::

    ISSUED ──── measured ────► MEASURED
       └─────── failed ──────► FAILED      (a later outcome of the run replaces an earlier one)

An origin names the generator of a proposal and, for a composite planner, the planner it ran inside:
``"ga"``, ``"bo"``, ``"random"``, ``"control"``, ``"centre"`` (a black-box campaign's centre point),
``"amended"`` (a reviewer's edit), ``"hybrid:local"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ProposalStatus(StrEnum):
    """Where a proposal stands (stored as this string)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    AMENDED = "amended"
    MEASURED = "measured"
    FAILED = "failed"


class WorkOrderStatus(StrEnum):
    """Where a work order stands (stored as this string); MEASURED and FAILED are also its run's outcome, the
    event that moves its proposal."""

    ISSUED = "issued"
    MEASURED = "measured"
    FAILED = "failed"


AMENDED_SOURCE = "amended"
"""The origin of a reviewer's edited design."""


@dataclass(frozen=True)
class Origin:
    """Where a proposal came from: its generator (`source`), inside a composite `planner` when there is one.

    The wire form is ``"<planner>:<source>"`` or ``"<source>"`` (the `strategy` field of a proposal);
    `parse` and `format` are inverse: ``Origin.parse(s).format() == s`` for every string.
    """

    source: str
    planner: str | None = None

    def __post_init__(self) -> None:
        if self.planner is not None and (not self.planner or ":" in self.planner):
            raise ValueError(f"planner: {self.planner!r} must be a non-empty name without ':'")

    @classmethod
    def parse(cls, text: str) -> Origin:
        """The origin a wire string names (total: a string without a planner part is all source)."""
        planner, sep, source = text.partition(":")
        if sep and planner and source:
            return cls(source=source, planner=planner)
        return cls(source=text)

    def format(self) -> str:
        """The wire string."""
        return f"{self.planner}:{self.source}" if self.planner is not None else self.source

    def __str__(self) -> str:
        return self.format()

    def within(self, planner: str) -> Origin:
        """The same generator, run inside `planner`."""
        return Origin(source=self.source, planner=planner)

    @property
    def is_amended(self) -> bool:
        """A reviewer's edit (approved by its reviewer already), not an optimizer's proposal."""
        return self.planner is None and self.source == AMENDED_SOURCE


AMENDED = Origin(AMENDED_SOURCE)
