"""Predictor service: trains on the measurements its feed delivers, versions models, answers `rpc.predict`.

State is rebuilt at start by replaying measurement, work, failure and model events (the stream is the system
of record) and loading the latest weights from the object store, so a restart does not retrain from scratch.
After the replay every replica follows the same events live (an ordered consumer of its own, from where the
replay ended), so each holds every accepted measurement and trains from what was delivered to it.

The handshake with the optimizer (docs/predictor.md): each `ModelTrained` says how many accepted measurements
it `covers`; when the predictor will not train on what it has (fewer than MIN_TRAINING_MEASUREMENTS, or
training failed) it publishes `ModelDeclined` with the count instead. Training starts as soon as a batch's worth
of runs (`debounce_n`, default the batch size) settled since the last version (measured, or failed), or
`debounce_s` after the first new measurement (a round still partly out, or partly rejected).

Before training version v of a campaign a replica claims `<cid>.v<v>` in a key-value bucket (create fails
if another replica holds it), and every replica hot-swaps to versions trained elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from typing import TYPE_CHECKING, Any, cast

from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import BucketNotFoundError, NotFoundError, ObjectNotFoundError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas import (
    CampaignEvent,
    CampaignEventKind,
    CampaignSpec,
    DeclineCause,
    DesignPrediction,
    Measurement,
    Message,
    ModelTrained,
    Prediction,
    PredictReply,
    PredictRequest,
    RunFailed,
    WorkOrder,
)
from schemas.rpc import PREDICT
from services.predictor import MIN_TRAINING_MEASUREMENTS, base_models
from services.predictor.claims import TrainingClaims
from services.predictor.errors import PredictorError
from services.predictor.failures import TrainingFailures
from services.predictor.prospective_calibration import ProspectiveCalibration, prospective_zscores
from services.predictor.state import CampaignModel
from services.predictor.trainset import offending_row, prospective_metrics, training_data, unseen_predictions
from services.predictor.warmup import warm_imports, warm_organism
from services.runtime.bus import Bus
from services.runtime.campaigns import CampaignDirectory
from services.runtime.replay import replay
from services.runtime.service import Endpoint, RpcError, Service
from services.runtime.settings import Settings

if TYPE_CHECKING:
    from services.predictor.deepmodel import DeepModel
    from services.predictor.over_time import OverTimeModel

__all__ = ["PredictorService", "PredictorSettings"]

log = logging.getLogger(__name__)

LEGACY_DURABLE = "predictor-runs"
"""The durable consumer replicas shared before they each followed the feed (deleted at start)."""
FEED_KINDS = ("work", "measurement", "run_failed")
"""Events the predictor folds: issued runs, measurements (accepted by the shared rule) and failed runs."""


class PredictorSettings(BaseSettings):
    """Predictor-specific settings (FLUXLAB_PREDICTOR_*)."""

    model_config = SettingsConfigDict(env_prefix="FLUXLAB_PREDICTOR_", extra="ignore")

    kind: str = Field(default="hybrid", description="Model for cell campaigns: hybrid, mlp, fusion or gnn.")
    ensemble: int = Field(default=5, ge=1)
    debounce_s: float = Field(default=3.0, ge=0, description=(
        "Retrain this long after the first new measurement at the latest (a batch's worth of settled runs "
        "trains at once)."))
    debounce_n: int | None = Field(default=None, ge=1, description=(
        "Retrain once N runs settled (measured or failed) since the last version (default batch size)."))
    epochs: int = Field(default=300, ge=1)
    use_omics: bool = Field(default=True, description=(
        "Train on the omics blocks measurements carry (transcriptomics, metabolomics, ...) as inputs, each such "
        "row also once with them marked absent, so proposals (never measured, no omics) are predicted as by a "
        "model trained without them; false: designs only (docs/predictor.md, 'Omics in the loop')."))
    dynamic_epochs: int = Field(default=600, ge=1, description=(
        "Epochs of the dynamic model a campaign with an objective over time trains on its time courses."))
    dynamic_members: int = Field(default=4, ge=1, description="Ensemble members of that dynamic model.")
    threads: int = Field(default=1, ge=1, description=(
        "torch threads. The ensembles are small: one thread trains them fastest, and more spin against each "
        "other and every other process on a shared machine (25 s instead of 2.5 s for 15 measurements on a "
        "busy 2-core host)."))


class PredictorService(Service):
    """The deep surrogate as a service."""

    name = "predictor"

    def __init__(self, settings: Settings, bus: Bus | None = None,
                 options: PredictorSettings | None = None) -> None:
        super().__init__(settings, bus)
        self.options = options or PredictorSettings()
        self.state: dict[str, CampaignModel] = {}
        self.directory: CampaignDirectory | None = None
        self.store: Any = None
        self.claims = TrainingClaims(self.bus)
        self.failures = TrainingFailures(self.bus, self.name, self.options.debounce_s)
        self._subs: list[Any] = []
        self._new_data = asyncio.Event()
        """Set by the feed when a campaign gained accepted measurements (or a run failed): the trainer looks."""
        self._warmed: set[str] = set()
        """Organism models loaded ahead of their campaigns' first training (`warmup`)."""

    def campaign(self, campaign_id: str) -> CampaignModel:
        """State of a campaign (created on first use)."""
        return self.state.setdefault(campaign_id, CampaignModel())

    async def setup(self) -> None:
        # torch takes seconds to import: load it in a worker thread while the state is replayed over NATS
        warm = asyncio.create_task(asyncio.to_thread(self._load_torch))
        subjects = self.bus.subjects
        self.failures.bus = self.bus
        self.directory = CampaignDirectory(self.bus)
        self.directory.listeners.append(self._on_campaign)
        await self.directory.start()
        try:
            self.store = await self.bus.js.object_store(subjects.models_bucket)
        except (BucketNotFoundError, NotFoundError):
            self.store = await self.bus.js.create_object_store(subjects.models_bucket)
        self.claims.bus = self.bus
        await self.claims.open()
        with contextlib.suppress(Exception):  # the shared durable of older versions: nothing reads it now
            await self.bus.js.delete_consumer(subjects.events_stream, LEGACY_DURABLE)
        # the live feed starts where the replay's snapshot ends (an overlap is folded twice, harmlessly)
        follow_from = (await self.bus.js.stream_info(subjects.events_stream)).state.last_seq + 1
        await replay(self.bus, subjects.events("model"), self._apply)
        for kind in FEED_KINDS:
            await replay(self.bus, subjects.events(kind), self._apply)
        await warm
        started = time.monotonic()
        for campaign_id, state in self.directory.campaigns.items():
            if state.spec.base_model:  # a campaign seeded from a model has one before any measurement
                self.campaign(campaign_id)
        for campaign_id, cm in self.state.items():
            if cm.artifact:
                await self._load(campaign_id, cm)
            if cm.new > 0:  # data from before a restart: its debounce starts now
                cm.first_untrained_at = started
        await self.add_endpoints([Endpoint(PREDICT, self.rpc_predict)])
        for kind in FEED_KINDS:
            self._subs.append(await self.bus.js.subscribe(
                subjects.events(kind), cb=self._on_feed, ordered_consumer=True, stream=subjects.events_stream,
                config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=follow_from)))
        self._subs.append(await self.bus.js.subscribe(
            subjects.events("model"), cb=self._on_model_event, ordered_consumer=True,
            stream=subjects.events_stream, deliver_policy=DeliverPolicy.NEW))
        self._new_data.set()
        self.spawn(self._trainer())
        self.spawn(asyncio.to_thread(warm_imports))

    async def _on_campaign(self, event: CampaignEvent) -> None:
        """A new campaign: its organism model is loaded ahead; one seeded from a base model gets that as its first."""
        if event.spec is not None and event.kind == CampaignEventKind.CREATED \
                and event.spec.organism.model not in self._warmed:
            self._warmed.add(event.spec.organism.model)
            self.spawn(asyncio.to_thread(warm_organism, event.spec))
        if event.spec is not None and event.spec.base_model:
            self.campaign(event.campaign_id)
            self._new_data.set()

    async def _on_feed(self, msg: Any) -> None:
        """A live work order, measurement or failed run (invalid ones are skipped: the tracker dead-letters them)."""
        try:
            model = self.bus.subjects.model_for_subject(msg.subject).model_validate_json(msg.data)
        except Exception as exc:
            log.debug("skipping invalid event on %s: %s", msg.subject, exc)
            return
        cm = self.campaign(model.campaign_id)  # type: ignore[attr-defined]
        before = (cm.covers, len(cm.failed_runs))
        self._apply(msg.subject, model)
        if (cm.covers, len(cm.failed_runs)) != before:
            if cm.first_untrained_at is None and cm.new > 0:
                cm.first_untrained_at = time.monotonic()
            self._new_data.set()

    async def _on_model_event(self, msg: Any) -> None:
        """Another replica trained a newer version: load it."""
        try:
            event = ModelTrained.model_validate_json(msg.data)
        except Exception:
            return
        cm = self.campaign(event.campaign_id)
        if event.version > cm.version:
            self._apply(msg.subject, event)
            async with cm.lock:
                await self._load(event.campaign_id, cm)

    def _load_torch(self) -> None:
        import torch
        import torch._dynamo

        torch.set_num_threads(self.options.threads)
        deep_model_class()

    def _apply(self, _subject: str, model: Message) -> None:
        """Fold an event; measurements join the training data only once the acceptance rule accepts them."""
        if isinstance(model, Measurement | WorkOrder):
            cm = self.campaign(model.campaign_id)
            for accepted in cm.gate.offer(model):
                cm.measurements.setdefault(accepted.id, accepted)
        elif isinstance(model, RunFailed):
            self.campaign(model.campaign_id).failed_runs.add(model.run_id)
        elif isinstance(model, ModelTrained):
            cm = self.campaign(model.campaign_id)
            if model.version > cm.version:
                cm.version, cm.trained_on, cm.artifact = model.version, model.n_train, model.artifact
                cm.covered = model.covers if model.covers is not None else model.n_train
                cm.announced = max(cm.announced, cm.covered)

    async def _load(self, campaign_id: str, cm: CampaignModel) -> None:
        try:
            obj = await self.store.get(cm.artifact)
        except ObjectNotFoundError:
            log.warning("%s: artifact %s missing; will retrain", campaign_id, cm.artifact)
            cm.trained_on = cm.covered = 0
            return
        from services.predictor.over_time import load_campaign_model

        cm.model = await asyncio.to_thread(load_campaign_model, obj.data)
        # the version covers the first `covered` accepted measurements (one stream order for every replica): the
        # next version scores it on the rest, as the replica that trained it would (prospective recalibration)
        cm.trained_ids = {m.id for m in list(cm.measurements.values())[:cm.covered] if m.id not in cm.excluded}
        with contextlib.suppress(ObjectNotFoundError):  # models saved before recalibration have none: the prior
            cm.calibration = ProspectiveCalibration.from_bytes((await self.store.get(f"{cm.artifact}.sdscale")).data)
        log.info("%s: loaded model v%d (%d measurements)", campaign_id, cm.version, cm.trained_on)

    async def _trainer(self) -> None:
        """Train each campaign that is due; sleep until new data arrives or the nearest debounce ends."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_data.wait(), self._next_check_s())
            self._new_data.clear()
            for campaign_id, cm in list(self.state.items()):
                if await self._due(campaign_id, cm):
                    try:
                        await self.train(campaign_id, cm)
                    except Exception as exc:
                        await self._training_failed(campaign_id, cm, exc)

    def _next_check_s(self) -> float:
        """Seconds until the earliest debounce (or retry backoff) of a campaign with new data ends."""
        now = time.monotonic()
        ends = [cm.first_untrained_at + self.options.debounce_s - now for cm in self.state.values()
                if cm.new > 0 and cm.first_untrained_at is not None]
        # a debounce that already ended (too few measurements) waits for new data, not for the clock
        return min(max(min((e for e in ends if e > 0), default=1.0), 0.05), 1.0)

    async def _training_failed(self, campaign_id: str, cm: CampaignModel, exc: Exception) -> None:
        """Report a failed training (`TrainingFailures.failed`)."""
        await self.failures.failed(campaign_id, cm, exc)

    async def _due(self, campaign_id: str, cm: CampaignModel) -> bool:
        """Train now? A batch's worth of settled runs or the debounce; declines (and says so) on too few."""
        state = self.directory.get(campaign_id) if self.directory else None
        if state is None:
            return False
        if cm.new <= 0:  # nothing new; a campaign seeded from a base model still needs its first version
            return bool(state.spec.base_model) and cm.version == 0 and cm.covered == 0 \
                and time.monotonic() >= (cm.first_untrained_at or 0.0)
        threshold = self.options.debounce_n or state.spec.batch_size
        now = time.monotonic()
        waited = now - (cm.first_untrained_at or now)
        if waited < 0 and cm.settled - cm.settled_at_failure < threshold:
            return False  # a failed attempt's backoff, not yet out and no new batch since
        if cm.settled < threshold and waited < self.options.debounce_s:
            return False
        usable = len(cm.training_data())
        if usable < MIN_TRAINING_MEASUREMENTS and not state.spec.base_model:  # a base model fine-tunes on any
            await self.failures.decline(campaign_id, cm, DeclineCause.TOO_FEW, f"{usable} usable measurement(s); "
                                        f"the first model needs {MIN_TRAINING_MEASUREMENTS}")
            return False
        return True

    def _new_model(self, spec: CampaignSpec) -> DeepModel:
        is_function = spec.is_function
        kind = "mlp" if is_function else self.options.kind
        organism = None if is_function else spec.organism.model
        model_class = deep_model_class()
        return model_class(kind=kind, organism=organism, ensemble=self.options.ensemble,
                           search_space=spec.search_space, epochs=self.options.epochs, seed=spec.seed,
                           base_medium=dict(spec.organism.medium) or None)

    async def train(self, campaign_id: str, cm: CampaignModel) -> ModelTrained | None:
        """Train a new version on every measurement so far, store it, publish ModelTrained, hot-swap."""
        assert self.directory is not None
        spec = self.directory.campaigns[campaign_id].spec
        version = cm.version + 1
        key = f"{campaign_id}.v{version}"
        if not await self.claims.claim(key):
            cm.first_untrained_at = time.monotonic()  # another replica trains it; its model event swaps it in
            return None
        renewing = asyncio.create_task(self.claims.renew(key))
        try:
            return await self._train_claimed(campaign_id, cm, spec, version)
        except BaseException:
            await self.claims.release(key)
            raise
        finally:
            renewing.cancel()

    async def _train_claimed(self, campaign_id: str, cm: CampaignModel, spec: CampaignSpec,
                             version: int) -> ModelTrained:
        covers, failed = cm.covers, len(cm.failed_runs)  # what arrives while it trains waits for the next version
        data = training_data(spec, cm.training_data())
        started = time.perf_counter()
        base = await self._base_model(spec, cm)
        while True:
            try:
                model = (await asyncio.to_thread(deep_model_class().from_bytes, base)) if base is not None \
                    else self._new_model(spec)
                omics = self.options.use_omics
                if base is None:
                    report = await asyncio.to_thread(model.train_on_measurements, data, False, omics)
                else:  # transfer learning: the base's weights, fine-tuned on this campaign's data
                    report = (await asyncio.to_thread(model.train_on_measurements, data, True, omics)) if data else {}
                break
            except PredictorError as exc:
                bad = offending_row(exc.field, len(data))
                if bad is None:
                    raise
                row, rest = bad
                await self.failures.exclude(campaign_id, cm, data[row], f"design{rest}", exc.reason)
                data = training_data(spec, cm.training_data())
                if len(data) < MIN_TRAINING_MEASUREMENTS and base is None:
                    raise PredictorError("measurements", f"fewer than {MIN_TRAINING_MEASUREMENTS} usable "
                                                         f"measurements: {exc}") from exc
        campaign_model: DeepModel | OverTimeModel = model
        if spec.objective.over_time is not None:  # the objective over time: the dynamic model on the curves
            campaign_model, dynamic_report = await asyncio.to_thread(self._over_time, model, spec, data)
            report = {**report, **dynamic_report}
        unseen = [m for m in data if m.id not in cm.trained_ids] if cm.model is not None and cm.trained_ids else []
        previous = await asyncio.to_thread(unseen_predictions, cm.model, unseen)
        prospective = prospective_metrics(previous, unseen, spec.objective.target)
        labels = {spec.objective.target: "objective", "growth": "growth"}
        zs = prospective_zscores(previous, unseen, list(labels))
        calibration = cm.calibration.with_round(zs)
        artifact = f"{campaign_id}/v{version:04d}.pt"
        await self.store.put(artifact, await asyncio.to_thread(campaign_model.to_bytes))
        await self.store.put(f"{artifact}.sdscale", calibration.to_bytes())
        metrics = {k: float(v) for k, v in report.items()
                   if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)}
        metrics["train_s"] = time.perf_counter() - started
        metrics.update(prospective)
        metrics.update(calibration.metrics(labels))
        event = ModelTrained(id=f"model-{campaign_id}-v{version}", campaign_id=campaign_id, version=version,
                             artifact=artifact, n_train=len(data), metrics=metrics, covers=covers,
                             model_kind=getattr(campaign_model, "announced_kind", model.config.kind))
        await self.bus.publish_event(event)
        cm.model, cm.version, cm.trained_on, cm.artifact = campaign_model, version, len(data), artifact
        cm.calibration = calibration
        cm.covered, cm.announced, cm.failed_at_model = covers, max(cm.announced, covers), failed
        cm.trained_ids = {m.id for m in data}
        cm.first_untrained_at = time.monotonic() if cm.new > 0 else None
        cm.failure, cm.backoff_s, cm.broker_retries, cm.settled_at_failure = None, 0.0, 0, 0
        log.info("%s: model v%d trained on %d measurements", campaign_id, version, len(data))
        return event

    def _over_time(self, steady: DeepModel, spec: CampaignSpec, data: list[Measurement]
                   ) -> tuple[DeepModel | OverTimeModel, dict[str, float]]:
        """The steady-state model wrapped with the dynamic objective model (`services/predictor/over_time.py`)."""
        from services.predictor.dynamic import DynamicConfig
        from services.predictor.over_time import with_over_time

        config = DynamicConfig(epochs=self.options.dynamic_epochs, members=self.options.dynamic_members,
                               seed=spec.seed)
        return with_over_time(steady, spec, data, config)

    async def _base_model(self, spec: CampaignSpec, cm: CampaignModel) -> bytes | None:
        """The bytes of the model the campaign's `base_model` names (fetched once), or None without one."""
        if not spec.base_model:
            return None
        if cm.base is None:
            name, cm.base = await base_models.fetch(self.store, spec.base_model)
            log.info("%s: starts from base model %s", spec.id, name)
        return cm.base

    async def rpc_predict(self, request: PredictRequest) -> PredictReply:
        """Batched predictions with calibrated sd; errors name the field."""
        cm = self.state.get(request.campaign_id)
        if cm is None or cm.model is None:
            raise RpcError("campaign_id", f"no model trained yet for campaign '{request.campaign_id}'")
        model, version, calibration = cm.model, cm.version, cm.calibration
        async with cm.lock:
            try:
                result = await asyncio.to_thread(model.predict, request.designs)
                attributions = None
                if request.attributions:  # (imported here: the module imports torch)
                    from services.predictor.attributions import for_request

                    steady = model.steady if hasattr(model, "steady") else model  # the steady-state model's
                    attributions = await asyncio.to_thread(for_request, cast("DeepModel", steady), request)
            except PredictorError as exc:
                raise RpcError(exc.field, exc.reason) from None
        wanted = set(request.outputs) if request.outputs else None
        predictions, scales = [], {name: calibration.scale(name) for name in result.names}
        for i in range(len(request.designs)):
            outputs = {name: Prediction(mean=m, sd=s * scales[name]) for name, (m, s) in result.row(i).items()
                       if (wanted is None or name in wanted) and math.isfinite(m) and math.isfinite(s)}
            predictions.append(DesignPrediction(outputs=outputs, unseen=result.unseen[i] if result.unseen else [],
                                                attributions=attributions[i] if attributions else None))
        return PredictReply(model_version=version, predictions=predictions,
                            sd_scale={k: v for k, v in scales.items() if wanted is None or k in wanted})

    async def teardown(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        if self.directory is not None:
            with contextlib.suppress(Exception):
                await self.directory.stop()


def deep_model_class() -> type[DeepModel]:
    """The predictor's model class (importing it imports torch)."""
    from services.predictor.deepmodel import DeepModel

    return DeepModel

