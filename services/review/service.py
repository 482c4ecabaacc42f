"""Review service: the review gate on the bus, its request/reply endpoints and its web pages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import uvicorn

from schemas import Proposal, ProposalStatus, ReviewAction
from schemas.queries import ProposalRecord
from services.review.auth import ReviewerBook, SessionSigner
from services.review.explain import Explainer
from services.review.gate import ReviewGate, ReviewRefused
from services.review.models import (
    REVIEW_AMEND,
    REVIEW_APPROVE,
    REVIEW_LIST,
    REVIEW_REJECT,
    AmendRequest,
    ApproveRequest,
    DecisionReply,
    DecisionRequest,
    ListReply,
    ListRequest,
    RejectRequest,
)
from services.review.names import describe
from services.review.settings import REVIEW_URL_FILE, ReviewSettings
from services.runtime.bus import Bus
from services.runtime.campaigns import CampaignDirectory
from services.runtime.consumer import ConsumerSpec, Envelope, InvalidMessage, subject_parser
from services.runtime.service import Endpoint, RpcError, Service
from services.runtime.settings import Settings

log = logging.getLogger(__name__)


class _QuietServer(uvicorn.Server):
    """uvicorn inside the service's loop: the service, not uvicorn, owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ReviewService(Service):
    """Consumes `<ns>.evt.proposal.>`; auto policy or human review; dispatches work orders; serves the pages."""

    name = "review"

    def __init__(self, settings: Settings, bus: Bus | None = None,
                 review_settings: ReviewSettings | None = None) -> None:
        super().__init__(settings, bus)
        self.review_settings = review_settings or ReviewSettings()
        self.campaigns: CampaignDirectory | None = None
        self.gate: ReviewGate | None = None
        self.explainer: Explainer | None = None
        self.http: uvicorn.Server | None = None
        self.http_url: str | None = None
        self._http_task: asyncio.Task[Any] | None = None

    async def setup(self) -> None:
        self.campaigns = CampaignDirectory(self.bus)
        # Short: proposals naming a campaign not replayed yet wait for it (ReviewGate.spec_of), nothing is lost.
        await self.campaigns.start()
        reviewers_file = self.review_settings.resolved_reviewers_file(self.settings.data_dir)
        reviewers = ReviewerBook.load(reviewers_file)
        if not reviewers.reviewers:
            log.warning("no reviewers configured in %s: every review action will be refused", reviewers_file)
        self.gate = ReviewGate(self.bus, self.campaigns, reviewers, self.review_settings.campaign_wait_s)
        self.explainer = Explainer(self.bus)
        subjects = self.bus.subjects
        self.add_consumer(ConsumerSpec(
            service=self.name, durable="review-proposals", stream=subjects.events_stream,
            filter_subjects=[subjects.events("proposal", ">")], parse=subject_parser(self.bus),
            handler=self.on_proposals, batch=64, fetch_timeout_s=0.5,
        ))
        await self.add_endpoints([
            Endpoint(REVIEW_LIST, self.rpc_list), Endpoint(REVIEW_APPROVE, self.rpc_approve),
            Endpoint(REVIEW_REJECT, self.rpc_reject), Endpoint(REVIEW_AMEND, self.rpc_amend),
        ])
        await self._start_http()

    async def _start_http(self) -> None:
        from services.review.web import create_app

        assert self.gate is not None
        signer = SessionSigner(self.review_settings.resolved_secret(), self.review_settings.session_ttl_s)
        app = create_app(self.gate, signer, self.review_settings.dynamic_model)
        config = uvicorn.Config(app, host=self.settings.http_host, port=self.settings.http_port, log_level="warning",
                                lifespan="off")
        self.http = _QuietServer(config)
        self._http_task = self.spawn(self._serve_http(self.http))
        for _ in range(200):
            if self.http.started or self._http_task.done():
                break
            await asyncio.sleep(0.025)
        if not self.http.started:
            log.warning("review page did not start on port %s", self.settings.http_port)
            return
        port = self.http.servers[0].sockets[0].getsockname()[1]
        self.http_url = f"http://127.0.0.1:{port}"
        with contextlib.suppress(OSError):
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            (self.settings.data_dir / REVIEW_URL_FILE).write_text(self.http_url + "\n")
        log.info("review page at %s", self.http_url)

    async def _serve_http(self, server: uvicorn.Server) -> None:
        try:
            await server.serve()
        except SystemExit:  # uvicorn exits when it cannot bind: keep the gate and its endpoints running
            log.error("review page: cannot listen on 127.0.0.1:%s (port in use?)", self.settings.http_port)

    async def on_proposals(self, envelopes: list[Envelope]) -> None:
        """Handle proposals one after another; the consumer acks after every publish was acknowledged."""
        assert self.gate is not None
        for envelope in envelopes:
            assert isinstance(envelope.model, Proposal)
            await self.gate.on_proposal(envelope.model)

    async def rpc_list(self, request: ListRequest) -> ListReply:
        """Proposals (default: pending) of a campaign, or one proposal, with the decisions on them."""
        assert self.gate is not None
        try:
            if request.proposal_id:
                record = await self.gate.find_proposal(request.proposal_id, request.campaign_id)
                records, campaign_id = [record], record.campaign_id
            elif request.campaign_id:
                campaign_id = request.campaign_id
                records = await self.gate.tracker.proposals(campaign_id, request.status)
            elif len(self.gate.campaigns.campaigns) == 1:  # one campaign: no need to name it
                (campaign_id,) = self.gate.campaigns.campaigns
                records = await self.gate.tracker.proposals(campaign_id, request.status)
            else:
                known = ", ".join(sorted(self.gate.campaigns.campaigns)) or "none yet"
                raise RpcError("campaign_id", f"give a campaign id or a proposal id (campaigns: {known})")
        except ReviewRefused as exc:
            raise RpcError(exc.field, exc.reason) from None
        ids = {r.id for r in records}
        reviews = [r.model_dump(mode="json") for r in await self.gate.tracker.reviews(campaign_id)
                   if r.proposal_id in ids]
        return ListReply(proposals=await self._with_names(campaign_id, records), reviews=reviews)

    async def _with_names(self, campaign_id: str, records: list[ProposalRecord]) -> list[dict[str, Any]]:
        """Each record (as on the wire) with `description`: its design with gene names ('ΔldhA (b1380)'); a pending
        one (or the one asked for) also with `why`: its attributions in words (services/review/why.py)."""
        assert self.gate is not None
        plain = [r.model_dump(mode="json") for r in records]
        try:
            spec = await self.gate.spec_of(campaign_id)
        except InvalidMessage:
            return plain
        model = None if spec.is_function else spec.organism.model
        asked = [r for r in records if r.status == ProposalStatus.PENDING or len(records) == 1]
        why = await self.explainer.explain(spec, asked) if self.explainer is not None else {}
        return [{**p, "description": await asyncio.to_thread(describe, r.design, model),
                 **(why[r.id].as_record() if r.id in why else {})} for p, r in zip(plain, records, strict=True)]

    async def _decide(self, request: DecisionRequest, action: ReviewAction, **extra: Any) -> DecisionReply:
        assert self.gate is not None
        try:
            reviewer = self.gate.authenticate(request.credentials.user, request.credentials.password)
            result = await self.gate.decide(reviewer, action, request.proposal_id, reason=request.reason,
                                            campaign_id=request.campaign_id, **extra)
        except ReviewRefused as exc:
            raise RpcError(exc.field, exc.reason) from None
        return DecisionReply(**result)

    async def rpc_approve(self, request: ApproveRequest) -> DecisionReply:
        """Approve and dispatch."""
        return await self._decide(request, ReviewAction.APPROVE)

    async def rpc_reject(self, request: RejectRequest) -> DecisionReply:
        """Reject with a reason."""
        return await self._decide(request, ReviewAction.REJECT)

    async def rpc_amend(self, request: AmendRequest) -> DecisionReply:
        """Amend: new version, approved and dispatched."""
        return await self._decide(request, ReviewAction.AMEND, design=request.design)

    async def stop(self) -> None:
        """Close the web page first (open connections get a moment), then the consumers and endpoints."""
        if self.http is not None and self._http_task is not None:
            self.http.should_exit = True
            await asyncio.wait([self._http_task], timeout=self.settings.grace_s)
        await super().stop()

    async def teardown(self) -> None:
        if self.campaigns is not None:
            await self.campaigns.stop()
