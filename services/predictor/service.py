"""Predictor service: retrains on measurement events (debounced), versions models, answers `rpc.predict`.

State is rebuilt at start by replaying measurement and model events (the stream is the system of record)
and loading the latest weights from the object store, so a restart does not retrain from scratch.

Replicas share the durable measurement consumer. Before training version v of a campaign a replica claims
`<cid>.v<v>` in a key-value bucket (create fails if another replica holds it), trains on every measurement
in the stream (not only those it received), and every replica hot-swaps to versions trained elsewhere.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import nats.errors
from nats.js.api import DeliverPolicy
from nats.js.errors import BucketNotFoundError, KeyWrongLastSequenceError, NotFoundError, ObjectNotFoundError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas import (
    CampaignSpec,
    DeadLetter,
    DesignPrediction,
    Measurement,
    Message,
    ModelTrained,
    Prediction,
    PredictReply,
    PredictRequest,
    WorkOrder,
)
from schemas.rpc import PREDICT
from services.domain.acceptance import Gate
from services.predictor import MIN_TRAINING_MEASUREMENTS
from services.predictor.errors import PredictorError
from services.predictor.trainset import offending_row, prospective_metrics, training_data
from services.runtime.bus import Bus
from services.runtime.campaigns import CampaignDirectory
from services.runtime.consumer import ConsumerSpec, Envelope, subject_parser
from services.runtime.replay import replay
from services.runtime.service import Endpoint, RpcError, Service
from services.runtime.settings import Settings

if TYPE_CHECKING:
    from services.predictor.deepmodel import DeepModel

log = logging.getLogger(__name__)

CLAIM_TTL_S = 6.0
"""A training claim lapses this long after its holder last renewed it (a killed trainer's version is free soon)."""
CLAIM_RENEW_S = 1.5
"""How often a trainer renews its claim while it trains."""
BROKER_RETRIES = 3
"""Training attempts in a row a broker error may stop before it is dead-lettered as a training failure."""


class PredictorSettings(BaseSettings):
    """Predictor-specific settings (FLUXLAB_PREDICTOR_*)."""

    model_config = SettingsConfigDict(env_prefix="FLUXLAB_PREDICTOR_", extra="ignore")

    kind: str = Field(default="hybrid", description="Model for cell campaigns: hybrid, mlp or fusion.")
    ensemble: int = Field(default=5, ge=1)
    debounce_s: float = Field(default=3.0, ge=0, description="Retrain this long after the first new measurement.")
    debounce_n: int | None = Field(default=None, ge=1, description="Retrain after N new ones (default batch size).")
    epochs: int = Field(default=300, ge=1)
    threads: int = Field(default=1, ge=1, description=(
        "torch threads. The ensembles are small: one thread trains them fastest, and more spin against each "
        "other and every other process on a shared machine (25 s instead of 2.5 s for 15 measurements on a "
        "busy 2-core host)."))


@dataclass
class CampaignModel:
    """Training data (accepted measurements only) and the current model of one campaign."""

    measurements: dict[str, Measurement] = field(default_factory=dict)
    gate: Gate = field(default_factory=Gate)
    model: DeepModel | None = None
    version: int = 0
    trained_on: int = 0
    first_untrained_at: float | None = None
    artifact: str | None = None
    trained_ids: set[str] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    excluded: dict[str, str] = field(default_factory=dict)
    """Measurement id -> why training cannot use it (dead-lettered once, with that reason)."""
    failure: str | None = None
    """Why the last training attempt failed (reported once per distinct reason)."""
    backoff_s: float = 0.0
    broker_retries: int = 0
    """Consecutive attempts a broker error (a restart, a lost leader) stopped; dead-lettered past the limit."""

    def training_data(self) -> list[Measurement]:
        """Accepted measurements training can use."""
        return [m for m in self.measurements.values() if m.id not in self.excluded]


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
        self.claims: Any = None
        self._model_sub: Any = None

    def campaign(self, campaign_id: str) -> CampaignModel:
        """State of a campaign (created on first use)."""
        return self.state.setdefault(campaign_id, CampaignModel())

    async def setup(self) -> None:
        # torch takes seconds to import: load it in a worker thread while the state is replayed over NATS
        warm = asyncio.create_task(asyncio.to_thread(self._load_torch))
        subjects = self.bus.subjects
        self.directory = CampaignDirectory(self.bus)
        await self.directory.start()
        try:
            self.store = await self.bus.js.object_store(subjects.models_bucket)
        except (BucketNotFoundError, NotFoundError):
            self.store = await self.bus.js.create_object_store(subjects.models_bucket)
        self.claims = await _bucket(self.bus, f"{subjects.ns}-predictor-claims")
        await replay(self.bus, subjects.events("model"), self._apply)
        await replay(self.bus, subjects.events("work"), self._apply)
        await replay(self.bus, subjects.events("measurement"), self._apply)
        await warm
        started = time.monotonic()
        for campaign_id, cm in self.state.items():
            if cm.artifact:
                await self._load(campaign_id, cm)
            if len(cm.measurements) > cm.trained_on:  # data from before a restart: its debounce starts now
                cm.first_untrained_at = started
        self.add_consumer(ConsumerSpec(
            service=self.name, durable="predictor-runs", stream=subjects.events_stream,
            filter_subjects=[subjects.events("work"), subjects.events("measurement")], parse=subject_parser(self.bus),
            handler=self.on_measurements, batch=256,
        ))
        await self.add_endpoints([Endpoint(PREDICT, self.rpc_predict)])
        self._model_sub = await self.bus.js.subscribe(
            subjects.events("model"), cb=self._on_model_event, ordered_consumer=True,
            stream=subjects.events_stream, deliver_policy=DeliverPolicy.NEW)
        self.spawn(self._trainer())

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
        elif isinstance(model, ModelTrained):
            cm = self.campaign(model.campaign_id)
            if model.version > cm.version:
                cm.version, cm.trained_on, cm.artifact = model.version, model.n_train, model.artifact

    async def _load(self, campaign_id: str, cm: CampaignModel) -> None:
        try:
            obj = await self.store.get(cm.artifact)
        except ObjectNotFoundError:
            log.warning("%s: artifact %s missing; will retrain", campaign_id, cm.artifact)
            cm.trained_on = 0
            return
        cm.model = await asyncio.to_thread(deep_model_class().from_bytes, obj.data)
        log.info("%s: loaded model v%d (%d measurements)", campaign_id, cm.version, cm.trained_on)

    async def on_measurements(self, envelopes: list[Envelope]) -> None:
        """Add newly accepted measurements to their campaign's training data (retraining is debounced)."""
        now = time.monotonic()
        for envelope in envelopes:
            before = len(self.campaign(envelope.model.campaign_id).measurements)  # type: ignore[attr-defined]
            self._apply(envelope.subject, envelope.model)
            cm = self.campaign(envelope.model.campaign_id)  # type: ignore[attr-defined]
            if len(cm.measurements) > before and cm.first_untrained_at is None:
                cm.first_untrained_at = now

    async def _trainer(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            for campaign_id, cm in list(self.state.items()):
                if self._due(campaign_id, cm):
                    try:
                        await self.train(campaign_id, cm)
                    except Exception as exc:
                        await self._training_failed(campaign_id, cm, exc)

    async def _training_failed(self, campaign_id: str, cm: CampaignModel, exc: Exception) -> None:
        """Report a training failure once per reason (a dead letter the tracker, `status` and the page show),
        then retry with a growing backoff instead of a traceback every few seconds."""
        if isinstance(exc, nats.errors.Error) and cm.broker_retries < BROKER_RETRIES:
            # the broker restarting or electing a leader (e.g. 'consumer not found' while reading the stream):
            # retry soon; only a broker that keeps failing is reported
            cm.broker_retries += 1
            cm.first_untrained_at = time.monotonic() + 1.0
            log.warning("%s: training interrupted by the broker (%s: %s); retry %d of %d in 1 s", campaign_id,
                        type(exc).__name__, exc, cm.broker_retries, BROKER_RETRIES)
            return
        reason = f"model v{cm.version + 1} could not be trained on {len(cm.training_data())} measurement(s): " \
                 f"{type(exc).__name__}: {exc}"
        cm.backoff_s = min(max(cm.backoff_s * 2, self.options.debounce_s, 1.0), 300.0)
        cm.first_untrained_at = time.monotonic() + cm.backoff_s
        if reason == cm.failure:
            log.warning("%s: training failed again (retry in %.0f s)", campaign_id, cm.backoff_s)
            return
        cm.failure = reason
        log.error("%s: %s (retry in %.0f s)", campaign_id, reason, cm.backoff_s, exc_info=exc)
        digest = hashlib.sha256(reason.encode()).hexdigest()[:16]
        letter = DeadLetter(id=f"dlq-predictor-train-{campaign_id}-{digest}", service=self.name,
                            subject=self.bus.subjects.event("model", campaign_id), data_b64="",
                            field="training", reason=reason[:4000], error=f"{type(exc).__name__}: {exc}"[:8000])
        with contextlib.suppress(Exception):
            await self.bus.publish(self.bus.subjects.dlq(self.name), letter)

    async def _exclude(self, campaign_id: str, cm: CampaignModel, measurement: Measurement, field_name: str,
                       reason: str) -> None:
        """Leave one measurement out of training and dead-letter it with the field and the reason."""
        cm.excluded[measurement.id] = reason
        log.error("%s: measurement %s (run %s) left out of training: %s: %s", campaign_id, measurement.id,
                  measurement.run_id, field_name, reason)
        letter = DeadLetter(
            id=f"dlq-predictor-{measurement.id}", service=self.name,
            subject=self.bus.subjects.event("measurement", campaign_id),
            data_b64=base64.b64encode(measurement.to_bytes()).decode(), field=field_name[:500],
            reason=f"run {measurement.run_id}: not used for training: {reason}"[:4000],
            original_msg_id=measurement.id[:256])
        await self.bus.publish(self.bus.subjects.dlq(self.name), letter)

    def _due(self, campaign_id: str, cm: CampaignModel) -> bool:
        usable = len(cm.measurements) - len(cm.excluded)
        new = usable - cm.trained_on
        if new <= 0 or usable < MIN_TRAINING_MEASUREMENTS:
            return False
        state = self.directory.get(campaign_id) if self.directory else None
        if state is None:
            return False
        threshold = self.options.debounce_n or state.spec.batch_size
        waited = time.monotonic() - (cm.first_untrained_at or time.monotonic())
        return new >= threshold or waited >= self.options.debounce_s

    def _new_model(self, spec: CampaignSpec) -> DeepModel:
        is_function = spec.is_function
        kind = "mlp" if is_function else self.options.kind
        organism = None if is_function else spec.organism.model
        model_class = deep_model_class()
        return model_class(kind=kind, organism=organism, ensemble=self.options.ensemble,
                           search_space=spec.search_space, epochs=self.options.epochs, seed=spec.seed,
                           base_medium=dict(spec.organism.medium) or None)

    async def _claim(self, campaign_id: str, version: int) -> bool:
        try:
            await self.claims.create(f"{campaign_id}.v{version}", self._claim_value())
        except KeyWrongLastSequenceError:
            return False
        return True

    async def _renew(self, key: str) -> None:
        """Keep a claim alive while its version trains (it lapses CLAIM_TTL_S after the trainer dies)."""
        while True:
            await asyncio.sleep(CLAIM_RENEW_S)
            try:
                await self.claims.put(key, self._claim_value())
            except Exception as exc:  # a broker hiccup: the next renewal tries again
                log.warning("%s: could not renew the training claim: %r", key, exc)

    def _claim_value(self) -> bytes:
        client_id = self.bus.nc.client_id
        return client_id.to_bytes(8, "little") if isinstance(client_id, int) else b"1"

    async def train(self, campaign_id: str, cm: CampaignModel) -> ModelTrained | None:
        """Train a new version on every measurement so far, store it, publish ModelTrained, hot-swap."""
        assert self.directory is not None
        spec = self.directory.campaigns[campaign_id].spec
        version = cm.version + 1
        if not await self._claim(campaign_id, version):
            cm.first_untrained_at = time.monotonic()  # another replica trains it; its model event swaps it in
            return None
        key = f"{campaign_id}.v{version}"
        renewing = asyncio.create_task(self._renew(key))
        try:
            return await self._train_claimed(campaign_id, cm, spec, version)
        except BaseException:
            with contextlib.suppress(Exception):
                await self.claims.delete(key)
            raise
        finally:
            renewing.cancel()

    async def _train_claimed(self, campaign_id: str, cm: CampaignModel, spec: CampaignSpec,
                             version: int) -> ModelTrained:
        await replay(self.bus, self.bus.subjects.event("work", campaign_id), self._apply)
        await replay(self.bus, self.bus.subjects.event("measurement", campaign_id), self._apply)
        data = training_data(spec, cm.training_data())
        started = time.perf_counter()
        while True:
            model = self._new_model(spec)
            try:
                report = await asyncio.to_thread(model.train_on_measurements, data)
                break
            except PredictorError as exc:
                bad = offending_row(exc.field, len(data))
                if bad is None:
                    raise
                row, rest = bad
                await self._exclude(campaign_id, cm, data[row], f"design{rest}", exc.reason)
                data = training_data(spec, cm.training_data())
                if len(data) < MIN_TRAINING_MEASUREMENTS:
                    raise PredictorError("measurements", f"fewer than {MIN_TRAINING_MEASUREMENTS} usable "
                                                         f"measurements: {exc}") from exc
        unseen = [m for m in data if m.id not in cm.trained_ids] if cm.model is not None and cm.trained_ids else []
        prospective = await asyncio.to_thread(prospective_metrics, cm.model, unseen, spec.objective.target)
        artifact = f"{campaign_id}/v{version:04d}.pt"
        await self.store.put(artifact, await asyncio.to_thread(model.to_bytes))
        metrics = {k: float(v) for k, v in report.items()
                   if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)}
        metrics["train_s"] = time.perf_counter() - started
        metrics.update(prospective)
        event = ModelTrained(id=f"model-{campaign_id}-v{version}", campaign_id=campaign_id, version=version,
                             artifact=artifact, model_kind=model.config.kind, n_train=len(data), metrics=metrics)
        await self.bus.publish_event(event)
        cm.model, cm.version, cm.trained_on, cm.artifact = model, version, len(data), artifact
        cm.trained_ids = {m.id for m in data}
        cm.first_untrained_at = None
        cm.failure, cm.backoff_s, cm.broker_retries = None, 0.0, 0
        log.info("%s: model v%d trained on %d measurements", campaign_id, version, len(data))
        return event

    async def rpc_predict(self, request: PredictRequest) -> PredictReply:
        """Batched predictions with calibrated sd; errors name the field."""
        cm = self.state.get(request.campaign_id)
        if cm is None or cm.model is None:
            raise RpcError("campaign_id", f"no model trained yet for campaign '{request.campaign_id}'")
        model, version = cm.model, cm.version
        async with cm.lock:
            try:
                result = await asyncio.to_thread(model.predict, request.designs)
                attributions = (await asyncio.to_thread(_attributions, model, request)
                                if request.attributions else None)
            except PredictorError as exc:
                raise RpcError(exc.field, exc.reason) from None
        wanted = set(request.outputs) if request.outputs else None
        predictions = []
        for i in range(len(request.designs)):
            outputs = {name: Prediction(mean=m, sd=s) for name, (m, s) in result.row(i).items()
                       if (wanted is None or name in wanted) and math.isfinite(m) and math.isfinite(s)}
            predictions.append(DesignPrediction(outputs=outputs, unseen=result.unseen[i] if result.unseen else [],
                                                attributions=attributions[i] if attributions else None))
        return PredictReply(model_version=version, predictions=predictions)

    async def teardown(self) -> None:
        if self._model_sub is not None:
            with contextlib.suppress(Exception):
                await self._model_sub.unsubscribe()
        if self.directory is not None:
            with contextlib.suppress(Exception):
                await self.directory.stop()


def deep_model_class() -> type[DeepModel]:
    """The predictor's model class (importing it imports torch)."""
    from services.predictor.deepmodel import DeepModel

    return DeepModel


def _attributions(model: DeepModel, request: PredictRequest) -> list[dict[str, float]] | None:
    """Per-design attributions of each intervention/modality to the first requested (or first) output."""
    from services.predictor import attributions as attr

    output = request.outputs[0] if request.outputs else model.names[0]
    return attr.integrated_gradients(model, request.designs, output)


async def _bucket(bus: Bus, name: str) -> Any:
    """The claims bucket (created on first use; one made with a longer TTL by an older version is shortened)."""
    try:
        bucket = await bus.js.key_value(name)
    except (BucketNotFoundError, NotFoundError):
        # a claim outlives its trainer by CLAIM_TTL_S: a killed trainer's version is claimable again soon
        return await bus.js.create_key_value(bucket=name, history=1, ttl=CLAIM_TTL_S)
    stream = f"KV_{name}"
    info = await bus.js.stream_info(stream)
    if info.config.max_age != CLAIM_TTL_S:
        with contextlib.suppress(Exception):  # a user that may not edit streams keeps the old TTL
            await bus.js.update_stream(dataclasses.replace(info.config, max_age=CLAIM_TTL_S))
    return bucket
