"""The `fluxlab` command. Bad input prints one line naming the field and the reason, and exits 2."""

from __future__ import annotations

import importlib
import logging
import os
import sys

import typer
from pydantic import ValidationError
from rich.console import Console

from schemas import describe_validation_error

app = typer.Typer(
    name="fluxlab", help="Closed-loop design-build-test-learn for metabolic engineering.",
    no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
)
err = Console(stderr=True)


class UserError(Exception):
    """A problem with what the user asked for: reported as one line, exit code 2."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def _mount() -> None:
    from services.cli import bench, data, stack

    stack.register(app)
    data.register(app)
    bench.register(app)
    for module_name, name in (
        ("services.predictor.cli", "predictor"),
        ("services.cli.campaign", "campaign"),
        ("services.cli.models", "models"),
        ("services.cli.review", "review"),
        ("services.cli.audit", "audit"),
        ("services.cli.demo", None),
        ("services.cli.report", None),
        ("services.cli.analyze", None),
    ):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        if name is None:
            module.register(app)
        else:
            app.add_typer(module.app, name=name)


_mount()


def main() -> None:
    """Entry point: run the app, turning expected errors into one clear line."""
    level = os.environ.get("FLUXLAB_LOG_LEVEL", "WARNING").upper()  # INFO: services log their rounds and models
    logging.basicConfig(level=getattr(logging, level, logging.WARNING),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        code = app(standalone_mode=False)  # a typer.Exit(code) is returned here, not raised
    except UserError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.code)
    except ValidationError as exc:
        field, reason = describe_validation_error(exc)
        err.print(f"[red]error:[/red] {field}: {reason}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except (FileNotFoundError, KeyError, RuntimeError, ValueError, TimeoutError, ConnectionError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        err.print(f"[red]error:[/red] {type(exc).__name__}: {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    if isinstance(code, int) and code:
        sys.exit(code)
