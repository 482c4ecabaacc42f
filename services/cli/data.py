"""`fluxlab schemas export`, `fluxlab import measurements`, `fluxlab export`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from schemas import Measurement
from schemas.queries import CampaignQuery
from schemas.rpc import TRACKER_MEASUREMENTS
from services.cli import UserError
from services.cli.options import Config, DataDir, Namespace, NatsUrl, settings_from
from services.runtime.campaigns import CampaignDirectory
from services.runtime.rpc import RpcFailed, ask
from services.runtime.settings import Settings
from services.runtime.status import connect
from services.tracker.csvio import CsvRowError, check_measurements, load_measurements, write_measurements
from services.tracker.timecourse_csv import write_time_courses

console = Console(stderr=True)
schemas_app = typer.Typer(help="The wire contract.", no_args_is_help=True)
import_app = typer.Typer(help="Import data.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the data commands."""
    app.add_typer(schemas_app, name="schemas")
    app.add_typer(import_app, name="import")
    app.command("export")(export)


@schemas_app.command("export")
def schemas_export(check: Annotated[bool, typer.Option("--check", help="Fail if files differ.")] = False) -> None:
    """Write JSON Schemas to schemas/json/ and the AsyncAPI document schemas/asyncapi.yaml."""
    from schemas.export import drift, write

    if check:
        stale = drift()
        if stale:
            raise UserError("generated contract is stale: " + ", ".join(p.name for p in stale))
        console.print("contract up to date")
        return
    for path in write():
        console.print(f"wrote {path}")


@import_app.command("measurements")
def import_measurements(
    file: Annotated[Path, typer.Argument(help="CSV file, one row per run (README 'Measurement CSV'; the older "
                                                "run_id/ko-list spelling is read too).")],
    campaign: Annotated[str, typer.Option("--campaign", help="Campaign id.")],
    data_dir: DataDir = None, nats_url: NatsUrl = None, namespace: Namespace = None, config: Config = None,
) -> None:
    """Validate every row against the campaign (ids, search space, organism model), then publish them all as
    Measurement events; nothing is published on any error."""
    if not file.is_file():
        raise UserError(f"file: '{file}' does not exist")
    try:
        items = load_measurements(file, campaign)
    except CsvRowError as exc:
        raise UserError(str(exc)) from None
    settings = settings_from(data_dir, nats_url, None, namespace, config)
    acks = asyncio.run(_publish(settings, campaign, items))
    new = sum(1 for a in acks if not a.duplicate)
    console.print(f"imported {new} measurement(s) into campaign {campaign} ({len(acks) - new} already present)")


async def _publish(settings: Settings, campaign: str, items: list[Measurement]) -> list:  # type: ignore[type-arg]
    bus = await connect(settings, "fluxlab-import", ensure=True)
    try:
        directory = CampaignDirectory(bus)
        await directory.start()
        state = directory.campaigns.get(campaign)
        await directory.stop()
        if state is None:
            known = ", ".join(sorted(directory.campaigns)) or "none"
            raise UserError(f"campaign: unknown campaign '{campaign}' (known: {known}); nothing imported")
        try:
            checked = await asyncio.to_thread(check_measurements, items, state.spec)
        except CsvRowError as exc:
            raise UserError(f"{exc}; nothing imported") from None
        subject = bus.subjects.event("measurement", campaign)
        return await bus.publish_many([(subject, m) for m in checked])
    finally:
        await bus.close()


def export(
    campaign: Annotated[str, typer.Argument(help="Campaign id.")],
    fmt: Annotated[str, typer.Option("--format", help="csv (one row per run) or timecourse (the long-form "
                                                      "curves.csv + runs.csv pair of docs/dynamic.md).")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="File to write (default stdout); for timecourse the "
                                                           "folder to write curves.csv and runs.csv into.")] = None,
    data_dir: DataDir = None, nats_url: NatsUrl = None, namespace: Namespace = None, config: Config = None,
) -> None:
    """Export a campaign's measurements in fluxlab's one CSV format (what import and `predictor cv|fit` read), or
    its time courses as the curves/runs pair (what `predictor cv|fit --model dynamic` reads)."""
    if fmt not in ("csv", "timecourse"):
        raise UserError(f"format: '{fmt}' is not supported (use csv or timecourse)")
    if fmt == "timecourse" and out is None:
        raise UserError("out: --format timecourse writes two files: give the folder with --out")
    settings = settings_from(data_dir, nats_url, None, namespace, config)
    records = asyncio.run(_fetch(settings, campaign))
    measurements = [Measurement.model_validate(r) for r in records]
    if fmt == "timecourse":
        assert out is not None
        _export_time_courses(measurements, out)
        return
    text = write_measurements(measurements)
    if out is None:
        print(text, end="")
    else:
        out.write_text(text)
        console.print(f"wrote {len(records)} measurement(s) to {out}")


def _export_time_courses(measurements: list[Measurement], out: Path) -> None:
    """curves.csv and runs.csv of the measurements that carry time courses (an error when none does)."""
    with_courses = [m for m in measurements if m.time_courses]
    if not with_courses:
        raise UserError(f"campaign: none of its {len(measurements)} measurement(s) carries a time course "
                        "(set readout.time_course in the spec to ask for them)")
    curves, runs = write_time_courses(with_courses)
    out.mkdir(parents=True, exist_ok=True)
    (out / "curves.csv").write_text(curves)
    (out / "runs.csv").write_text(runs)
    console.print(f"wrote the time courses of {len(with_courses)} run(s) to {out / 'curves.csv'} and "
                  f"{out / 'runs.csv'}")


async def _fetch(settings: Settings, campaign: str) -> list[dict]:  # type: ignore[type-arg]
    bus = await connect(settings, "fluxlab-export")
    try:
        try:
            return (await ask(bus, TRACKER_MEASUREMENTS, CampaignQuery(campaign_id=campaign))).records
        except RpcFailed as exc:
            raise UserError(str(exc)) from None
    finally:
        await bus.close()
