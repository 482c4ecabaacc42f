"""`fluxlab campaign init|start|pause|resume|stop|status|list|run`."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from schemas import CampaignEvent, CampaignEventKind, CampaignSpec
from services.cli import UserError
from services.cli.options import Config, DataDir, Json, Namespace, NatsUrl, settings_from
from services.runtime.campaign_client import CampaignClient, ProgressFn
from services.runtime.settings import Settings
from services.runtime.specfile import SpecFileError, load_spec
from services.runtime.status import connect

app = typer.Typer(help="Start, steer and inspect campaigns.", no_args_is_help=True)
console = Console(stderr=True)
SpecArg = Annotated[Path, typer.Argument(help="Campaign spec (.toml, .yaml or .json).")]
IdArg = Annotated[str, typer.Argument(help="Campaign id.")]


def read_spec(path: Path) -> CampaignSpec:
    """Load a spec file or fail with one clear line."""
    try:
        return load_spec(path)
    except SpecFileError as exc:
        raise UserError(str(exc)) from None


async def _with_bus(settings: Settings, fn: Any) -> Any:
    bus = await connect(settings, "fluxlab-cli", ensure=True)
    try:
        return await fn(CampaignClient(bus))
    finally:
        await bus.close()


@app.command()
def init(
    spec_file: Annotated[Path, typer.Argument(help="Where to write the starter spec (.toml).")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter spec (every field explained in docs/campaign-spec.md)."""
    from schemas.specdoc import starter_spec

    if spec_file.suffix != ".toml":
        raise UserError(f"spec: '{spec_file}' must end in .toml")
    if spec_file.exists() and not force:
        raise UserError(f"spec: '{spec_file}' exists (use --force to overwrite)")
    spec_file.write_text(starter_spec())
    console.print(f"wrote {spec_file}; edit it, then `fluxlab campaign start {spec_file}`")


@app.command()
def start(spec_file: SpecArg, data_dir: DataDir = None, nats_url: NatsUrl = None, namespace: Namespace = None,
          config: Config = None) -> None:
    """Create and start a campaign on the running stack; prints its id."""
    spec = read_spec(spec_file)
    settings = settings_from(data_dir, nats_url, None, namespace, config)
    asyncio.run(_with_bus(settings, lambda c: c.start(spec)))
    print(spec.id)


def _lifecycle(kind: CampaignEventKind) -> Any:
    def command(campaign_id: IdArg, data_dir: DataDir = None, nats_url: NatsUrl = None,
                namespace: Namespace = None, config: Config = None) -> None:
        settings = settings_from(data_dir, nats_url, None, namespace, config)
        asyncio.run(_with_bus(settings, lambda c: c.publish(CampaignEvent(campaign_id=campaign_id, kind=kind))))
        console.print(f"{campaign_id}: {kind.value}")

    command.__doc__ = f"Mark a campaign {kind.value}."
    return command


app.command("pause")(_lifecycle(CampaignEventKind.PAUSED))
app.command("resume")(_lifecycle(CampaignEventKind.RESUMED))
app.command("stop")(_lifecycle(CampaignEventKind.STOPPED))


@app.command()
def status(campaign_id: Annotated[str | None, typer.Argument(help="Campaign id (default: the only one).")] = None,
           data_dir: DataDir = None, nats_url: NatsUrl = None, namespace: Namespace = None,
           config: Config = None, json_out: Json = False) -> None:
    """Counts and best-so-far of one campaign (or of every campaign when there are several)."""
    settings = settings_from(data_dir, nats_url, None, namespace, config)
    summaries = asyncio.run(_with_bus(settings, lambda c: c.summaries(campaign_id)))
    if campaign_id is None and not summaries:
        raise UserError("campaign_id: no campaigns yet (start one with `fluxlab campaign start SPEC`)")
    _print_summaries(summaries, json_out)


@app.command("list")
def list_campaigns(data_dir: DataDir = None, nats_url: NatsUrl = None, namespace: Namespace = None,
                   config: Config = None, json_out: Json = False) -> None:
    """Every campaign with its status."""
    settings = settings_from(data_dir, nats_url, None, namespace, config)
    _print_summaries(asyncio.run(_with_bus(settings, lambda c: c.summaries(None))), json_out)


SUMMARY_COLUMNS = {"campaign_id": "campaign", "name": "name", "status": "status", "n_measurements": "meas.",
                   "n_pending_review": "pend.", "n_failed": "fail.", "n_models": "models", "best_value": "best"}
"""Summary field -> column header (the table fits 80 columns; --json has every field)."""


def readable(value: Any) -> str:
    """A table cell: 4 significant digits, a dash for nothing."""
    if value is None or value == "":
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _print_summaries(summaries: list[dict[str, Any]], json_out: bool) -> None:
    if json_out:
        print(json.dumps(summaries))
        return
    table = Table()
    for key, header in SUMMARY_COLUMNS.items():
        table.add_column(header, overflow="fold", min_width=8 if key in ("campaign_id", "name") else None)
    for s in summaries:
        table.add_row(*(readable(s.get(c)) for c in SUMMARY_COLUMNS))
    Console().print(table)
    print_predictor_problems(summaries)


def print_predictor_problems(summaries: list[dict[str, Any]]) -> None:
    """One line per problem the predictor reported (training failed, measurements left out)."""
    for s in summaries:
        for problem in s.get("predictor_problems") or []:
            Console(soft_wrap=True).print(f"[bold red]{s['campaign_id']}: predictor:[/bold red] {problem}",
                                          markup=True, highlight=False)


@app.command()
def run(spec_file: SpecArg, data_dir: DataDir = None, nats_url: NatsUrl = None, namespace: Namespace = None,
        config: Config = None, json_out: Json = False,
        timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 1800.0) -> None:
    """Run a campaign to completion (starting a stack if none runs) and print its JSON summary."""
    spec = read_spec(spec_file)
    settings = settings_from(data_dir, nats_url, None, namespace, config)
    summary = run_campaign(spec, settings, timeout, progress=_progress_printer())  # stderr: --json stays clean
    if json_out:
        print(json.dumps(summary))
    else:
        Console().print_json(json.dumps(summary))
        console.print(f"campaign {spec.id} completed: best {summary['best_value']}")


def _progress_printer() -> ProgressFn:
    def show(done: int, total: int, best: float | None) -> None:
        console.print(f"  {done}/{total} experiments, best so far {readable(best)}")

    return show


def run_campaign(spec: CampaignSpec, settings: Settings, timeout: float,
                 progress: ProgressFn | None = None) -> dict[str, Any]:
    """Run on the stack of `settings`, or on a fresh embedded one when none is running."""
    from services.runtime.local_stack import running_stack_or_none, temporary_stack

    if settings.nats_url or running_stack_or_none(settings):
        return asyncio.run(_run_on(settings, spec, timeout, progress))
    data_dir = settings.data_dir if settings.data_dir != Path(".fluxlab") else Path(tempfile.mkdtemp(prefix="fx-"))
    with temporary_stack(settings.model_copy(update={"data_dir": data_dir}), spec) as stack_settings:
        return asyncio.run(_run_on(stack_settings, spec, timeout, progress))


async def _run_on(settings: Settings, spec: CampaignSpec, timeout: float,
                  progress: ProgressFn | None) -> dict[str, Any]:
    async def go(client: CampaignClient) -> dict[str, Any]:
        await client.start(spec)
        await client.wait_completed(spec, timeout, progress)
        return await client.summary(spec)

    result: dict[str, Any] = await _with_bus(settings, go)
    return result
