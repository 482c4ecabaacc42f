"""What a report is built from: a campaign's spec and its tracker records, read over the bus or from the database.

Both sources give the same record shapes (the tracker's RPC endpoints answer with `services.tracker.queries`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas import CampaignSpec, FieldError, Measurement, WorkOrderStatus, rpc
from schemas.queries import CampaignQuery
from services.runtime.bus import Bus

Records = list[dict[str, Any]]


class CampaignNotFound(FieldError):
    """The campaign is not in the tracker (field `campaign`, with the known ids in the reason)."""


@dataclass
class CampaignRecords:
    """A campaign's spec and everything the tracker holds about it (JSON records, oldest first)."""

    spec: CampaignSpec
    proposals: Records = field(default_factory=list)
    work_orders: Records = field(default_factory=list)
    measurements: Records = field(default_factory=list)
    reviews: Records = field(default_factory=list)
    models: Records = field(default_factory=list)

    def measured(self) -> list[Measurement]:
        """The measurements as messages, the target's reading the objective's value (`services.domain.objective`)."""
        from services.domain.objective import objective_view

        return objective_view(self.spec, [Measurement.model_validate(m) for m in self.measurements])

    @property
    def n_failed(self) -> int:
        """Runs that failed at the executor."""
        return sum(1 for w in self.work_orders if w["status"] == WorkOrderStatus.FAILED)


def unknown_campaign(campaign_id: str, known: list[str]) -> CampaignNotFound:
    """'unknown campaign 'x' (known: a, b)'."""
    return CampaignNotFound("campaign", f"unknown campaign '{campaign_id}' (known: {', '.join(known) or 'none'})")


async def from_tracker(bus: Bus, campaign_id: str, spec: CampaignSpec | None = None,
                       timeout_s: float = 30.0) -> CampaignRecords:
    """The campaign's records from the running tracker; the spec from the campaign events unless given."""
    from services.runtime.campaigns import CampaignDirectory
    from services.runtime.rpc import ask

    if spec is None:
        directory = CampaignDirectory(bus)
        await directory.start()
        await directory.stop()
        state = directory.get(campaign_id)
        if state is None:
            raise unknown_campaign(campaign_id, sorted(directory.campaigns))
        spec = state.spec
    found: dict[str, Records] = {}
    for verb in (rpc.TRACKER_PROPOSALS, rpc.TRACKER_WORK_ORDERS, rpc.TRACKER_MEASUREMENTS, rpc.TRACKER_REVIEWS,
                 rpc.TRACKER_MODELS):
        found[verb.name] = (await ask(bus, verb, CampaignQuery(campaign_id=campaign_id), timeout=timeout_s)).records
    return CampaignRecords(spec=spec, **found)


def from_database(url: str, campaign_id: str) -> CampaignRecords:
    """The campaign's records read straight from a tracker database (read only: no migration is run)."""
    from services.tracker import queries
    from services.tracker.repository import Repository

    repo = Repository(url, migrate=False)
    try:
        spec = queries.campaign_spec(repo, campaign_id)
        if spec is None:
            raise unknown_campaign(campaign_id, queries.campaign_ids(repo))
        return CampaignRecords(
            spec=spec, proposals=queries.proposals(repo, campaign_id),
            work_orders=queries.work_orders(repo, campaign_id),
            measurements=[m.model_dump(mode="json") for m in queries.measurements(repo, campaign_id)],
            reviews=queries.reviews(repo, campaign_id), models=queries.model_versions(repo, campaign_id))
    finally:
        repo.dispose()
