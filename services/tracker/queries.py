"""Read-side queries of the tracker (used by the RPC endpoints, the CLI and the review pages)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from schemas import CampaignSpec, Design, Measurement, ProposalStatus
from schemas.queries import CampaignSummary
from services.domain.floor import best_meeting_floor
from services.domain.objective import objective_view
from services.domain.posterior import Prior, posterior_best, priors_from_proposals
from services.tracker.repository import Repository, parse_spec
from services.tracker.tables import (
    CampaignRow,
    DeadLetterRow,
    MeasurementRow,
    ModelVersionRow,
    ProposalRow,
    ReviewRow,
    RunFailureRow,
    WorkOrderRow,
)


def _count(session: Session, column: Any, *where: Any) -> int:
    return int(session.scalar(select(func.count(column)).where(*where)) or 0)


def measurements(repo: Repository, campaign_id: str) -> list[Measurement]:
    """Every measurement of a campaign, oldest first."""
    with repo.session() as s:
        rows = s.scalars(select(col(MeasurementRow.data_json)).where(col(MeasurementRow.campaign_id) == campaign_id)
                         .order_by(col(MeasurementRow.measured_at)))
        return [Measurement.model_validate_json(r) for r in rows]


def best_measured(spec: CampaignSpec | None, items: list[Measurement],
                  priors: dict[str, Prior] | None = None) -> tuple[float | None, Design | None]:
    """Best measured objective value and its design (sense from the spec), leaving out what the cleaning sets
    aside as unreliable (runs with a failed QC flag, wild-type controls that are robust outliers) and designs
    whose measured growth is below the growth floor (`services.domain.floor`). With ``priors`` (the predictions
    published with the designs' first proposals) the best is the posterior best (`services.domain.posterior`)
    and its value the posterior mean; without, the best reading."""
    if spec is None:
        return None, None
    from services.analysis.cleaning import set_aside_runs  # pandas: loaded on the first query, not at start-up

    set_aside = set_aside_runs(items, spec.objective.target)
    kept = [m for m in items if m.run_id not in set_aside]
    if priors is not None:
        posterior = posterior_best(spec, kept, priors)
        return (posterior.mean, posterior.design) if posterior is not None else (None, None)
    value, best = best_meeting_floor(spec, kept)
    return value, best.design if best is not None else None


def summary(repo: Repository, campaign_id: str) -> CampaignSummary | None:
    """Counts and best-so-far of one campaign."""
    with repo.session() as s:
        row = s.get(CampaignRow, campaign_id)
        if row is None:
            return None
        cid = campaign_id
        counts = {
            "n_proposals": _count(s, col(ProposalRow.id), col(ProposalRow.campaign_id) == cid),
            "n_pending_review": _count(s, col(ProposalRow.id), col(ProposalRow.campaign_id) == cid,
                                       col(ProposalRow.status) == ProposalStatus.PENDING.value),
            "n_work_orders": _count(s, col(WorkOrderRow.id), col(WorkOrderRow.campaign_id) == cid),
            "n_measurements": _count(s, col(MeasurementRow.id), col(MeasurementRow.campaign_id) == cid),
            "n_failed": _count(s, col(RunFailureRow.id), col(RunFailureRow.campaign_id) == cid),
            "n_rejected": _count(s, col(ReviewRow.id), col(ReviewRow.campaign_id) == cid,
                                 col(ReviewRow.action) == "reject"),
            "n_models": _count(s, col(ModelVersionRow.id), col(ModelVersionRow.campaign_id) == cid),
        }
        spec = parse_spec(row)
        name, status = row.name, row.status
        problems = predictor_problems(s, cid)
    priors = priors_from_proposals(spec.objective.target, proposals(repo, campaign_id)) if spec else None
    value, design = best_measured(spec, objective_view(spec, measurements(repo, campaign_id)), priors)
    return CampaignSummary(campaign_id=cid, name=name, status=status, best_value=value, best_design=design,
                           predictor_problems=problems, **counts)


def predictor_problems(session: Session, campaign_id: str, limit: int = 5) -> list[str]:
    """The predictor's dead letters of a campaign, newest first: measurements it left out of training, and a
    training failure not yet followed by a trained model."""
    letters = [d for d in session.scalars(select(DeadLetterRow).where(col(DeadLetterRow.service) == "predictor")
                                          .order_by(col(DeadLetterRow.received_at).desc()))
               if d.subject.endswith(f".{campaign_id}")]
    last_model = session.scalar(select(func.max(col(ModelVersionRow.trained_at)))
                                .where(col(ModelVersionRow.campaign_id) == campaign_id))
    current = [d for d in letters if d.field != "training" or last_model is None
               or _naive(d.received_at) > _naive(last_model)]
    return [f"{d.field}: {d.reason}" if d.field and d.field != "training" else d.reason for d in current[:limit]]


def _naive(at: Any) -> Any:
    return at.replace(tzinfo=None) if getattr(at, "tzinfo", None) is not None else at


def campaign_ids(repo: Repository) -> list[str]:
    """Every campaign id, newest first."""
    with repo.session() as s:
        return list(s.scalars(select(col(CampaignRow.id)).order_by(col(CampaignRow.created_at).desc())))


def campaign_spec(repo: Repository, campaign_id: str) -> CampaignSpec | None:
    """The stored spec of a campaign."""
    with repo.session() as s:
        row = s.get(CampaignRow, campaign_id)
        return parse_spec(row) if row else None


def proposals(repo: Repository, campaign_id: str, status: str | None = None) -> list[dict[str, Any]]:
    """Proposals of a campaign as plain records (design and predictions decoded)."""
    with repo.session() as s:
        query = select(ProposalRow).where(col(ProposalRow.campaign_id) == campaign_id)
        if status:
            query = query.where(col(ProposalRow.status) == status)
        rows = list(s.scalars(query.order_by(col(ProposalRow.round), col(ProposalRow.created_at))))
        reasons = _failure_reasons(s, campaign_id) if any(r.status == ProposalStatus.FAILED for r in rows) else {}
        return [{**_proposal_record(r), "failure_reason": reasons.get(r.id)} for r in rows]


def _failure_reasons(session: Session, campaign_id: str) -> dict[str, str]:
    """Proposal id -> why its run failed at the executor (the latest failure)."""
    rows = session.execute(
        select(col(WorkOrderRow.proposal_id), col(RunFailureRow.reason))
        .join(RunFailureRow, col(RunFailureRow.run_id) == col(WorkOrderRow.run_id))
        .where(col(WorkOrderRow.campaign_id) == campaign_id).order_by(col(RunFailureRow.failed_at)))
    return {proposal_id: reason for proposal_id, reason in rows}


def _proposal_record(r: ProposalRow) -> dict[str, Any]:
    return {
        "id": r.id, "campaign_id": r.campaign_id, "round": r.round, "design": json.loads(r.design_json),
        "predicted": json.loads(r.predicted_json), "strategy": r.strategy, "acquisition": r.acquisition,
        "insilico": r.insilico, "feasible": r.feasible, "model_version": r.model_version, "version": r.version,
        "parent_id": r.parent_id,
        "status": r.status, "created_at": r.created_at.isoformat(),
    }


def reviews(repo: Repository, campaign_id: str) -> list[dict[str, Any]]:
    """Review decisions of a campaign, oldest first."""
    with repo.session() as s:
        rows = s.scalars(select(ReviewRow).where(col(ReviewRow.campaign_id) == campaign_id)
                         .order_by(col(ReviewRow.decided_at)))
        return [r.model_dump(mode="json") for r in rows]


def model_versions(repo: Repository, campaign_id: str) -> list[dict[str, Any]]:
    """Model versions with metrics, oldest first."""
    with repo.session() as s:
        rows = s.scalars(select(ModelVersionRow).where(col(ModelVersionRow.campaign_id) == campaign_id)
                         .order_by(col(ModelVersionRow.version)))
        return [{**r.model_dump(mode="json"), "metrics": json.loads(r.metrics_json)} for r in rows]


def work_orders(repo: Repository, campaign_id: str | None = None, queue: str | None = None,
                status: str | None = None) -> list[dict[str, Any]]:
    """Work orders, optionally filtered."""
    with repo.session() as s:
        query = select(WorkOrderRow)
        if campaign_id:
            query = query.where(col(WorkOrderRow.campaign_id) == campaign_id)
        if queue:
            query = query.where(col(WorkOrderRow.queue) == queue)
        if status:
            query = query.where(col(WorkOrderRow.status) == status)
        rows = s.scalars(query.order_by(col(WorkOrderRow.issued_at)))
        return [{**r.model_dump(mode="json"), "design": json.loads(r.design_json)} for r in rows]
