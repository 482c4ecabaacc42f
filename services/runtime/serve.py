"""Run one service in the foreground: the light entry point the supervisor restarts services through.

`python -m services.runtime.serve NAME [--station S] [--data-dir D] [--nats-url U] [--db-url U] [--namespace N]
[--config F]` does what `fluxlab serve NAME` does without importing the whole command-line app (typer, rich and
every command's modules: about a second of CPU per start). After a kill a service is back that much sooner,
which on a busy machine is several seconds of recovery.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
from pathlib import Path
from typing import Any

from services.registry import load_service_class
from services.runtime.settings import Settings, load_settings


def run_service(cls: Any, settings: Settings, station: str | None = None) -> None:
    """Build a service (or simulator) class and run it until SIGINT/SIGTERM."""
    kwargs: dict[str, Any] = {}
    if station is not None and "station" in inspect.signature(cls).parameters:
        kwargs["station"] = station
    asyncio.run(cls(settings, **kwargs).run_until_signalled())


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the service; an unknown service is one line on stderr and exit code 2."""
    p = argparse.ArgumentParser(prog="python -m services.runtime.serve", description=__doc__.splitlines()[0])
    p.add_argument("service", help="tracker, predictor, optimizer, review, robot-sim, bench-sim")
    p.add_argument("--station", help="robot station (robot-sim)")
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--nats-url")
    p.add_argument("--db-url")
    p.add_argument("--namespace")
    p.add_argument("--config", type=Path)
    args = p.parse_args(argv)
    settings = load_settings(data_dir=args.data_dir, nats_url=args.nats_url, db_url=args.db_url,
                             namespace=args.namespace, config=args.config)
    try:
        cls = load_service_class(args.service)
    except KeyError as exc:
        print(f"error: service: {exc.args[0]}", file=sys.stderr)
        return 2
    run_service(cls, settings, args.station)
    return 0


if __name__ == "__main__":
    sys.exit(main())
