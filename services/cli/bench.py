"""`fluxlab bench NAME [ARGS]`: run `benchmarks/NAME.py`, which prints JSON figures."""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from services.cli import UserError


def register(app: typer.Typer) -> None:
    """Add the bench command."""
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(bench)


def bench(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(
        help="ingest, simulator, predictor, predictor-real, predictor-genome, biolog-fba-probe, loop, pareto, latency, "
             "faults, soak, stats")],
) -> None:
    """Run a benchmark; pass `--json` for one JSON object on stdout (other flags go to the benchmark)."""
    try:
        module = importlib.import_module(f"benchmarks.{name.replace('-', '_')}")
    except ModuleNotFoundError as exc:
        if exc.name == f"benchmarks.{name.replace('-', '_')}":
            raise UserError(f"unknown benchmark '{name}'") from exc
        raise
    code = module.main(list(ctx.args))
    raise typer.Exit(code or 0)
