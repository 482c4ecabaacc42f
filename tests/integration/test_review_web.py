"""The review pages over HTTP (no browser): login, CSRF, amend form, bench entry and CSV upload, dashboard."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from factories import campaign_spec, created
from test_review_gate import wait_until

from schemas import Design, ExecutorKind, ExecutorSpec, Measurement, Prediction, Proposal, ReviewMode, ReviewSpec
from schemas.queries import WorkOrderRecord
from services.review.auth import write_reviewers_file
from services.review.service import ReviewService
from services.review.settings import ReviewSettings
from services.review.tracker_client import TrackerClient
from services.runtime.bus import Bus
from services.runtime.settings import Settings
from services.tracker.service import TrackerService


@pytest.fixture
async def web(settings: Settings, bus: Bus, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, TrackerClient]]:
    """A bench campaign in human review with two pending proposals; a client of its pages."""
    reviewers = tmp_path / "reviewers.toml"
    write_reviewers_file(reviewers, {"bob": "bench-pw"})
    settings.http_port = 0
    spec = campaign_spec("c1").model_copy(update={"review": ReviewSpec(mode=ReviewMode.HUMAN),
                                                  "executor": ExecutorSpec(kind=ExecutorKind.BENCH)})
    await bus.publish_event(created(spec))
    for i in range(2):
        await bus.publish_event(Proposal(
            id=f"p{i}", campaign_id="c1", round=0, strategy="ga", design=Design(knockouts=["b1380"], expression={
                "b3956": 2.0 + i}), predicted={"EX_succ_e": Prediction(mean=2.0, sd=0.2)}))
    tracker = TrackerClient(bus)
    async with TrackerService(settings, bus=bus), ReviewService(
            settings, bus=bus, review_settings=ReviewSettings(reviewers_file=reviewers)) as service:
        assert isinstance(service, ReviewService)
        await wait_until(lambda: _pending(tracker, 2))
        async with httpx.AsyncClient(base_url=service.http_url or "", timeout=20.0) as client:
            yield client, tracker


async def _pending(tracker: TrackerClient, n: int) -> bool:
    return len(await tracker.proposals("c1", "pending")) >= n


async def _login(client: httpx.AsyncClient) -> str:
    bad = await client.post("/login", data={"user": "bob", "password": "nope", "next": "/"})
    assert bad.status_code == 401 and "wrong password" in bad.text
    ok = await client.post("/login", data={"user": "bob", "password": "bench-pw", "next": "/campaigns/c1"})
    assert ok.status_code == 303 and ok.headers["location"] == "/campaigns/c1"
    page = await client.get("/campaigns/c1")
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


async def test_pages_need_a_session_and_forms_need_the_csrf_token(web: tuple[httpx.AsyncClient, Any]) -> None:
    client, tracker = web
    for path in ("/", "/campaigns/c1", "/campaigns/c1/bench", "/campaigns/c1/dashboard"):
        response = await client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    client.cookies.set("fluxlab_session", "v1.Ym9i.99999999999.forged")
    assert (await client.get("/")).status_code == 303
    client.cookies.clear()
    await _login(client)
    assert (await client.get("/")).status_code == 200
    forged = await client.post("/campaigns/c1/proposals/p0/approve", data={"csrf": "x"})
    assert forged.status_code == 403
    assert await tracker.reviews("c1") == []


async def test_amend_then_bench_entry_and_csv_upload_then_dashboard(web: tuple[httpx.AsyncClient, Any],
                                                                   bus: Bus) -> None:
    client, tracker = web
    csrf = await _login(client)
    form = await client.get("/campaigns/c1/proposals/p0/amend")
    assert "b3956=2.0" in form.text
    bad = await client.post("/campaigns/c1/proposals/p0/amend",
                            data={"csrf": csrf, "knockouts": "b1380", "expression": "b3956=lots", "medium": ""})
    assert bad.status_code == 303 and "not+a+number" in bad.headers["location"]
    done = await client.post("/campaigns/c1/proposals/p0/amend", data={
        "csrf": csrf, "knockouts": "b1380 b2297", "expression": "b3956=2.0", "medium": "EX_o2_e=5"})
    assert done.status_code == 303 and "amended" in done.headers["location"]
    approve = await client.post("/campaigns/c1/proposals/p1/approve", data={"csrf": csrf})
    assert approve.status_code == 303

    async def two_orders() -> list[WorkOrderRecord] | None:
        orders = await tracker.work_orders("c1", "issued")
        return orders if len(orders) == 2 else None
    orders = {o.proposal_id: o for o in await wait_until(two_orders)}
    bench = await client.get("/campaigns/c1/bench")
    assert all(o.run_id in bench.text for o in orders.values())
    assert "ΔldhA (b1380)" in bench.text and "mmol/gDW/h" in bench.text
    template = await client.get("/campaigns/c1/bench/template.csv")
    assert template.status_code == 200 and all(o.run_id in template.text for o in orders.values())

    amended_run, other_run = orders["p0-v2"].run_id, orders["p1"].run_id
    entered = await client.post(f"/campaigns/c1/bench/runs/{amended_run}", data={
        "csrf": csrf, "growth": "0.42", "objective": "3.3", "fluxes": "PGI=4.2, PFK=7.1±0.3"})
    assert entered.status_code == 303 and "recorded" in entered.headers["location"]
    negative = await client.post(f"/campaigns/c1/bench/runs/{other_run}", data={"csrf": csrf, "growth": "-0.1"})
    assert f"run+{other_run}%3A+growth%3A+-0.1+is+negative" in negative.headers["location"]
    wrong = "run_id,growth,product:EX_succ_e\nrun-nope,0.4,1.0\n"
    refused = await client.post("/campaigns/c1/bench/upload", data={"csrf": csrf},
                                files={"file": ("m.csv", wrong.encode(), "text/csv")})
    assert "not+an+open+bench+run" in refused.headers["location"]
    good = f"run_id,growth,product:EX_succ_e,sd:product:EX_succ_e\n{other_run},0.38,2.5,0.1\n"
    uploaded = await client.post("/campaigns/c1/bench/upload", data={"csrf": csrf},
                                 files={"file": ("m.csv", good.encode(), "text/csv")})
    assert "1+measurement" in uploaded.headers["location"]

    async def measured() -> list[Measurement] | None:
        items = await tracker.measurements("c1")
        return items if len(items) == 2 else None
    items = {m.run_id: m for m in await wait_until(measured)}
    hand = items[amended_run]
    assert hand.source == "bench" and hand.readout("EX_succ_e") == 3.3 and hand.fluxes["PFK"].sd == 0.3
    assert hand.design.key() == Design(knockouts=["b1380", "b2297"], expression={"b3956": 2.0},
                                       medium={"EX_o2_e": 5.0}).key()
    assert items[other_run].source == "bench" and items[other_run].readout("growth") == 0.38

    dashboard = await client.get("/campaigns/c1/dashboard")
    assert dashboard.status_code == 200
    assert 'charts/envelope.png' in dashboard.text and "Prospective coverage" in dashboard.text
    for name in ("envelope", "best", "parity", "metrics"):
        png = await client.get(f"/campaigns/c1/charts/{name}.png")
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


async def test_an_unbuildable_amendment_is_refused_on_the_page_and_a_decision_is_not_shown_as_pending(
        web: tuple[httpx.AsyncClient, Any], bus: Bus) -> None:
    client, tracker = web
    csrf = await _login(client)
    typed = {"csrf": csrf, "knockouts": "b0723 b1852 ldhA", "expression": "b3956=9", "medium": ""}
    refused = await client.post("/campaigns/c1/proposals/p0/amend", data=typed, follow_redirects=True)
    assert refused.status_code == 400
    assert "not a knockout candidate of this campaign" in refused.text and "sdhA (b0723)" in refused.text
    assert 'value="b0723 b1852 ldhA"' in refused.text  # what the reviewer typed is kept for correction
    assert await tracker.work_orders("c1") == [] and await tracker.reviews("c1") == []

    page = await client.post("/campaigns/c1/proposals/p0/amend", follow_redirects=True, data={
        "csrf": csrf, "knockouts": "ldhA pta", "expression": "ppc=2", "medium": ""})
    assert page.status_code == 200 and "proposal p0 amended" in page.text
    pending = page.text.split("<h2>Decided")[0]
    assert 'id="proposal-p0"' not in pending and "/proposals/p0/approve" not in pending
    assert 'id="proposal-p1"' in pending and "ΔldhA (b1380)" in pending

    async def one_order() -> list[WorkOrderRecord] | None:  # the tracker records the work event asynchronously
        orders = await tracker.work_orders("c1")
        return orders or None
    (order,) = await wait_until(one_order)
    assert order.design.knockouts == ["b1380", "b2297"]


async def test_the_page_a_decision_returns_to_no_longer_lists_it_as_pending(
        web: tuple[httpx.AsyncClient, Any], bus: Bus) -> None:
    """Bug 6 of issue 18: the banner said 'approved'/'amended' while the card stayed pending with live buttons
    (the page was drawn from the tracker before it had recorded the decision, as on a busy stack)."""
    client, tracker = web
    csrf = await _login(client)
    spec = campaign_spec("c2").model_copy(update={"review": ReviewSpec(mode=ReviewMode.HUMAN)})
    await bus.publish_event(created(spec))
    for verb, pid, fields in (("approve", "p0", {}),
                              ("amend", "p1", {"knockouts": "b1380", "expression": "b3956=2.5", "medium": ""})):
        await asyncio.gather(*(bus.publish_event(Proposal(  # another campaign's work ahead of the decision
            id=f"{verb}-{i}", campaign_id="c2", round=0, strategy="ga", design=Design(knockouts=["b1380"])))
            for i in range(300)))
        page = await client.post(f"/campaigns/c1/proposals/{pid}/{verb}", data={"csrf": csrf, **fields},
                                 follow_redirects=True)
        past = {"approve": "approved", "amend": "amended"}[verb]
        assert page.status_code == 200 and f"proposal {pid} {past}" in page.text, page.text
        pending, decided = page.text.split("<h2>Decided")
        assert f'id="proposal-{pid}"' not in pending and f"/proposals/{pid}/{verb}" not in pending, verb
        assert f'data-proposal-id="{pid}"' in decided, verb
    assert len(await tracker.work_orders("c1")) == 2


async def test_a_proposal_ranked_in_silico_shows_the_organism_models_value_as_such(
        web: tuple[httpx.AsyncClient, Any], bus: Bus) -> None:
    client, tracker = web
    await bus.publish_event(Proposal(id="p9", campaign_id="c1", round=0, strategy="hybrid", insilico=3.217,
                                     design=Design(knockouts=["b0723"])))
    await wait_until(lambda: _pending(tracker, 3))
    await _login(client)
    page = (await client.get("/campaigns/c1")).text
    card = page.split('id="proposal-p9"')[1].split("</section>")[0]
    assert "3.217 in silico" in card and "± 0" not in card
    assert "sdhA (b0723)" in card and "no uncertainty" in page
