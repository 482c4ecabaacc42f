"""The predictor answers every count of measurements: a model that covers them, or a decline with the cause."""

from __future__ import annotations

from factories import campaign_spec
from test_predictor_failures import _run, stored
from test_review_gate import wait_until

from schemas import DeclineCause, ModelDeclined, ModelTrained
from services.predictor.service import PredictorService, PredictorSettings
from services.runtime.bus import Bus
from services.runtime.campaign_client import CampaignClient
from services.runtime.settings import Settings


async def _events(bus: Bus, kind: str) -> list[bytes]:
    return await stored(bus, bus.subjects.events(kind), bus.subjects.events_stream)


async def test_too_few_measurements_are_declined_and_a_model_says_what_it_covers(settings: Settings, bus: Bus) -> None:
    spec = campaign_spec("c1").model_copy(update={"batch_size": 2})
    await CampaignClient(bus).start(spec)
    options = PredictorSettings(debounce_s=0.3, ensemble=1, epochs=20, kind="mlp")
    async with PredictorService(settings, bus=bus, options=options):
        for i, knockouts in enumerate((["b1380"], ["b2297"])):
            await _run(bus, "c1", i, knockouts)

        async def declined() -> list[ModelDeclined] | None:
            found = [ModelDeclined.model_validate_json(d) for d in await _events(bus, "model_declined")]
            return found or None
        (decline,) = await wait_until(declined, timeout=30)
        assert decline.covers == 2 and decline.cause == DeclineCause.TOO_FEW and "needs 3" in decline.reason

        for i, knockouts in enumerate((["b0903"], ["b1380", "b2297"]), start=2):
            await _run(bus, "c1", i, knockouts)

        async def covering_all() -> ModelTrained | None:
            found = [ModelTrained.model_validate_json(d) for d in await _events(bus, "model")]
            return next((m for m in found if m.covers == 4), None)
        model = await wait_until(covering_all, timeout=60)
        assert model.n_train == 4  # a version trained on the first three (covers 3) may come before it
