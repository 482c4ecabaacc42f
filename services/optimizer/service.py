"""Optimizer service: proposes batches on campaign start, after each new model or freed capacity.

With new measurements it waits for the predictor's answer (`handshake.ModelWatch`: a model that covers
them, or a decline) up to the deadline `model_wait_s` after the round's last measurement; the planner loop
sleeps on an event the events consumer sets, so a model that arrives is planned on at once.

State is folded from the events stream (replayed at start), so a restart resumes without re-proposing;
proposal ids derive from the design, so a re-publish after a crash is a duplicate JetStream drops.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import logging
import time

import numpy as np
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas import CampaignEvent, CampaignEventKind, Message, Prediction, Proposal, Strategy
from services.optimizer import bo
from services.optimizer.context import PlannedProposal
from services.optimizer.envelope import within_envelope
from services.optimizer.feasibility import FeasibilityFilter
from services.optimizer.handshake import ModelWatch
from services.optimizer.insilico import InSilicoSurrogate, insilico_for
from services.optimizer.ledger import CampaignLedger
from services.optimizer.planner import CONTROL, PlannerOptions, gp_request, plan_batch
from services.optimizer.remote import RemoteSurrogate
from services.optimizer.replicates import REPLICATE
from services.optimizer.speculation import GPAhead
from services.registry import PREDICTOR_NATS_NAME
from services.runtime.bus import Bus
from services.runtime.campaigns import CampaignDirectory
from services.runtime.consumer import ConsumerSpec, Envelope, subject_parser
from services.runtime.replay import replay
from services.runtime.service import Service
from services.runtime.settings import Settings
from services.runtime.specfile import organism_problem
from services.runtime.status import ping_services

log = logging.getLogger(__name__)


def published_intervals(planned: list[PlannedProposal], sd_scale: dict[str, float],
                        target: str) -> list[PlannedProposal]:
    """Proposals with the predictor's recalibrated sd: the planner ranked by the model's own (`RemoteSurrogate`)."""
    objective, growth = sd_scale.get(target, 1.0), sd_scale.get("growth", 1.0)
    if objective == 1.0 and growth == 1.0:
        return planned
    return [dataclasses.replace(p, sd=None if p.sd is None else p.sd * objective,
                                growth_sd=None if p.growth_sd is None else p.growth_sd * growth) for p in planned]
EVENT_KINDS = ("proposal", "review", "work", "measurement", "run_failed", "model", "model_declined")


class OptimizerSettings(BaseSettings):
    """Optimizer-specific settings (FLUXLAB_OPTIMIZER_*)."""

    model_config = SettingsConfigDict(env_prefix="FLUXLAB_OPTIMIZER_", extra="ignore")

    model_wait_s: float = Field(default=30.0, ge=0, description=(
        "Deadline: plan at most this long after a round's last measurement even if the predictor has neither "
        "delivered a model covering it nor declined (a predictor that answers plans the batch at once)."))
    tick_s: float = Field(default=0.3, gt=0, description=(
        "The planner loop wakes on every event; without one it looks again after this long (campaign "
        "starts, the deadline)."))
    predictor_gone_s: float = Field(
        default=3.0, ge=0,
        description="Stop waiting for a model once no predictor has answered $SRV.PING for this long.")


class OptimizerService(Service):
    """Plans batches with the campaign's strategy and publishes Proposals."""

    name = "optimizer"

    def __init__(self, settings: Settings, bus: Bus | None = None, options: OptimizerSettings | None = None) -> None:
        super().__init__(settings, bus)
        self.options = options or OptimizerSettings()
        self.ledgers: dict[str, CampaignLedger] = {}
        self.directory: CampaignDirectory | None = None
        self.filters: dict[str, FeasibilityFilter] = {}
        self.insilico: dict[str, InSilicoSurrogate | None] = {}
        self.checked: set[str] = set()
        """Campaigns whose spec was checked against their organism model."""
        self.rejected_infeasible: dict[str, int] = {}
        self.pending_events: list[tuple[str, Message]] = []
        self.models = ModelWatch()
        """What the predictor has answered for each campaign's measurements (the handshake)."""
        self.gp_ahead = GPAhead()
        """The hybrid's GP fitted while the predictor trains (`services.optimizer.speculation`)."""
        self._wake = asyncio.Event()
        """Set by the events consumer: the planner loop looks at once."""
        self._predictor_seen_at = time.monotonic()
        self._predictor_pinged_at = 0.0
        self._ping: asyncio.Task[None] | None = None
        self._ping_done_at = -1e9

    def ledger(self, campaign_id: str) -> CampaignLedger | None:
        """The campaign's ledger, once its spec is known."""
        if campaign_id not in self.ledgers and self.directory is not None:
            state = self.directory.get(campaign_id)
            if state is None:
                return None
            self.ledgers[campaign_id] = CampaignLedger(state.spec)
        return self.ledgers.get(campaign_id)

    async def setup(self) -> None:
        subjects = self.bus.subjects
        self.directory = CampaignDirectory(self.bus)
        await self.directory.start()
        for campaign_id, state in self.directory.campaigns.items():
            if state.status == CampaignEventKind.COMPLETED:
                self.ledgers[campaign_id] = CampaignLedger(state.spec, completed=True)
        await replay(self.bus, f"{subjects.ns}.evt.>", self._apply)
        for ledger in self.ledgers.values():  # data from before a restart: plan now, do not wait for its model
            ledger.last_measured_at = ledger.opened_at = 0.0
        self.add_consumer(ConsumerSpec(
            service=self.name, durable="optimizer-events", stream=subjects.events_stream,
            filter_subjects=[subjects.events(kind) for kind in EVENT_KINDS], parse=subject_parser(self.bus),
            handler=self.on_events, batch=256,
        ))
        self.spawn(self._planner_loop())

    def _apply(self, _subject: str, model: Message) -> None:
        campaign_id = getattr(model, "campaign_id", None)
        if campaign_id is None or isinstance(model, CampaignEvent):
            return
        self.models.apply(model)
        ledger = self.ledger(campaign_id)
        if ledger is not None:
            ledger.apply(model)

    async def on_events(self, envelopes: list[Envelope]) -> None:
        """Fold live events into the ledgers (planning happens in the loop)."""
        assert self.directory is not None
        for envelope in envelopes:
            campaign_id = getattr(envelope.model, "campaign_id", "")
            if self.directory.get(campaign_id) is None:  # its 'created' event may still be on its way
                await self.directory.wait_for(campaign_id, 5.0)
            self._apply(envelope.subject, envelope.model)
        self._wake.set()

    async def _planner_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.options.tick_s)
            self._wake.clear()  # events folded while this pass runs set it again: the next pass starts at once
            assert self.directory is not None
            for campaign_id, state in list(self.directory.campaigns.items()):
                if not state.active:
                    continue
                ledger = self.ledger(campaign_id)
                if ledger is None or ledger.completed:
                    continue
                try:
                    await self.step(campaign_id, ledger)
                except Exception:
                    log.exception("%s: planning failed", campaign_id)

    def _waiting_for_model(self, campaign_id: str, ledger: CampaignLedger) -> bool:
        """The predictor has not answered for the ledger's measurements and the deadline is still ahead."""
        return self.models.waiting(campaign_id, ledger, time.monotonic(), self.options.model_wait_s)

    async def predictor_gone(self) -> bool:
        """True when no predictor of this namespace has answered `$SRV.PING` for `predictor_gone_s`.

        A model that a dead predictor will not deliver is not worth waiting `model_wait_s` for: the batch is
        planned with the model at hand (a restarted predictor trains the new data for the next round).
        Pings at most once a second, only while a campaign waits for a model, in a task of its own: a ping
        collects answers for half a second, and the planner loop must not sit in it when the model event it
        waits for arrives (that cost a round up to 0.5 s). Until a ping of the last two seconds has come
        back the answer is False (not known to be gone).
        """
        now = time.monotonic()
        if now - self._predictor_pinged_at >= 1.0 and (self._ping is None or self._ping.done()):
            self._predictor_pinged_at = now
            self._ping = asyncio.create_task(self._ping_predictor())
        now = time.monotonic()
        fresh = now - self._ping_done_at < 2.0
        return fresh and now - self._predictor_seen_at > self.options.predictor_gone_s

    async def _ping_predictor(self) -> None:
        """One `$SRV.PING`; a predictor's answer marks it seen."""
        try:
            if PREDICTOR_NATS_NAME in {s["name"] for s in await ping_services(self.bus, wait_s=0.5)}:
                self._predictor_seen_at = time.monotonic()
        except Exception as exc:  # a broker hiccup: no news, the next ping asks again
            log.debug("predictor ping failed: %r", exc)
        finally:
            self._ping_done_at = time.monotonic()

    async def step(self, campaign_id: str, ledger: CampaignLedger) -> None:
        """Complete the campaign, or propose up to its free capacity."""
        if ledger.budget_spent:
            await self.complete(campaign_id, ledger, "budget spent")
            return
        if campaign_id not in self.checked:
            problem = await asyncio.to_thread(organism_problem, ledger.spec)
            if problem:
                await self.stop_invalid(campaign_id, ledger, problem)
                return
            self.checked.add(campaign_id)
        capacity = ledger.capacity()
        if capacity <= 0:
            return
        if self._waiting_for_model(campaign_id, ledger) and not await self.predictor_gone():
            self._fit_gp_ahead(campaign_id, ledger)
            return
        planned = await self.plan(campaign_id, ledger, capacity)
        if not planned and not ledger.pending:
            await self.complete(campaign_id, ledger, "search space exhausted")
            return
        round_ = ledger.next_round
        for item in planned:
            proposal = self._proposal(campaign_id, round_, item, ledger)
            await self.bus.publish_event(proposal)
            ledger.apply(proposal)
        if planned:
            log.info("%s: round %d, %d proposal(s)", campaign_id, round_, len(planned))
        if ledger.spec.strategy in (Strategy.HYBRID, Strategy.BO):
            bo.ax_ready(load_in_background=True)  # after the batch went out: its CPU does not delay this one

    def _round_seed(self, campaign_id: str, ledger: CampaignLedger) -> int:
        digest = hashlib.sha256(f"{ledger.spec.seed}:{campaign_id}:{ledger.next_round}".encode()).digest()
        return int.from_bytes(digest[:8], "little")

    def _fit_gp_ahead(self, campaign_id: str, ledger: CampaignLedger) -> None:
        """While the model is on its way, start the GP fit the coming plan will ask for (no-op once started).

        Only once the round is all in (nothing pending): a fit for a round still arriving would be stale
        by the next measurement and hold the worker for the fit that counts.
        """
        if ledger.pending:  # (the capacity is read now: events folded while `step` awaited may have changed it)
            return
        request = gp_request(ledger.spec, ledger.history(), ledger.capacity(), self._round_seed(campaign_id, ledger),
                             self._planner_options(campaign_id))
        if request is not None:
            self.gp_ahead.start(campaign_id, *request)

    def _planner_options(self, campaign_id: str) -> PlannerOptions:
        # a restarted optimizer plans at once: the hybrid's GP slots wait until Ax has loaded in the background
        # and the GP is fitted beside the GA (which mostly waits on the predictor's answers), or before it
        return PlannerOptions(gp_waits_for_import=False, gp_beside_ga=True, gp_source=self.gp_ahead.source(campaign_id))

    async def plan(self, campaign_id: str, ledger: CampaignLedger, n: int) -> list[PlannedProposal]:
        """Run the planner in a worker thread (the surrogate calls back into this loop over NATS)."""
        spec = ledger.spec
        surrogate = None
        remote: RemoteSurrogate | None = None
        if ledger.model_version > 0:
            remote = RemoteSurrogate(self.bus, asyncio.get_running_loop(), campaign_id, spec.objective.target,
                                     second_target=spec.objective.second_target)
            surrogate = await asyncio.to_thread(within_envelope, spec, remote)
        feasibility = await asyncio.to_thread(self._feasibility, campaign_id)
        if feasibility is not None:  # learns from measured growth (`FeasibilityFilter.calibrate`)
            await asyncio.to_thread(feasibility.calibrate_from, list(ledger.measurements.values()))
        rng = np.random.default_rng(self._round_seed(campaign_id, ledger))
        prior = await asyncio.to_thread(self._insilico, campaign_id) if surrogate is None else None
        options = self._planner_options(campaign_id)
        planned = await asyncio.to_thread(functools.partial(
            plan_batch, spec, ledger.history(), surrogate, n, rng, feasibility, prior=prior, options=options))
        if feasibility is not None:
            self.rejected_infeasible[campaign_id] = feasibility.n_rejected
        return published_intervals(planned, remote.sd_scale if remote is not None else {}, spec.objective.target)

    def _feasibility(self, campaign_id: str) -> FeasibilityFilter | None:
        spec = self.ledgers[campaign_id].spec
        if not spec.search_space.is_cell or spec.objective.growth_floor <= 0:
            return None
        if campaign_id not in self.filters:
            from services.domain.organism import load_organism

            organism = load_organism(spec.organism.model)
            self.filters[campaign_id] = FeasibilityFilter(organism, spec.objective.growth_floor,
                                                          base_medium=dict(spec.organism.medium) or None)
        return self.filters[campaign_id]

    def _insilico(self, campaign_id: str) -> InSilicoSurrogate | None:
        """The organism model's in-silico answer for a cell campaign, scoring designs until a model is trained."""
        if campaign_id not in self.insilico:
            spec = self.ledgers[campaign_id].spec
            self.insilico[campaign_id] = None
            if spec.search_space.is_cell:  # cobra (seconds to import) only for a campaign on an organism model
                from services.domain.organism import load_organism

                self.insilico[campaign_id] = insilico_for(spec, load_organism(spec.organism.model))
        return self.insilico[campaign_id]

    def _proposal(self, campaign_id: str, round_: int, item: PlannedProposal, ledger: CampaignLedger) -> Proposal:
        target = ledger.spec.objective.target
        predicted: dict[str, Prediction] = {}
        insilico = None
        if not ledger.model_version:  # scored in silico (no trained model yet): no prediction with uncertainty
            if item.mean is not None and np.isfinite(item.mean):
                insilico = float(item.mean)  # the organism model's own value, shown as such
            item = dataclasses.replace(item, mean=None, sd=None, growth_mean=None, growth_sd=None)
        if item.mean is not None and item.sd is not None and np.isfinite(item.mean) and np.isfinite(item.sd):
            predicted[target] = Prediction(mean=item.mean, sd=max(item.sd, 0.0))
        if item.growth_mean is not None and item.growth_sd is not None and np.isfinite(item.growth_mean) \
                and np.isfinite(item.growth_sd):
            predicted["growth"] = Prediction(mean=item.growth_mean, sd=max(item.growth_sd, 0.0))
        key = item.design.key()
        if (item.strategy == CONTROL and ledger.spec.analysis.control_per_batch) or item.strategy == REPLICATE:
            key += f"#round{round_}"  # the same design again in a later batch: its own proposal and run id
        digest = hashlib.sha256(key.encode()).hexdigest()[:20]
        acquisition = item.acquisition if item.acquisition is not None and np.isfinite(item.acquisition) else None
        return Proposal(id=f"prop-{campaign_id}-{digest}", campaign_id=campaign_id, round=round_,
                        design=item.design, predicted=predicted, strategy=item.strategy, acquisition=acquisition,
                        insilico=insilico, feasible=item.feasible, model_version=ledger.model_version or None)

    async def stop_invalid(self, campaign_id: str, ledger: CampaignLedger, problem: str) -> None:
        """Stop a campaign whose spec does not fit its organism model, naming the field and why."""
        event = CampaignEvent(id=f"invalid-{campaign_id}", campaign_id=campaign_id, kind=CampaignEventKind.STOPPED,
                              detail=f"invalid spec: {problem}")
        await self.bus.publish_event(event)
        ledger.completed = True
        log.error("%s: stopped, invalid spec: %s", campaign_id, problem)

    async def complete(self, campaign_id: str, ledger: CampaignLedger, why: str) -> None:
        """Publish completion with the best measured design (idempotent id)."""
        best = ledger.best_posterior()
        value, design = (best.mean, best.design) if best is not None else (None, None)
        interval = best.interval() if best is not None else None
        named = "" if best is None else (
            f"; named best by the posterior (replicate mean shrunk by the model) {best.mean:.4g}"
            + (f", 95 % interval {interval[0]:.4g} to {interval[1]:.4g}" if interval else ", noise unknown")
            + f", {best.n} reading(s)")
        event = CampaignEvent(
            id=f"complete-{campaign_id}", campaign_id=campaign_id, kind=CampaignEventKind.COMPLETED,
            detail=f"{why}; {ledger.used} experiments; infeasible designs filtered: "
                   f"{self.rejected_infeasible.get(campaign_id, 0)}; best among designs meeting the growth floor "
                   f"{ledger.growth_floor().describe()}{named}",
            best_value=value, best_design_key=design.key() if design else None,
        )
        await self.bus.publish_event(event)
        ledger.completed = True
        self.gp_ahead.forget(campaign_id)
        log.info("%s: completed (%s), best %s", campaign_id, why, value)

    async def teardown(self) -> None:
        if self._ping is not None:
            self._ping.cancel()
        self.gp_ahead.shutdown()
        if self.directory is not None:
            with contextlib.suppress(Exception):
                await self.directory.stop()
