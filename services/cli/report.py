"""`fluxlab report CAMPAIGN --out DIR`: the demo's report for any campaign, from the running tracker or its database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from services.cli import UserError
from services.cli.options import Config, DataDir, Json, Namespace, NatsUrl, settings_from

if TYPE_CHECKING:
    from services.report.records import CampaignRecords
    from services.runtime.settings import Settings

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add the report command."""
    app.command("report")(report)


def report(
    campaign: Annotated[str, typer.Argument(help="Campaign id.")],
    out: Annotated[Path, typer.Option("--out", help="Report folder.")] = Path("report"),
    db: Annotated[str | None, typer.Option(
        "--db", help="Read a tracker database instead of the running stack: a SQLite file or a database URL.")] = None,
    margin: Annotated[float | None, typer.Option(
        help="'Beats the incumbent' margin in objective units (default: the measured replicate sd).")] = None,
    hit_threshold: Annotated[float | None, typer.Option(
        "--hit-threshold", help="Also score the call 'is a hit' past this objective value.")] = None,
    dynamic_model: Annotated[Path | None, typer.Option(
        "--dynamic-model", help="A model file from `fluxlab predictor fit --model dynamic`: the growth-curve plot "
                                "adds its predicted curves with 95 % bands (without it: measurements only).")] = None,
    no_truth: Annotated[bool, typer.Option(
        "--no-truth", help="Simulated campaigns: skip the simulator's true optimum and true values.")] = False,
    data_dir: DataDir = None, nats_url: NatsUrl = None, namespace: Namespace = None, config: Config = None,
    json_out: Json = False,
) -> None:
    """Write report.html, the plots and summary.json of a campaign (real or simulated) into OUT."""
    from services.report.build import ReportOptions, build_report

    if margin is not None and margin < 0:
        raise UserError(f"margin: {margin} is negative (a margin is at least 0)")
    if dynamic_model is not None and not dynamic_model.is_file():
        raise UserError(f"dynamic-model: '{dynamic_model}' does not exist")
    records = _from_db(db, campaign) if db else _from_stack(settings_from(data_dir, nats_url, None, namespace, config),
                                                            campaign)
    truth = None
    if not no_truth and records.spec.simulator is not None:
        from services.cli.truth import simulated_truth

        with console.status("simulated campaign: the simulator's true optimum (cached after the first time)"):
            truth = simulated_truth(records.spec)
    with console.status(f"writing the report of {campaign} ({len(records.measurements)} measurements) to {out}"):
        full = build_report(out, records, truth, ReportOptions(margin=margin, hit_threshold=hit_threshold,
                                                                dynamic_model=dynamic_model))
    if json_out:
        print(json.dumps(full))
        return
    call = full["prospective"]["beats_incumbent"]
    from services.report.classify import sentence

    console.print(f"{campaign}: {full['n_measurements']} measurement(s), best {full['best_value']}; "
                  f"{sentence(call)}", highlight=False, soft_wrap=True)
    console.print(f"report: {out / 'report.html'}")


def _from_db(db: str, campaign: str) -> CampaignRecords:
    from sqlalchemy.exc import SQLAlchemyError

    from services.report.records import CampaignNotFound, from_database

    url = db if "://" in db else f"sqlite:///{db}"
    if "://" not in db and not Path(db).is_file():
        raise UserError(f"db: '{db}' does not exist")
    try:
        return from_database(url, campaign)
    except CampaignNotFound as exc:
        raise UserError(str(exc)) from None
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None)
        reason = str(orig) if orig is not None else type(exc).__name__
        raise UserError(f"db: '{db}' cannot be read as a tracker database ({reason})") from None


def _from_stack(settings: Settings, campaign: str) -> CampaignRecords:
    from nats.errors import NoRespondersError
    from nats.errors import TimeoutError as NatsTimeoutError

    from services.report.records import CampaignNotFound, from_tracker
    from services.runtime.rpc import RpcFailed
    from services.runtime.status import connect

    async def go() -> CampaignRecords:
        bus = await connect(settings, "fluxlab-report")
        try:
            return await from_tracker(bus, campaign)
        finally:
            await bus.close()

    try:
        return asyncio.run(go())
    except CampaignNotFound as exc:
        raise UserError(str(exc)) from None
    except RpcFailed as exc:
        raise UserError(str(exc)) from None
    except (NoRespondersError, NatsTimeoutError):
        raise UserError("tracker: not answering (is `fluxlab up` running? or read its database with --db)") from None
