"""The review web pages (FastAPI + Jinja2, server-rendered, plain HTML forms; no JavaScript)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from schemas import CampaignSpec, Design, ExecutorKind, ProposalStatus, ReviewAction, WorkOrderStatus
from schemas.queries import ProposalRecord
from services.domain import lifecycle
from services.report.envelope import unit_of
from services.review import bench, charts
from services.review.auth import Reviewer, SessionSigner
from services.review.coverage import coverage_by_round
from services.review.curves_web import add_curve_routes, curve_choices
from services.review.explain import Explainer
from services.review.forms import DesignInputError, design_form_values, design_from_form
from services.review.gate import ReviewGate, ReviewRefused
from services.review.names import describe, label
from services.runtime.consumer import InvalidMessage

SESSION_COOKIE = "fluxlab_session"
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.globals["label"] = label
TEMPLATES.env.globals["describe"] = describe
TEMPLATES.env.globals["unit_of"] = unit_of


class _LoginRequired(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def create_app(gate: ReviewGate, signer: SessionSigner, dynamic_model: Path | None = None) -> FastAPI:
    """The review web app over one gate; sessions signed by `signer`; `dynamic_model`: a model file whose
    predicted growth curves the dashboard draws with the measured ones."""
    app = FastAPI(title="fluxlab review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.gate, app.state.signer = gate, signer

    @app.exception_handler(_LoginRequired)
    async def _to_login(request: Request, exc: _LoginRequired) -> Response:
        return RedirectResponse("/login?" + urlencode({"next": exc.next_url}), status_code=303)

    _add_login_routes(app, gate, signer)
    _add_campaign_routes(app, gate, signer, Explainer(gate.bus))
    _add_bench_routes(app, gate, signer)
    _add_dashboard_routes(app, gate, signer, dynamic_model)
    add_curve_routes(app, gate, lambda request: _session(request, gate, signer), dynamic_model)
    return app


def _session(request: Request, gate: ReviewGate, signer: SessionSigner) -> tuple[Reviewer, str]:
    """The logged-in reviewer and their CSRF token; otherwise redirect to the login page."""
    token = request.cookies.get(SESSION_COOKIE)
    user = signer.verify(token)
    reviewer = gate.reviewers.get(user) if user else None
    if reviewer is None or token is None:
        raise _LoginRequired(request.url.path)
    return reviewer, signer.csrf_token(token)


def _check_csrf(request: Request, signer: SessionSigner, csrf: str) -> None:
    token = request.cookies.get(SESSION_COOKIE) or ""
    if csrf != signer.csrf_token(token):
        raise HTTPException(status_code=403, detail="form expired or forged: reload the page and try again")


def _back(path: str, **params: str) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v})
    return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)


def _add_login_routes(app: FastAPI, gate: ReviewGate, signer: SessionSigner) -> None:
    @app.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, next: str = "/", error: str = "") -> Response:
        return TEMPLATES.TemplateResponse(request, "login.html", {"next": next, "error": error, "reviewer": None})

    @app.post("/login")
    async def login(request: Request, user: str = Form(""), password: str = Form(""),
                    next: str = Form("/")) -> Response:
        reviewer = await asyncio.to_thread(gate.reviewers.authenticate, user.strip(), password)
        if reviewer is None:
            return TEMPLATES.TemplateResponse(
                request, "login.html", {"next": next, "error": "unknown reviewer or wrong password", "reviewer": None},
                status_code=401,
            )
        target = next if next.startswith("/") and not next.startswith("//") else "/"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, signer.issue(reviewer.user), max_age=int(signer.ttl_s), httponly=True,
                            samesite="lax")
        return response

    @app.post("/logout")
    async def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response


def _plain(records: Sequence[BaseModel]) -> list[dict[str, Any]]:
    """Records in their JSON form (what the templates, the bench forms and the charts read)."""
    return [r.model_dump(mode="json") for r in records]


def _proposal_view(record: ProposalRecord, spec: CampaignSpec) -> dict[str, Any]:
    plain = record.model_dump(mode="json")
    predicted = plain["predicted"]
    return {**plain, "design_obj": record.design, "description": describe(record.design, _model_of(spec)),
            "objective": predicted.get(spec.objective.target), "growth": predicted.get("growth"),
            "other_predictions": {k: v for k, v in predicted.items() if k not in (spec.objective.target, "growth")}}


def _model_of(spec: CampaignSpec) -> str | None:
    """The organism model whose names label the campaign's genes (None for function campaigns)."""
    return None if spec.is_function else spec.organism.model


