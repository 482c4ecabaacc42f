"""A measurement the predictor cannot use is left out and dead-lettered by field; a training failure is reported
once with the reason (tracker summary, `fluxlab status`, dashboard) instead of a traceback every few seconds."""

from __future__ import annotations

from factories import campaign_spec
from test_review_gate import wait_until

from schemas import DeadLetter, Design, ExecutorKind, Measurement, Value, WorkOrder
from services.predictor.service import PredictorService, PredictorSettings
from services.review.tracker_client import TrackerClient
from services.runtime.bus import Bus
from services.runtime.campaign_client import CampaignClient
from services.runtime.settings import Settings
from services.tracker.service import TrackerService


async def _run(bus: Bus, cid: str, i: int, knockouts: list[str]) -> None:
    design = Design(knockouts=knockouts)
    await bus.publish_event(WorkOrder(id=f"wo-{i}", campaign_id=cid, run_id=f"run-{i}", proposal_id=f"p-{i}",
                                      design=design, queue=ExecutorKind.ROBOT, station="s1"))
    await bus.publish_event(Measurement(
        id=f"m-{i}", campaign_id=cid, run_id=f"run-{i}", design=design, station="s1",
        growth_rate=Value(value=0.5 + 0.01 * i), products={"EX_succ_e": Value(value=1.0 + 0.1 * i)}))


async def stored(bus: Bus, subject: str, stream: str) -> list[bytes]:
    """Every message stored on `subject` so far (read until a fetch comes back empty)."""
    sub = await bus.js.pull_subscribe(subject, stream=stream)
    out: list[bytes] = []
    try:
        while True:
            out += [m.data for m in await sub.fetch(50, timeout=0.5)]
    except Exception:
        pass
    await sub.unsubscribe()
    return out


async def _letters(bus: Bus) -> list[DeadLetter]:
    return [DeadLetter.model_validate_json(d)
            for d in await stored(bus, bus.subjects.dlq("predictor"), bus.subjects.dlq_stream)]


async def test_bad_rows_are_left_out_by_field_and_a_failure_is_reported_once(settings: Settings, bus: Bus) -> None:
    spec = campaign_spec("c1").model_copy(update={"batch_size": 4})
    await CampaignClient(bus).start(spec)
    tracker = TrackerClient(bus)
    options = PredictorSettings(debounce_s=0.3, ensemble=1, epochs=20, kind="mlp")
    async with TrackerService(settings, bus=bus), PredictorService(settings, bus=bus, options=options) as predictor:
        assert isinstance(predictor, PredictorService)
        for i, knockouts in enumerate((["sdhA"], ["b1380"], ["b1380", "b9999"], ["b2297"])):
            await _run(bus, "c1", i, knockouts)

        async def failure_reported() -> list[str] | None:
            (summary,) = await tracker.campaigns()
            return summary.predictor_problems if any("could not be trained" in p
                                                     for p in summary.predictor_problems) else None
        problems = await wait_until(failure_reported, timeout=60)
        assert any(p.startswith("design.knockouts[0]: run run-0: not used for training") and "sdhA" in p
                   for p in problems)
        assert any(p.startswith("design.knockouts[1]: run run-2") and "b9999" in p for p in problems)
        assert predictor.campaign("c1").version == 0 and predictor.campaign("c1").backoff_s > 0
        letters = await _letters(bus)
        assert len([x for x in letters if x.field == "training"]) == 1  # reported once, not every retry

        for i in range(4, 7):  # good data arrives: the model trains on the five usable runs
            await _run(bus, "c1", i, ["b0903"])

        async def trained() -> int | None:
            models = await tracker.models("c1")
            return models[-1].n_train if models else None
        assert await wait_until(trained, timeout=90) == 5
        (summary,) = await tracker.campaigns()
        assert not any("could not be trained" in p for p in summary.predictor_problems)  # a model exists now
        assert len(summary.predictor_problems) == 2  # the two rows left out stay visible


async def test_a_broker_hiccup_during_training_is_retried_not_dead_lettered(settings: Settings, bus: Bus) -> None:
    import nats.errors

    from services.predictor.failures import BROKER_RETRIES
    from services.predictor.state import CampaignModel

    async with PredictorService(settings, bus=bus) as predictor:
        assert isinstance(predictor, PredictorService)
        cm = CampaignModel()
        hiccup = nats.errors.TimeoutError()
        for _ in range(BROKER_RETRIES):  # e.g. the server restarting: 'consumer not found', timeouts
            await predictor._training_failed("c1", cm, hiccup)
        assert cm.failure is None and cm.first_untrained_at is not None  # retried soon, nothing reported
        assert not await _letters(bus)
        await predictor._training_failed("c1", cm, hiccup)  # a broker that keeps failing is reported
        (letter,) = await _letters(bus)
        assert letter.field == "training" and "TimeoutError" in letter.reason
