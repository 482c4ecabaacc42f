"""The dashboard's growth curves: pick a design, see its measured ln OD curves and, with a dynamic model file
(`FLUXLAB_DYNAMIC_MODEL`), the predicted curve and its 95 % band (`services/report/curves.py`)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response

from schemas import CampaignSpec, Measurement
from services.report import curves
from services.review.gate import ReviewGate
from services.review.names import describe


def curve_id(group: curves.DesignCurves) -> str:
    """A short, stable id of a design-and-medium's curves (the `design` query parameter)."""
    return hashlib.sha256(f"{group.key}|{sorted(group.medium.items())}".encode()).hexdigest()[:12]


def curve_groups(spec: CampaignSpec, measured: list[Measurement]) -> list[curves.DesignCurves]:
    """The campaign's designs with measured curves, labelled with the organism's gene names."""
    model = None if spec.is_function else spec.organism.model
    return curves.by_design(measured, lambda d: describe(d, model))


def curve_choices(spec: CampaignSpec, measured: list[Measurement], model: Path | None,
                  selected: str = "") -> dict[str, Any]:
    """The dashboard's curve section: the designs to choose from (id, label, runs), the selected one (the first
    when `selected` names none), and where predictions come from."""
    designs = [{"id": curve_id(g), "text": g.text, "runs": len(g.runs)} for g in curve_groups(spec, measured)]
    ids = [d["id"] for d in designs]
    return {"designs": designs, "selected": selected if selected in ids else (ids[0] if ids else ""),
            "model": str(model) if model is not None else None, "asked": spec.readout.time_course is not None}


def curve_png(spec: CampaignSpec, measured: list[Measurement], design: str, model: Path | None) -> bytes:
    """The PNG of one design's curves (HTTPException 404 when no design with curves has that id)."""
    from services.review.charts import curves_png

    groups = curve_groups(spec, measured)
    chosen = next((g for g in groups if curve_id(g) == design), None)
    if chosen is None:
        raise HTTPException(status_code=404, detail=f"design: no design with growth curves has id '{design}'")
    why_not = curves.predict(model, [chosen]) if model is not None else curves.NO_MODEL
    return curves_png(chosen, why_not)


def add_curve_routes(app: FastAPI, gate: ReviewGate, session: Callable[[Request], object],
                     model: Path | None) -> None:
    """`GET /campaigns/{id}/curves.png?design=ID` (a logged-in reviewer only)."""

    @app.get("/campaigns/{campaign_id}/curves.png")
    async def curves_chart(request: Request, campaign_id: str, design: str = "") -> Response:
        session(request)
        from services.runtime.consumer import InvalidMessage

        try:
            spec = await gate.spec_of(campaign_id)
        except InvalidMessage:
            raise HTTPException(status_code=404, detail=f"unknown campaign '{campaign_id}'") from None
        measured = await gate.tracker.measurements(campaign_id)
        png = await asyncio.to_thread(curve_png, spec, measured, design, model)
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})