async def _campaign_context(gate: ReviewGate, campaign_id: str, explainer: Explainer | None = None) -> dict[str, Any]:
    try:
        spec = await gate.spec_of(campaign_id)
    except InvalidMessage:
        raise HTTPException(status_code=404, detail=f"unknown campaign '{campaign_id}'") from None
    proposals, reviews = await asyncio.gather(gate.tracker.proposals(campaign_id), gate.tracker.reviews(campaign_id))
    why = await explainer.explain(spec, [p for p in proposals if p.status == ProposalStatus.PENDING]) \
        if explainer is not None else {}
    views = [{**_proposal_view(p, spec), **(why[p.id].as_record() if p.id in why else {})} for p in proposals]
    for view in views:  # decided here a moment ago, not recorded by the tracker yet: never offer its buttons again
        if view["status"] == ProposalStatus.PENDING and gate.is_decided(view["id"]):
            view["status"] = "decided (being recorded)"
    decisions = {r.proposal_id: r.model_dump(mode="json") for r in reviews}
    pending = ProposalStatus.PENDING
    return {"spec": spec, "campaign_id": campaign_id,
            "pending": [v for v in views if v["status"] == pending],
            "decided": [{**v, "decision": decisions.get(v["id"])} for v in views if v["status"] != pending]}


def _add_campaign_routes(app: FastAPI, gate: ReviewGate, signer: SessionSigner, explainer: Explainer) -> None:
    @app.get("/", response_class=HTMLResponse)
    async def campaigns(request: Request) -> Response:
        reviewer, csrf = _session(request, gate, signer)
        summaries = await gate.tracker.campaigns()
        return TEMPLATES.TemplateResponse(request, "campaigns.html",
                                          {"reviewer": reviewer, "csrf": csrf, "campaigns": summaries})

    @app.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
    async def campaign(request: Request, campaign_id: str, msg: str = "", error: str = "") -> Response:
        reviewer, csrf = _session(request, gate, signer)
        context = await _campaign_context(gate, campaign_id, explainer)
        return TEMPLATES.TemplateResponse(request, "campaign.html", {
            **context, "reviewer": reviewer, "csrf": csrf, "msg": msg, "error": error,
        }, status_code=400 if error else 200)

    @app.post("/campaigns/{campaign_id}/proposals/{proposal_id}/{verb}")
    async def decide(request: Request, campaign_id: str, proposal_id: str, verb: str, csrf: str = Form(""),
                     reason: str = Form(""), knockouts: str = Form(""), expression: str = Form(""),
                     medium: str = Form(""), parameters: str = Form("")) -> Response:
        reviewer, _ = _session(request, gate, signer)
        _check_csrf(request, signer, csrf)
        if verb not in tuple(ReviewAction):
            raise HTTPException(status_code=404, detail=f"unknown action '{verb}'")
        action = ReviewAction(verb)
        page = f"/campaigns/{quote(campaign_id)}"
        try:
            amend = action == ReviewAction.AMEND
            design = design_from_form(knockouts, expression, medium, parameters) if amend else None
            await gate.decide(reviewer, action, proposal_id, reason=reason, campaign_id=campaign_id,
                              design=design)
        except (ReviewRefused, DesignInputError) as exc:
            if action != ReviewAction.AMEND:
                return _back(page, error=str(exc))
            typed = {"knockouts": knockouts, "expression": expression, "medium": medium, "parameters": parameters}
            return _back(f"{page}/proposals/{quote(proposal_id)}/amend", error=str(exc), **typed)
        await gate.wait_recorded(campaign_id, proposal_id)
        return _back(page, msg=f"proposal {proposal_id} {lifecycle.target(action)}")

    @app.get("/campaigns/{campaign_id}/proposals/{proposal_id}/amend", response_class=HTMLResponse)
    async def amend_form(request: Request, campaign_id: str, proposal_id: str, error: str = "",
                         knockouts: str | None = None, expression: str | None = None, medium: str | None = None,
                         parameters: str | None = None) -> Response:
        reviewer, csrf = _session(request, gate, signer)
        context = await _campaign_context(gate, campaign_id)
        found = [p for p in context["pending"] if p["id"] == proposal_id]
        if not found:
            return _back(f"/campaigns/{quote(campaign_id)}", error=f"proposal {proposal_id} is not pending")
        return TEMPLATES.TemplateResponse(request, "amend.html", {
            "reviewer": reviewer, "csrf": csrf, "spec": context["spec"], "campaign_id": campaign_id,
            "proposal": found[0], "error": error, "form": _typed_or_proposed(
                found[0]["design_obj"], knockouts=knockouts, expression=expression, medium=medium,
                parameters=parameters),
        }, status_code=400 if error else 200)


