"""Options shared by every command, and settings built from them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from services.runtime.settings import Settings, load_settings

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (default .fluxlab).")]
NatsUrl = Annotated[str | None, typer.Option("--nats-url", help="Existing NATS server/cluster URL.")]
DbUrl = Annotated[str | None, typer.Option("--db-url", help="Database URL (default SQLite in the data dir).")]
Namespace = Annotated[str | None, typer.Option("--namespace", help="Subject namespace (default fluxlab).")]
Config = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]
Json = Annotated[bool, typer.Option("--json", help="Print only JSON.")]


def settings_from(
    data_dir: Path | None = None, nats_url: str | None = None, db_url: str | None = None,
    namespace: str | None = None, config: Path | None = None,
) -> Settings:
    """Settings: defaults -> file -> environment -> these command-line values.

    Against a stack started with `fluxlab up` (users on by default), commands connect as its `cli` user.
    """
    settings = load_settings(data_dir=data_dir, nats_url=nats_url, db_url=db_url, namespace=namespace,
                             config=config)
    credentials = settings.data_dir / "nats-credentials.json"
    if settings.nats_user is None and settings.nats_creds is None and credentials.is_file():
        password = json.loads(credentials.read_text()).get("cli")
        if password:
            settings = settings.model_copy(update={"nats_user": "cli", "nats_password": password})
    return settings
