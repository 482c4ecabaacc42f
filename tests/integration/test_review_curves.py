"""The dashboard's growth curves over HTTP: pick a design, get its measured curves and, with
FLUXLAB_DYNAMIC_MODEL, the dynamic model's predicted band (real nats-server, tracker and review service)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import numpy as np
from factories import campaign_spec, created
from test_review_gate import wait_until

from schemas import CampaignSpec, Design, ExecutorKind, Measurement, WorkOrder
from schemas.timecourse import TimeCourseRequest
from services.predictor.dynamic import DynamicConfig, DynamicModel
from services.predictor.dynamic_files import save
from services.review.auth import write_reviewers_file
from services.review.service import ReviewService
from services.review.settings import ReviewSettings
from services.review.tracker_client import TrackerClient
from services.runtime.bus import Bus
from services.runtime.settings import Settings
from services.tracker.service import TrackerService
from simulators.cells import make_cell
from simulators.lab import Lab

TIMES = [0.0, 2.0, 4.0, 6.0, 8.0]
REQUEST = TimeCourseRequest(times_h=TIMES, initial_mM={"glc__D_e": 10.0})


def _measured() -> list[Measurement]:
    lab = Lab(make_cell("textbook"), station="s1")
    runs = [lab.run(d, "c1", f"run-{i}", readouts=["EX_succ_e"], time_course=REQUEST)
            for i, d in enumerate([Design(), Design(knockouts=["b1380"]), Design()])]
    assert all(isinstance(m, Measurement) for m in runs)
    return runs  # type: ignore[return-value]


def _model(path: Path, measured: list[Measurement]) -> Path:
    init = np.array([[10.0]] * len(measured))
    ln_od = np.array([m.time_courses["ln_od"].values for m in measured])
    model = DynamicModel(DynamicConfig(members=2, hidden=8, epochs=20, device="cpu")).fit(
        ["glc__D_e"], init, np.array(TIMES), ln_od)
    save(model, path, np.array(TIMES))
    return path


async def test_the_dashboard_draws_the_curves_of_a_selected_design(settings: Settings, bus: Bus,
                                                                   tmp_path: Path) -> None:
    reviewers = tmp_path / "reviewers.toml"
    write_reviewers_file(reviewers, {"bob": "pw"})
    settings.http_port = 0
    body = campaign_spec("c1").model_dump(mode="json")
    spec = CampaignSpec.model_validate({**body, "readout": {"time_course": REQUEST.model_dump()}})
    measured = _measured()
    model = _model(tmp_path / "dynamic.pt", measured)
    await bus.publish_event(created(spec))
    for m in measured:
        await bus.publish_event(WorkOrder(id=f"wo-{m.run_id}", campaign_id="c1", run_id=m.run_id,
                                          proposal_id=f"p-{m.run_id}", design=m.design, queue=ExecutorKind.ROBOT,
                                          station="s1", time_course=REQUEST))
        await bus.publish_event(m)
    tracker = TrackerClient(bus)
    async with TrackerService(settings, bus=bus), ReviewService(
            settings, bus=bus, review_settings=ReviewSettings(reviewers_file=reviewers, dynamic_model=model)) as svc:
        assert isinstance(svc, ReviewService)

        async def recorded() -> bool:
            return len(await tracker.measurements("c1")) == 3
        await wait_until(recorded)
        async with httpx.AsyncClient(base_url=svc.http_url or "", timeout=30.0) as client:
            assert (await client.get("/campaigns/c1/curves.png?design=x")).status_code == 303  # login first
            await client.post("/login", data={"user": "bob", "password": "pw", "next": "/"})
            page = await client.get("/campaigns/c1/dashboard")
            assert page.status_code == 200 and "Growth curves" in page.text
            assert f"dynamic model {model}" in page.text and "95 % band" in page.text
            options = re.findall(r'<option value="([0-9a-f]{12})"( selected)?>([^<]+)</option>', page.text)
            assert [(text, bool(sel)) for _, sel, text in options] == [("wild type (2 runs)", True),
                                                                       ("ΔldhA (b1380) (1 run)", False)]
            knockout = options[1][0]
            chosen = await client.get(f"/campaigns/c1/dashboard?design={knockout}")
            assert f'curves.png?design={knockout}"' in chosen.text
            png = await client.get(f"/campaigns/c1/curves.png?design={knockout}")
            assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
            unknown = await client.get("/campaigns/c1/curves.png?design=000000000000")
            assert unknown.status_code == 404 and "no design with growth curves" in unknown.text