def _typed_or_proposed(design: Design, **typed: str | None) -> dict[str, str]:
    """The amend form's fields: what the reviewer typed (after a refusal), else the proposed design."""
    if any(v is not None for v in typed.values()):
        return {k: v or "" for k, v in typed.items()}
    return design_form_values(design)


async def _open_bench_orders(gate: ReviewGate, campaign_id: str) -> dict[str, dict[str, Any]]:
    orders = await gate.tracker.work_orders(campaign_id, status=WorkOrderStatus.ISSUED)
    return {o.run_id: o.model_dump(mode="json") for o in orders if o.queue == ExecutorKind.BENCH.value}


def _add_bench_routes(app: FastAPI, gate: ReviewGate, signer: SessionSigner) -> None:
    @app.get("/campaigns/{campaign_id}/bench", response_class=HTMLResponse)
    async def bench_page(request: Request, campaign_id: str, msg: str = "", error: str = "") -> Response:
        reviewer, csrf = _session(request, gate, signer)
        spec = await _spec_or_404(gate, campaign_id)
        orders = await _open_bench_orders(gate, campaign_id)
        views = [{**o, "description": describe(Design.model_validate(o["design"]), _model_of(spec))}
                 for o in orders.values()]
        return TEMPLATES.TemplateResponse(request, "bench.html", {
            "reviewer": reviewer, "csrf": csrf, "spec": spec, "campaign_id": campaign_id, "orders": views,
            "msg": msg, "error": error,
        }, status_code=400 if error else 200)

    @app.get("/campaigns/{campaign_id}/bench/template.csv")
    async def bench_template(request: Request, campaign_id: str) -> Response:
        _session(request, gate, signer)
        spec = await _spec_or_404(gate, campaign_id)
        orders = list((await _open_bench_orders(gate, campaign_id)).values())
        return Response(bench.csv_template(spec, orders), media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{campaign_id}-bench-plate-map.csv"'})

    @app.post("/campaigns/{campaign_id}/bench/runs/{run_id}")
    async def enter_measurement(request: Request, campaign_id: str, run_id: str, csrf: str = Form(""),
                                growth: str = Form(""), objective: str = Form(""), fluxes: str = Form(""),
                                note: str = Form("")) -> Response:
        _session(request, gate, signer)
        _check_csrf(request, signer, csrf)
        page = f"/campaigns/{quote(campaign_id)}/bench"
        spec = await _spec_or_404(gate, campaign_id)
        order = (await _open_bench_orders(gate, campaign_id)).get(run_id)
        if order is None:
            return _back(page, error=f"run_id: '{run_id}' is not an open bench run of this campaign")
        try:
            measurement = await asyncio.to_thread(
                bench.bench_measurement, order, spec, bench.parse_number(growth, "growth", required=False),
                bench.parse_number(objective, spec.objective.target, required=False), bench.parse_fluxes(fluxes), note,
            )
        except bench.BenchInputError as exc:
            return _back(page, error=f"run {run_id}: {exc}")
        await gate.bus.publish_event(measurement)
        return _back(page, msg=f"measurement of {run_id} recorded")

    @app.post("/campaigns/{campaign_id}/bench/upload")
    async def upload_csv(request: Request, campaign_id: str, csrf: str = Form(""),
                         file: UploadFile = File(...)) -> Response:
        _session(request, gate, signer)
        _check_csrf(request, signer, csrf)
        page = f"/campaigns/{quote(campaign_id)}/bench"
        spec = await _spec_or_404(gate, campaign_id)
        try:
            text = (await file.read(4 * 1024 * 1024)).decode("utf-8-sig")
            orders = await _open_bench_orders(gate, campaign_id)
            items = await asyncio.to_thread(bench.csv_bench_measurements, text, spec, orders)
        except UnicodeDecodeError:
            return _back(page, error="file: not UTF-8 text")
        except bench.BenchInputError as exc:
            return _back(page, error=str(exc))
        await gate.bus.publish_many([(gate.bus.subjects.event("measurement", campaign_id), m) for m in items])
        return _back(page, msg=f"{len(items)} measurement(s) recorded")


async def _spec_or_404(gate: ReviewGate, campaign_id: str) -> CampaignSpec:
    try:
        return await gate.spec_of(campaign_id)
    except InvalidMessage:
        raise HTTPException(status_code=404, detail=f"unknown campaign '{campaign_id}'") from None


def _add_dashboard_routes(app: FastAPI, gate: ReviewGate, signer: SessionSigner, dynamic_model: Path | None) -> None:
    @app.get("/campaigns/{campaign_id}/dashboard", response_class=HTMLResponse)
    async def dashboard(request: Request, campaign_id: str, by: str = "batch_id", design: str = "") -> Response:
        if by not in ("batch_id", "plate_id"):
            raise HTTPException(status_code=400, detail=f"by: '{by}' is not a stratum column")
        reviewer, csrf = _session(request, gate, signer)
        spec = await _spec_or_404(gate, campaign_id)
        summaries = [c for c in await gate.tracker.campaigns() if c.campaign_id == campaign_id]
        t = gate.tracker
        measured, orders, proposals, models = await asyncio.gather(
            t.measurements(campaign_id), t.work_orders(campaign_id), t.proposals(campaign_id), t.models(campaign_id))
        coverage = coverage_by_round(spec, _plain(proposals), _plain(orders), measured, _plain(models))
        from services.analysis.views import effects_table  # statsmodels: seconds to import, once a page asks

        effects = await asyncio.to_thread(effects_table, spec, _plain(measured), by)
        return TEMPLATES.TemplateResponse(request, "dashboard.html", {
            "reviewer": reviewer, "csrf": csrf, "spec": spec, "campaign_id": campaign_id,
            "summary": summaries[0] if summaries else None, "charts": charts.charts_for(spec), "effects": effects,
            "by": by, "coverage": coverage, "curves": curve_choices(spec, measured, dynamic_model, design),
        })

    @app.get("/campaigns/{campaign_id}/charts/{name}.png")
    async def chart(request: Request, campaign_id: str, name: str) -> Response:
        _session(request, gate, signer)
        render = charts.CHARTS.get(name)
        if render is None:
            raise HTTPException(status_code=404, detail=f"unknown chart '{name}'")
        spec = await _spec_or_404(gate, campaign_id)
        t = gate.tracker
        measured, orders, proposals, models = await asyncio.gather(
            t.measurements(campaign_id), t.work_orders(campaign_id), t.proposals(campaign_id), t.models(campaign_id))
        data = charts.dashboard_data(spec, _plain(measured), _plain(orders), _plain(proposals), _plain(models))
        png = await asyncio.to_thread(render, data)
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})
