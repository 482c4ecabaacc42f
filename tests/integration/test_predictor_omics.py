"""Omics in the loop: the predictor service trains on the omics blocks measurements carry (some rows with, some
without; also fine-tuning a campaign's base model), answers `rpc.predict` for proposals (no omics), and trains on
the designs only when `use_omics` is off."""

from __future__ import annotations

import asyncio
import math

import numpy as np
from test_predictor_failures import stored

from schemas import Design, ExecutorKind, Measurement, ModelTrained, PredictReply, PredictRequest, WorkOrder
from services.predictor.service import PredictorService, PredictorSettings
from services.runtime.bus import Bus
from services.runtime.campaign_client import CampaignClient
from services.runtime.rpc import call
from services.runtime.settings import Settings
from simulators.examples import succinate_core_spec
from simulators.lab import Lab, NoiseConfig
from simulators.truecell import TrueCell

BLOCKS = ["metabolomics", "transcriptomics"]


def _measurements(spec_id: str, start: int, n: int) -> list[Measurement]:
    """Lab measurements (with omics) of random double knockouts; every third one without omics."""
    spec = succinate_core_spec()
    lab = Lab(TrueCell(spec.organism.model, "default"), NoiseConfig(cv=0.05), seed=3)
    rng = np.random.default_rng(start)
    out = []
    for i in range(start, start + n):
        knockouts = sorted(rng.choice(spec.search_space.knockout_candidates, 2, replace=False).tolist())
        m = lab.run(Design(knockouts=knockouts), spec_id, f"r{i}")
        assert isinstance(m, Measurement) and sorted(m.omics) == BLOCKS
        out.append(m if i % 3 else m.model_copy(update={"omics": {}}))
    return out


async def _publish(bus: Bus, measurements: list[Measurement]) -> None:
    for i, m in enumerate(measurements):
        await bus.publish_event(WorkOrder(campaign_id=m.campaign_id, run_id=m.run_id, proposal_id=f"p-{m.run_id}-{i}",
                                          design=m.design, queue=ExecutorKind.ROBOT, station=m.station))
        await bus.publish_event(m)


async def _version(service: PredictorService, campaign_id: str, version: int) -> None:
    for _ in range(600):
        if service.campaign(campaign_id).version >= version:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"no model v{version} (at v{service.campaign(campaign_id).version})")


async def test_the_service_trains_on_mixed_omics_rows_and_predicts_proposals_without(
    settings: Settings, bus: Bus
) -> None:
    spec = succinate_core_spec(budget=24, batch_size=12)
    await CampaignClient(bus).start(spec)
    options = PredictorSettings(debounce_s=30.0, ensemble=2, epochs=40, kind="mlp")
    first = _measurements(spec.id, 0, 12)
    async with PredictorService(settings, bus=bus, options=options) as predictor:
        assert isinstance(predictor, PredictorService)
        await _publish(bus, first)
        await _version(predictor, spec.id, 1)
        cm = predictor.campaign(spec.id)
        assert cm.model is not None and cm.model.features is not None
        assert sorted(cm.model.features.omics) == BLOCKS  # the omics blocks are inputs
        assert len(cm.model.features.omics["transcriptomics"]) > 100
        (event,) = [ModelTrained.model_validate_json(d)
                    for d in await stored(bus, bus.subjects.events("model"), bus.subjects.events_stream)]
        assert event.metrics["omics_rows"] == sum(1 for m in first if m.omics) == 8  # announced with the model
        proposals = [Design(knockouts=["b1380"]), Design(knockouts=["b2297", "b0903"])]
        reply = await call(bus, bus.subjects.predict, PredictRequest(campaign_id=spec.id, designs=proposals),
                           PredictReply)
        assert reply.model_version == 1 and len(reply.predictions) == 2
        for prediction in reply.predictions:
            assert {"growth", "EX_succ_e"} <= set(prediction.outputs)
            assert all(math.isfinite(p.mean) and p.sd > 0 for p in prediction.outputs.values())
        # a measured strain's own omics move the prediction: they are used, not carried along
        m = next(x for x in first if x.omics)
        with_own = cm.model.predict([m.design], [dict(m.omics)])
        without = cm.model.predict([m.design])
        assert not np.allclose(with_own.mean, without.mean)

        await _publish(bus, _measurements(spec.id, 12, 12))  # the next round (mixed again) trains v2
        await _version(predictor, spec.id, 2)
        cm = predictor.campaign(spec.id)
        assert cm.trained_on == 24 and cm.model is not None and cm.model.features is not None
        assert sorted(cm.model.features.omics) == BLOCKS
        reply = await call(bus, bus.subjects.predict, PredictRequest(campaign_id=spec.id, designs=proposals,
                                                                     outputs=["EX_succ_e"]), PredictReply)
        assert reply.model_version == 2 and all("EX_succ_e" in p.outputs for p in reply.predictions)

        # a campaign seeded from this one fine-tunes its model (warm start) on mixed rows too
        later = succinate_core_spec(seed=1, budget=12, batch_size=6).model_copy(update={"base_model": spec.id})
        await CampaignClient(bus).start(later)
        await _version(predictor, later.id, 1)  # the base, announced as it is
        await _publish(bus, _measurements(later.id, 30, 6))
        await _version(predictor, later.id, 2)
        tuned = predictor.campaign(later.id).model
        assert tuned is not None and tuned.features is not None and sorted(tuned.features.omics) == BLOCKS
        reply = await call(bus, bus.subjects.predict, PredictRequest(campaign_id=later.id, designs=proposals),
                           PredictReply)
        assert reply.model_version == 2
        assert all(math.isfinite(p.outputs["EX_succ_e"].mean) for p in reply.predictions)


async def test_use_omics_off_trains_on_the_designs_only(settings: Settings, bus: Bus) -> None:
    spec = succinate_core_spec(budget=12, batch_size=12)
    await CampaignClient(bus).start(spec)
    options = PredictorSettings(debounce_s=30.0, ensemble=1, epochs=20, kind="mlp", use_omics=False)
    async with PredictorService(settings, bus=bus, options=options) as predictor:
        assert isinstance(predictor, PredictorService)
        await _publish(bus, _measurements(spec.id, 0, 12))
        await _version(predictor, spec.id, 1)
        model = predictor.campaign(spec.id).model
        assert model is not None and model.features is not None and model.features.omics == {}
