"""When the predictor cannot train: measurements left out, training failures, and the declines it announces.

A measurement training cannot use is left out and dead-lettered with the field and the reason. A training
that fails is dead-lettered once per distinct reason and retried with a growing backoff; a broker error
(a restart, a lost leader) is retried soon, and only one that keeps failing counts as a failure. Either
way the optimizer is told at once (`ModelDeclined`), so it plans with the model at hand instead of waiting
for one that will not come.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import time

import nats.errors

from schemas import DeadLetter, DeclineCause, Measurement, ModelDeclined
from services.predictor.state import CampaignModel
from services.runtime.bus import Bus

log = logging.getLogger(__name__)

BROKER_RETRIES = 5
"""Training attempts in a row a broker error may stop before it is dead-lettered as a training failure: retried
after 1, 2, 4, 8 and 16 s (31 s in all), longer than a broker restart or a cluster's leader election."""
MAX_BACKOFF_S = 300.0
"""Longest wait between two attempts to train a version that keeps failing."""


class TrainingFailures:
    """Reports, for one predictor, what it could not train and why."""

    def __init__(self, bus: Bus, service: str, debounce_s: float) -> None:
        self.bus = bus
        self.service = service
        self.debounce_s = debounce_s

    async def decline(self, campaign_id: str, cm: CampaignModel, cause: DeclineCause, reason: str) -> None:
        """Announce that no model of the measurements so far is coming (once per count of measurements)."""
        if cm.covers <= cm.announced:
            return
        digest = hashlib.sha256(f"{cause}:{reason}".encode()).hexdigest()[:8]
        event = ModelDeclined(id=f"declined-{campaign_id}-{cm.covers}-{digest}", campaign_id=campaign_id,
                              covers=cm.covers, cause=cause, reason=reason[:4000])
        await self.bus.publish_event(event)
        cm.announced = cm.covers
        log.info("%s: declined to train on %d measurement(s): %s", campaign_id, cm.covers, reason)

    async def failed(self, campaign_id: str, cm: CampaignModel, exc: Exception) -> None:
        """Report a training failure once per reason (a dead letter the tracker, `status` and the page show),
        decline the data, then retry with a growing backoff instead of a traceback every few seconds."""
        cm.settled_at_failure = cm.settled
        if isinstance(exc, nats.errors.Error) and cm.broker_retries < BROKER_RETRIES:
            # the broker restarting or electing a leader: retry soon; only a broker that keeps failing is reported
            cm.broker_retries += 1
            delay_s = 2.0 ** (cm.broker_retries - 1)
            cm.first_untrained_at = time.monotonic() + delay_s
            log.warning("%s: training interrupted by the broker (%s: %s); retry %d of %d in %.0f s", campaign_id,
                        type(exc).__name__, exc, cm.broker_retries, BROKER_RETRIES, delay_s)
            return
        reason = f"model v{cm.version + 1} could not be trained on {len(cm.training_data())} measurement(s): " \
                 f"{type(exc).__name__}: {exc}"
        cm.backoff_s = min(max(cm.backoff_s * 2, self.debounce_s, 1.0), MAX_BACKOFF_S)
        cm.first_untrained_at = time.monotonic() + cm.backoff_s
        with contextlib.suppress(Exception):
            await self.decline(campaign_id, cm, DeclineCause.FAILED, reason)
        if reason == cm.failure:
            log.warning("%s: training failed again (retry in %.0f s)", campaign_id, cm.backoff_s)
            return
        cm.failure = reason
        log.error("%s: %s (retry in %.0f s)", campaign_id, reason, cm.backoff_s, exc_info=exc)
        digest = hashlib.sha256(reason.encode()).hexdigest()[:16]
        letter = DeadLetter(id=f"dlq-predictor-train-{campaign_id}-{digest}", service=self.service,
                            subject=self.bus.subjects.event("model", campaign_id), data_b64="",
                            field="training", reason=reason[:4000], error=f"{type(exc).__name__}: {exc}"[:8000])
        with contextlib.suppress(Exception):
            await self.bus.publish(self.bus.subjects.dlq(self.service), letter)

    async def exclude(self, campaign_id: str, cm: CampaignModel, measurement: Measurement, field_name: str,
                      reason: str) -> None:
        """Leave one measurement out of training and dead-letter it with the field and the reason."""
        cm.excluded[measurement.id] = reason
        log.error("%s: measurement %s (run %s) left out of training: %s: %s", campaign_id, measurement.id,
                  measurement.run_id, field_name, reason)
        letter = DeadLetter(
            id=f"dlq-predictor-{measurement.id}", service=self.service,
            subject=self.bus.subjects.event("measurement", campaign_id),
            data_b64=base64.b64encode(measurement.to_bytes()).decode(), field=field_name[:500],
            reason=f"run {measurement.run_id}: not used for training: {reason}"[:4000],
            original_msg_id=measurement.id[:256])
        await self.bus.publish(self.bus.subjects.dlq(self.service), letter)
