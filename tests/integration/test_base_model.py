"""A campaign seeded from a base model: announced before any measurement, then fine-tuned; imports spend no budget."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from factories import campaign_spec
from test_cli import fluxlab
from test_predictor_failures import _run, stored
from test_review_gate import wait_until

from schemas import Design, Measurement, MeasurementSource, ModelDeclined, ModelTrained, Value
from services.optimizer.ledger import CampaignLedger
from services.predictor.deepmodel import DeepModel
from services.predictor.service import PredictorService, PredictorSettings
from services.runtime.bus import Bus
from services.runtime.campaign_client import CampaignClient
from services.runtime.nats_server import EmbeddedNats
from services.runtime.settings import Settings


def _base_file(tmp_path: Path) -> Path:
    """A small mlp fitted on designs of the test campaign's space, saved as `fluxlab predictor fit` would."""
    spec = campaign_spec()
    rng = np.random.default_rng(0)
    candidates = spec.search_space.knockout_candidates
    designs = [Design(knockouts=sorted(rng.choice(candidates, size=int(rng.integers(0, 3)), replace=False).tolist()))
               for _ in range(24)]
    y = np.array([[1.0 + 0.5 * len(d.knockouts) + 0.05 * rng.standard_normal(), 0.5] for d in designs])
    model = DeepModel(kind="mlp", organism="textbook", ensemble=1, epochs=30, seed=0, search_space=spec.search_space)
    model.train(designs, y, names=["EX_succ_e", "growth"])
    path = tmp_path / "base.pt"
    model.save(path)
    return path


async def _models(bus: Bus) -> list[ModelTrained]:
    return [ModelTrained.model_validate_json(d)
            for d in await stored(bus, bus.subjects.events("model"), bus.subjects.events_stream)]


async def test_a_campaign_starts_from_an_uploaded_model_and_fine_tunes_it(
    tmp_path: Path, nats_server: EmbeddedNats, namespace: str, settings: Settings, bus: Bus
) -> None:
    env = {"FLUXLAB_NATS_URL": nats_server.url, "FLUXLAB_NAMESPACE": namespace}
    bad = await asyncio.to_thread(fluxlab, "models", "put", str(tmp_path / "none.pt"), "--name", "b1", env=env)
    assert bad.returncode == 2 and "does not exist" in bad.stderr and "Traceback" not in bad.stderr
    put = await asyncio.to_thread(fluxlab, "models", "put", str(_base_file(tmp_path)), "--name", "lab-2025", env=env)
    assert put.returncode == 0, put.stderr
    spec = campaign_spec("c1").model_copy(update={"batch_size": 2, "base_model": "lab-2025"})
    await CampaignClient(bus).start(spec)
    options = PredictorSettings(debounce_s=0.3, ensemble=1, epochs=20, kind="hybrid")
    async with PredictorService(settings, bus=bus, options=options):
        async def first() -> ModelTrained | None:
            return next(iter(await _models(bus)), None)
        seeded = await wait_until(first, timeout=60)
        assert (seeded.version, seeded.covers, seeded.n_train, seeded.model_kind) == (1, 0, 0, "mlp")
        await _run(bus, "c1", 0, ["b1380"])  # one measurement is enough to fine-tune a base

        async def tuned() -> ModelTrained | None:
            return next((m for m in await _models(bus) if m.covers == 1), None)
        model = await wait_until(tuned, timeout=60)
        assert model.version == 2 and model.n_train == 1 and model.model_kind == "mlp"
        listed = await asyncio.to_thread(fluxlab, "models", "list", "--json", env=env)
        assert '"base/lab-2025.pt"' in listed.stdout and '"c1/v0002.pt"' in listed.stdout

    # an earlier campaign's id works as a base too; an unknown name is declined with the reason
    later = campaign_spec("c2").model_copy(update={"base_model": "c1"})
    unknown = campaign_spec("c3").model_copy(update={"base_model": "nosuch"})
    await CampaignClient(bus).start(later)
    await CampaignClient(bus).start(unknown)
    async with PredictorService(settings, bus=bus, options=options):
        async def from_c1() -> ModelTrained | None:
            return next((m for m in await _models(bus) if m.campaign_id == "c2"), None)
        assert (await wait_until(from_c1, timeout=60)).covers == 0

        async def declined() -> ModelDeclined | None:
            found = [ModelDeclined.model_validate_json(d) for d in
                     await stored(bus, bus.subjects.events("model_declined"), bus.subjects.events_stream)]
            return next((d for d in found if d.campaign_id == "c3"), None)
        decline = await wait_until(declined, timeout=60)
        assert decline.covers == 0 and "no model named 'nosuch'" in decline.reason


def test_imported_measurements_spend_no_budget() -> None:
    ledger = CampaignLedger(campaign_spec("c1").model_copy(update={"budget": 4, "batch_size": 2}))
    for i in range(3):
        ledger.apply(Measurement(id=f"imp-{i}", campaign_id="c1", run_id=f"old-{i}", design=Design(knockouts=["b1380"]),
                                 source=MeasurementSource.IMPORT, growth_rate=Value(value=0.5),
                                 products={"EX_succ_e": Value(value=1.0 + i)}))
    assert len(ledger.observations()) == 3 and ledger.best()[0] == 3.0  # they count as data ...
    assert ledger.used == 0 and ledger.capacity() == 2 and not ledger.budget_spent  # ... not as experiments
