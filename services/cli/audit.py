"""`fluxlab audit verify`: check the review decisions' hash chain and signatures in the tracker's database."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console

from services.cli import UserError
from services.cli.options import Config, DataDir, DbUrl, Json, settings_from

app = typer.Typer(help="The tamper-evident audit trail of review decisions.", no_args_is_help=True)
console = Console()


@app.command()
def verify(data_dir: DataDir = None, db_url: DbUrl = None, config: Config = None, json_out: Json = False) -> None:
    """Walk every decision's hash chain and HMAC; exit 1 and name the first broken link if any."""
    from sqlalchemy.exc import SQLAlchemyError

    from services.tracker.audit import audit_key
    from services.tracker.audit import verify as verify_chain
    from services.tracker.repository import Repository

    settings = settings_from(data_dir, None, db_url, None, config)
    url = settings.resolved_db_url()
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise UserError(f"db_url: no tracker database at {url}")
    try:
        key = audit_key(settings.data_dir, create=False)
        repo = Repository(url, migrate=False)
        try:
            rows, logged = repo.audit_records()
        finally:
            repo.dispose()
    except (SQLAlchemyError, ValueError, FileNotFoundError) as exc:
        raise UserError(f"audit: cannot read review decisions: {str(exc).splitlines()[0][:300]}") from None
    report = verify_chain(rows, key, logged)
    if json_out:
        print(json.dumps(report.as_dict()))
    elif report.ok:
        legacy = f" ({report.n_legacy} recorded before the chain, not verifiable)" if report.n_legacy else ""
        console.print(f"audit: {report.n_decisions} decisions, chain and signatures intact{legacy}")
    else:
        b = report.broken or {}
        console.print(f"[red]audit: broken at decision seq {b.get('seq')} ({b.get('id')}): "
                      f"{b.get('problem')}: {b.get('reason')}[/red]")
    if not report.ok:
        sys.exit(1)
