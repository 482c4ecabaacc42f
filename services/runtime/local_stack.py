"""Find the stack running for a data dir, or run a temporary one for a single campaign."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from schemas import CampaignSpec, ExecutorKind
from services.registry import nats_service_name, service_names
from services.runtime.settings import NATS_URL_FILE, Settings
from services.runtime.stacks import reachable
from services.runtime.supervisor import Stack


def running_stack_or_none(settings: Settings) -> str | None:
    """The URL of the embedded server `fluxlab up` started for this data dir, if it answers."""
    url_file = settings.data_dir / NATS_URL_FILE
    if not url_file.is_file():
        return None
    url = url_file.read_text().strip()
    return url if reachable(url) else None


def executor_args(spec: CampaignSpec) -> tuple[str, list[str]]:
    """The simulator that answers this campaign's work orders, with its arguments."""
    if spec.executor.kind == ExecutorKind.BENCH:
        return "bench-sim", []
    return "robot-sim", ["--station", spec.executor.station]


@contextmanager
def temporary_stack(settings: Settings, spec: CampaignSpec, wait_s: float = 90.0) -> Iterator[Settings]:
    """Embedded NATS, every service and the campaign's simulator, stopped on exit."""
    executor, args = executor_args(spec)
    stack = Stack(settings, [*service_names(), executor], extra_args={executor: args})
    stack.start()
    try:
        ready = stack.client_settings()
        wait_until_ready(ready, wait_s)
        yield ready
    finally:
        stack.stop()


def wait_until_ready(settings: Settings, wait_s: float) -> None:
    """Block until every service answers $SRV.PING."""
    import asyncio

    from services.runtime.status import answering_services

    wanted = {nats_service_name(name) for name in service_names()}
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if wanted <= asyncio.run(answering_services(settings)):
                return
        except Exception:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"services did not come up within {wait_s:.0f}s (see {settings.data_dir / 'logs'})")
