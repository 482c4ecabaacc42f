"""The dashboard's batch-adjusted effects table in a real Chromium, over a confounded simulated screen."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
from factories import campaign_spec, created

from schemas import MeasurementSource
from services.review.auth import write_reviewers_file
from services.review.service import ReviewService
from services.review.settings import ReviewSettings
from services.review.tracker_client import TrackerClient
from services.runtime.bus import Bus
from services.runtime.settings import Settings
from services.tracker.service import TrackerService
from simulators.screening import ScreenConfig, simulate_screen

CHROMIUM = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium: install the 'chromium' package (/usr/bin/chromium)"),
]


async def test_dashboard_shows_effects_sorted_by_adjusted_effect(settings: Settings, bus: Bus,
                                                                 tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    reviewers = tmp_path / "reviewers.toml"
    write_reviewers_file(reviewers, {"alice": "wonderland-42"})
    settings.http_port = 0
    await bus.publish_event(created(campaign_spec("c1").model_copy(update={"name": "confounded screen"})))
    screen = simulate_screen(ScreenConfig(n_batches=12), seed=2, campaign_id="c1")
    items = [m.model_copy(update={"source": MeasurementSource.IMPORT}) for m in screen.measurements]
    await bus.publish_many([(bus.subjects.event("measurement", "c1"), m) for m in items])
    tracker = TrackerClient(bus)
    async with TrackerService(settings, bus=bus), ReviewService(
            settings, bus=bus, review_settings=ReviewSettings(reviewers_file=reviewers)) as service:
        assert isinstance(service, ReviewService) and service.http_url
        for _ in range(300):
            if len(await tracker.measurements("c1")) >= len(items):
                break
            await asyncio.sleep(0.2)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1280, "height": 1100})
            await page.goto(f"{service.http_url}/campaigns/c1/dashboard")
            await page.fill("input[name=user]", "alice")
            await page.fill("input[name=password]", "wonderland-42")
            await page.click("button[type=submit]")
            await page.wait_for_url("**/campaigns/c1/dashboard")
            rows = page.locator("table.effects tr")
            assert await rows.count() == 1 + len(screen.true_rr)
            names = [await rows.nth(i).locator("td").first.inner_text() for i in range(1, await rows.count())]
            assert set(names) == set(screen.true_rr)
            out = Path(os.environ.get("FLUXLAB_SCREENSHOT_DIR", tmp_path))
            out.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(out / "dashboard-effects.png"), full_page=True)
            await browser.close()
