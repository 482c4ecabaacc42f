"""`fluxlab models put|list`: base models a campaign can start from (`base_model` in its spec)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from nats.js.errors import BucketNotFoundError, NotFoundError
from rich.console import Console

from services.cli import UserError
from services.cli.options import Config, DataDir, Namespace, NatsUrl, settings_from
from services.predictor.base_models import BASE_PREFIX, uploaded_name
from services.predictor.errors import PredictorError
from services.runtime.settings import Settings
from services.runtime.status import connect

console = Console(stderr=True)
app = typer.Typer(help="Models campaigns can start from (a spec's base_model).", no_args_is_help=True)


def _check_model_file(file: Path) -> str:
    """The model's kind, or a UserError naming the file and the reason."""
    from services.predictor.deepmodel import DeepModel

    try:
        model = DeepModel.load(file)
    except Exception as exc:
        raise UserError(f"file: '{file}' is not a fluxlab model file ({type(exc).__name__})") from None
    return f"{model.config.kind}, outputs {', '.join(model.names)}"


@app.command("put")
def put(
    file: Annotated[Path, typer.Argument(help="A model file (`fluxlab predictor fit --out FILE`).")],
    name: Annotated[str, typer.Option("--name", help="The name a spec's base_model uses.")],
    data_dir: DataDir = None, nats_url: NatsUrl = None, namespace: Namespace = None, config: Config = None,
) -> None:
    """Upload a model file as a base model; a campaign whose spec says `base_model = NAME` starts from it."""
    if not file.is_file():
        raise UserError(f"file: '{file}' does not exist")
    try:
        object_name = uploaded_name(name)
    except PredictorError as exc:
        raise UserError(f"{exc.field}: {exc.reason}") from None
    described = _check_model_file(file)
    settings = settings_from(data_dir, nats_url, None, namespace, config)
    asyncio.run(_put(settings, object_name, file.read_bytes()))
    console.print(f"stored base model {name!r} ({described})")


@app.command("list")
def list_models(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    data_dir: DataDir = None, nats_url: NatsUrl = None, namespace: Namespace = None, config: Config = None,
) -> None:
    """Uploaded base models and campaign model versions in the models bucket."""
    settings = settings_from(data_dir, nats_url, None, namespace, config)
    items = asyncio.run(_list(settings))
    if as_json:
        typer.echo(json.dumps(items))
        return
    for item in items:
        console.print(f"{item['name']}  {item['size']} bytes")
    console.print(f"{len(items)} model object(s)")


async def _store(settings: Settings, create: bool) -> tuple[Any, Any]:
    bus = await connect(settings, "fluxlab-models", ensure=True)
    bucket = bus.subjects.models_bucket
    try:
        return bus, await bus.js.object_store(bucket)
    except (BucketNotFoundError, NotFoundError):
        if not create:
            return bus, None
        return bus, await bus.js.create_object_store(bucket)


async def _put(settings: Settings, object_name: str, data: bytes) -> None:
    bus, store = await _store(settings, create=True)
    try:
        await store.put(object_name, data)
    finally:
        await bus.close()


async def _list(settings: Settings) -> list[dict[str, Any]]:
    bus, store = await _store(settings, create=False)
    try:
        if store is None:
            return []
        try:
            infos = await store.list()
        except NotFoundError:
            return []
        return [{"name": i.name, "size": i.size, "base": i.name.startswith(BASE_PREFIX)}
                for i in infos if not getattr(i, "deleted", False)]
    finally:
        await bus.close()
