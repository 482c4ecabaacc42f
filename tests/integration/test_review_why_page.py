"""Why this design, for a real proposal: the page and `review show` name the interventions the trained model
credits, from the predictor's integrated gradients over `rpc.predict` (real nats-server, tracker, predictor)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
from factories import campaign_spec
from test_cli import fluxlab
from test_predictor_failures import _run
from test_review_gate import wait_until

from schemas import Design, Prediction, Proposal, ReviewMode, ReviewSpec
from services.predictor.service import PredictorService, PredictorSettings
from services.review.auth import write_reviewers_file
from services.review.models import REVIEW_LIST, ListRequest
from services.review.service import ReviewService
from services.review.settings import ReviewSettings
from services.review.tracker_client import TrackerClient
from services.runtime.bus import Bus
from services.runtime.campaign_client import CampaignClient
from services.runtime.nats_server import EmbeddedNats
from services.runtime.rpc import ask
from services.runtime.settings import Settings
from services.tracker.service import TrackerService


async def test_a_pending_proposal_shows_its_attributions_in_words(settings: Settings, bus: Bus, tmp_path: Path,
                                                                  nats_server: EmbeddedNats, namespace: str) -> None:
    reviewers = tmp_path / "reviewers.toml"
    write_reviewers_file(reviewers, {"bob": "pw"})
    settings.http_port = 0
    spec = campaign_spec("c1").model_copy(update={"review": ReviewSpec(mode=ReviewMode.HUMAN), "batch_size": 4})
    await CampaignClient(bus).start(spec)
    tracker = TrackerClient(bus)
    options = PredictorSettings(debounce_s=0.3, ensemble=1, epochs=20, kind="mlp")
    async with TrackerService(settings, bus=bus), ReviewService(
            settings, bus=bus, review_settings=ReviewSettings(reviewers_file=reviewers)) as review:
        assert isinstance(review, ReviewService)
        early = Proposal(id="p-early", campaign_id="c1", round=0, strategy="ga", design=Design(knockouts=["b1380"]))
        await bus.publish_event(early)
        await wait_until(lambda: tracker.proposals("c1", "pending"), timeout=30)
        before = await ask(bus, REVIEW_LIST, ListRequest(campaign_id="c1", proposal_id="p-early", status=None))
        assert before.proposals[0]["why"] is None
        assert before.proposals[0]["why_unavailable"] == "the predictor is not answering"

        async with PredictorService(settings, bus=bus, options=options):
            for i, knockouts in enumerate((["b1380"], ["b2297"], ["b0903"], ["b1380", "b2297"])):
                await _run(bus, "c1", i, knockouts)
            await wait_until(lambda: tracker.models("c1"), timeout=90)
            design = Design(knockouts=["b1380", "b2297"], expression={"b3956": 2.0})
            await bus.publish_event(Proposal(id="p-why", campaign_id="c1", round=1, strategy="ga", design=design,
                                             model_version=1, predicted={"EX_succ_e": Prediction(mean=1.3, sd=0.1)}))
            await wait_until(lambda: _pending(tracker, 2), timeout=30)
            reply = await ask(bus, REVIEW_LIST, ListRequest(campaign_id="c1", proposal_id="p-why", status=None))
            (record,) = reply.proposals
            assert record["why_model_version"] == 1 and record["why_method"] == "shapley"
            assert set(record["why_attributions"]) == {"ko:b1380", "ko:b2297", "expr:b3956"}
            words = record["why"]
            assert re.fullmatch(r"(Δ(ldhA|pta)|ppc ×2) [+−][0-9.e+−-]+(, (Δ(ldhA|pta)|ppc ×2) [+−][0-9.e+−-]+)*",
                                words), words
            env = {"FLUXLAB_NATS_URL": nats_server.url, "FLUXLAB_NAMESPACE": namespace}
            shown = await asyncio.to_thread(fluxlab, "review", "show", "p-why", "--campaign", "c1", env=env)
            assert shown.returncode == 0, shown.stderr
            assert f"why: {words} (model v1, predicted change from wild type)" in shown.stdout
            async with httpx.AsyncClient(base_url=review.http_url or "", timeout=20.0) as client:
                await client.post("/login", data={"user": "bob", "password": "pw", "next": "/campaigns/c1"})
                page = (await client.get("/campaigns/c1")).text
            card = page.split('id="proposal-p-why"')[1].split("</section>")[0]
            assert "Why this design" in card and words in card and "model v1" in card
            early_card = page.split('id="proposal-p-early"')[1].split("</section>")[0]
            assert words in card and "Why this design" in early_card  # the same model explains the early one now


async def _pending(tracker: TrackerClient, n: int) -> bool:
    return len(await tracker.proposals("c1", "pending")) >= n
