"""Which services exist and where their classes live (imported lazily: the tracker need not load torch)."""

from __future__ import annotations

import importlib
from typing import Any

SERVICES: dict[str, str] = {
    "tracker": "services.tracker.service:TrackerService",
    "predictor": "services.predictor.service:PredictorService",
    "optimizer": "services.optimizer.service:OptimizerService",
    "review": "services.review.service:ReviewService",
}
"""Service name -> 'module:Class'. `fluxlab up` starts every service listed here."""

SIMULATORS: dict[str, str] = {
    "robot-sim": "simulators.executors:RobotSimService",
    "bench-sim": "simulators.executors:BenchSimService",
}
"""Wet-lab stand-ins started by `fluxlab up --simulate` and `fluxlab demo` (not by a real deployment)."""


def nats_service_name(name: str) -> str:
    """The name a service registers with the NATS service API and answers `$SRV.PING` with."""
    return f"fluxlab-{name}"


PREDICTOR_NATS_NAME = nats_service_name("predictor")
"""What the predictor answers `$SRV.PING` with (the optimizer pings it while it waits for a model)."""


def register(name: str, target: str, simulator: bool = False) -> None:
    """Add a service (used by packages that provide one)."""
    (SIMULATORS if simulator else SERVICES)[name] = target


def load_service_class(name: str) -> Any:
    """Import and return the class of a named service or simulator."""
    target = SERVICES.get(name) or SIMULATORS.get(name)
    if target is None:
        known = ", ".join(sorted({*SERVICES, *SIMULATORS}))
        raise KeyError(f"unknown service '{name}' (known: {known})")
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def service_names() -> list[str]:
    """Names of the services `fluxlab up` starts."""
    return list(SERVICES)
