"""Options shared by every command, and settings built from them."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from services.cli import UserError
from services.runtime.settings import NATS_URL_FILE, Settings, load_settings
from services.runtime.stacks import running_data_dirs

DEFAULT_DATA_DIR = Path(".fluxlab")

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (default .fluxlab).")]
NatsUrl = Annotated[str | None, typer.Option("--nats-url", help="Existing NATS server/cluster URL.")]
DbUrl = Annotated[str | None, typer.Option("--db-url", help="Database URL (default SQLite in the data dir).")]
Namespace = Annotated[str | None, typer.Option("--namespace", help="Subject namespace (default fluxlab).")]
Config = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]
Json = Annotated[bool, typer.Option("--json", help="Print only JSON.")]


def settings_from(
    data_dir: Path | None = None, nats_url: str | None = None, db_url: str | None = None,
    namespace: str | None = None, config: Path | None = None, find_running: bool = True,
) -> Settings:
    """Settings: defaults -> file -> environment -> these command-line values.

    Against a stack started with `fluxlab up` (users on by default), commands connect as its `cli` user. With
    no data dir or NATS URL given anywhere and no stack in `./.fluxlab`, `find_running` picks the one running
    stack (`fluxlab up` or `fluxlab demo` elsewhere) from the per-user list (`services.runtime.stacks`).
    """
    settings = load_settings(data_dir=data_dir, nats_url=nats_url, db_url=db_url, namespace=namespace,
                             config=config)
    if find_running and data_dir is None and settings.nats_url is None and db_url is None \
            and "FLUXLAB_DATA_DIR" not in os.environ and settings.data_dir == DEFAULT_DATA_DIR \
            and not (settings.data_dir / NATS_URL_FILE).is_file():
        settings = _running_stack(settings)
    credentials = settings.data_dir / "nats-credentials.json"
    if settings.nats_user is None and settings.nats_creds is None and credentials.is_file():
        password = json.loads(credentials.read_text()).get("cli")
        if password:
            settings = settings.model_copy(update={"nats_user": "cli", "nats_password": password})
    return settings


def _running_stack(settings: Settings) -> Settings:
    """The settings of the one running stack, if exactly one runs (else unchanged, or a clear error)."""
    found = running_data_dirs()
    if not found:
        return settings
    if len(found) > 1:
        raise UserError("data_dir: several stacks are running; pick one with --data-dir "
                        + " or ".join(str(d) for d in found))
    print(f"using the running stack in {found[0]} (--data-dir picks another)", file=sys.stderr)
    return settings.model_copy(update={"data_dir": found[0]})
