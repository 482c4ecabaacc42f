"""A reviewer logs in to the review page in a real Chromium, approves one proposal, rejects another and amends a
third (an unbuildable edit is refused on the page first)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from factories import campaign_spec, created

from schemas import (
    Design,
    ExecutorSpec,
    Measurement,
    MeasurementSource,
    Prediction,
    Proposal,
    ReviewMode,
    ReviewSpec,
    Value,
)
from schemas.queries import ReviewRecord
from services.review.auth import write_reviewers_file
from services.review.service import ReviewService
from services.review.settings import ReviewSettings
from services.review.tracker_client import TrackerClient
from services.runtime.bus import Bus
from services.runtime.settings import Settings
from services.tracker.service import TrackerService

CHROMIUM = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,  # about 80 s on a loaded 2-core machine
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium: install the 'chromium' package (/usr/bin/chromium)"),
]


async def _wait_until(check: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := await check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)
    return result


def _proposal(i: int, design: Design) -> Proposal:
    return Proposal(id=f"p{i}", campaign_id="c1", round=1, strategy="hybrid", design=design, model_version=2,
                    predicted={"EX_succ_e": Prediction(mean=3.2 + i, sd=0.4), "growth": Prediction(mean=0.61, sd=0.05)})


async def test_reviewer_approves_and_rejects_through_the_page(settings: Settings, bus: Bus, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    reviewers = tmp_path / "reviewers.toml"
    write_reviewers_file(reviewers, {"alice": "wonderland-42"}, names={"alice": "Alice Liddell"})
    settings.http_port = 0
    spec = campaign_spec("c1").model_copy(update={"review": ReviewSpec(mode=ReviewMode.HUMAN),
                                                  "executor": ExecutorSpec(station="s1"), "name": "succinate"})
    await bus.publish_event(created(spec))
    await bus.publish_event(_proposal(0, Design(knockouts=["b1380", "b2297"], expression={"b3956": 2.0})))
    await bus.publish_event(_proposal(1, Design(knockouts=["b0903"], medium={"EX_o2_e": 5.0})))
    await bus.publish_event(_proposal(2, Design(knockouts=["b0903"], expression={"b3956": 0.5})))
    tracker = TrackerClient(bus)
    review_settings = ReviewSettings(reviewers_file=reviewers)
    async with TrackerService(settings, bus=bus), ReviewService(settings, bus=bus,
                                                                review_settings=review_settings) as service:
        assert isinstance(service, ReviewService) and service.http_url
        await _wait_until(lambda: _n_pending(tracker, 3))
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1280, "height": 1000})
            await page.goto(f"{service.http_url}/campaigns/c1")
            assert "/login" in page.url
            await page.fill("input[name=user]", "alice")
            await page.fill("input[name=password]", "wonderland-42")
            await page.click("button[type=submit]")
            await page.wait_for_url("**/campaigns/c1")
            assert await page.locator("section.proposal").count() == 3
            await page.screenshot(path=str(_screenshot_dir(tmp_path) / "review-pending.png"), full_page=True)

            await page.locator('section[data-proposal-id="p0"] button.approve').click()
            await page.wait_for_selector("text=proposal p0 approved")
            rejected = page.locator('section[data-proposal-id="p1"]')
            await rejected.locator("button.reject").click()  # no reason: refused by the server
            await page.wait_for_selector("text=a rejection needs a reason")
            await rejected.locator("input[name=reason]").fill("aerobic limit makes this untestable on our plates")
            await rejected.locator("button.reject").click()
            await page.wait_for_selector("text=proposal p1 rejected")
            await _amend_through_the_page(page, tmp_path)
            await page.screenshot(path=str(_screenshot_dir(tmp_path) / "review-decided.png"), full_page=True)
            await bus.publish_event(Measurement(
                id="m-import", campaign_id="c1", run_id="lab-1", design=Design(knockouts=["b1380", "b2297"]),
                source=MeasurementSource.IMPORT, growth_rate=Value(value=0.45),
                products={"EX_succ_e": Value(value=4.1)}))
            await _wait_until(lambda: tracker.measurements("c1"))
            await page.goto(f"{service.http_url}/campaigns/c1/dashboard")
            await page.wait_for_load_state("networkidle")
            await page.screenshot(path=str(_screenshot_dir(tmp_path) / "dashboard.png"), full_page=True)
            await browser.close()

        reviews = await _wait_until(lambda: _reviews(tracker, 4))
        orders = await tracker.work_orders("c1")
    by_id = {r.proposal_id: r for r in reviews}
    assert by_id["p0"].action == "approve" and by_id["p0"].reviewer == "Alice Liddell <alice>"
    assert by_id["p0"].decided_at
    assert by_id["p1"].action == "reject"
    assert by_id["p1"].reason == "aerobic limit makes this untestable on our plates"
    assert by_id["p1"].reviewer == "Alice Liddell <alice>"
    assert by_id["p2"].action == "amend" and by_id["p2-v2"].action == "approve"
    (order,) = [o for o in orders if o.proposal_id == "p2-v2"]
    assert order.design.knockouts == ["b1380", "b2297"] and order.design.expression == {"b3956": 2.0}


async def _amend_through_the_page(page: Any, tmp_path: Path) -> None:
    """Amend p2 to knockouts the campaign cannot build: the page says why; then a buildable edit by gene names."""
    await page.locator('section[data-proposal-id="p2"] a', has_text="Amend").click()
    await page.wait_for_url("**/proposals/p2/amend")
    await page.fill("input[name=knockouts]", "b0723 b1852 ldhA")
    await page.fill("textarea[name=expression]", "b3956=9")
    await page.click("button.approve")
    error = page.locator("p.error")
    await error.wait_for()
    assert "knockouts[0]" in await error.inner_text() and "sdhA (b0723)" in await error.inner_text()
    assert await page.input_value("input[name=knockouts]") == "b0723 b1852 ldhA"
    await page.screenshot(path=str(_screenshot_dir(tmp_path) / "review-amend-refused.png"), full_page=True)
    await page.fill("input[name=knockouts]", "ldhA pta")
    await page.fill("textarea[name=expression]", "ppc=2")
    await page.click("button.approve")
    await page.wait_for_selector("text=proposal p2 amended")
    assert await page.locator('section[data-proposal-id="p2"]').count() == 0


def _screenshot_dir(tmp_path: Path) -> Path:
    path = Path(os.environ.get("FLUXLAB_SCREENSHOT_DIR", tmp_path))
    path.mkdir(parents=True, exist_ok=True)
    return path


async def _n_pending(tracker: TrackerClient, n: int) -> bool:
    return len(await tracker.proposals("c1", "pending")) >= n


async def _reviews(tracker: TrackerClient, n: int) -> list[ReviewRecord] | None:
    reviews = await tracker.reviews("c1")
    return reviews if len(reviews) >= n else None
