"""`fluxlab up`, `fluxlab serve`, `fluxlab status`."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from services.cli.campaign import print_predictor_problems
from services.cli.options import Config, DataDir, DbUrl, Json, Namespace, NatsUrl, settings_from
from services.registry import SIMULATORS, load_service_class, service_names
from services.runtime.serve import run_service
from services.runtime.settings import Settings
from services.runtime.status import collect_status
from services.runtime.supervisor import Stack

console = Console()


def register(app: typer.Typer) -> None:
    """Add the stack commands to the app."""
    app.command()(up)
    app.command()(serve)
    app.command()(status)


def up(
    data_dir: DataDir = None, nats_url: NatsUrl = None, db_url: DbUrl = None, namespace: Namespace = None,
    config: Config = None,
    simulate: Annotated[bool, typer.Option("--simulate", help="Also run the robot and bench simulators.")] = False,
    station: Annotated[str, typer.Option(help="Robot simulator station.")] = "sim1",
    insecure: Annotated[bool, typer.Option(
        "--insecure", help="Run NATS without users or permissions (any local process may publish).")] = False,
) -> None:
    """Start embedded NATS (with per-service users and per-subject permissions) and every service; Ctrl-C stops."""
    settings = settings_from(data_dir, nats_url, db_url, namespace, config, find_running=False)
    names = service_names() + (list(SIMULATORS) if simulate else [])
    extra = {"robot-sim": ["--station", station]}
    announce_reviewer(settings)
    if insecure:
        console.print("[bold red]insecure: NATS runs without users or permissions; any local process can publish "
                      "review decisions and measurements[/bold red]")
    stack = Stack(settings, names, extra_args=extra, secure=not insecure, stations=[station]).start()
    stopping = {"flag": False}

    def _stop(*_: Any) -> None:
        stopping["flag"] = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    if stack.credentials:
        console.print(f"NATS users and permissions on; credentials in {settings.data_dir / 'nats-credentials.json'} "
                      "(owner-only)")
    console.print(f"fluxlab up: NATS {stack.nats_url}, namespace {settings.namespace}, "
                  f"db {settings.resolved_db_url()}, services: {', '.join(names)}")
    console.print(f"review page: http://127.0.0.1:{settings.http_port}/  (Ctrl-C to stop)")
    try:
        while not stopping["flag"]:
            for name in stack.poll():
                console.print(f"[yellow]{name} exited; restarted[/yellow]")
            time.sleep(0.5)
    finally:
        console.print("stopping…")
        stack.stop()
        console.print("fluxlab stopped cleanly")


def announce_reviewer(settings: Settings) -> None:
    """Create a reviewers file with a generated password on first use, and say so once."""
    from services.review.auth import ensure_dev_reviewers

    path = settings.data_dir / "reviewers.toml"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    password = ensure_dev_reviewers(path)
    if password:
        console.print(f"created reviewer 'reviewer' with password '{password}' (hashed in {path}; "
                      "add reviewers with `fluxlab review hash-password`)")


def serve(
    service: Annotated[str, typer.Argument(help="tracker, predictor, optimizer, review, robot-sim, bench-sim")],
    data_dir: DataDir = None, nats_url: NatsUrl = None, db_url: DbUrl = None, namespace: Namespace = None,
    config: Config = None,
    station: Annotated[str | None, typer.Option(help="Robot station (robot-sim).")] = None,
) -> None:
    """Run one service in the foreground until SIGINT/SIGTERM."""
    settings = settings_from(data_dir, nats_url, db_url, namespace, config, find_running=False)
    run_service(load_service_class(service), settings, station)


def status(
    data_dir: DataDir = None, nats_url: NatsUrl = None, namespace: Namespace = None, config: Config = None,
    json_out: Json = False,
) -> None:
    """Show services answering $SRV.PING, stream and consumer lag, and campaigns."""
    settings = settings_from(data_dir, nats_url, None, namespace, config)
    report = asyncio.run(collect_status(settings))
    if json_out:
        print(json.dumps(report))
        return
    console.print(f"NATS {report['nats_url']}  namespace [bold]{report['namespace']}[/bold]")
    _table("services", ["name", "id", "version"], report["services"])
    _table("streams", ["stream", "messages", "bytes"], report["streams"])
    durable = [c for c in report["consumers"] if c.get("durable", True)]
    _table("consumers", ["stream", "consumer", "pending", "ack_pending", "redelivered"], durable)
    replays = len(report["consumers"]) - len(durable)
    if replays:
        console.print(f"(and {replays} short-lived ordered consumer(s): services replaying the campaign events)")
    _table("campaigns", ["campaign_id", "status", "n_measurements", "n_pending_review", "best_value"],
           report["campaigns"])
    print_predictor_problems(report["campaigns"])


def readable(value: Any) -> str:
    """A table cell: 4 significant digits, a dash for nothing."""
    if value is None or value == "":
        return "–"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _table(title: str, columns: list[str], rows: list[dict[str, Any]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(readable(row.get(c)) for c in columns))
    console.print(table)
