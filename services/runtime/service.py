"""The one shape of every fluxlab service: start, stop, `async with`, signals, drain, grace, cancel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic

from nats.micro import ServiceConfig, add_service
from nats.micro.request import Request
from nats.micro.service import Service as MicroService
from pydantic import BaseModel, ValidationError

from schemas import ErrorDetail, FieldError, describe_validation_error
from schemas.rpc import Q, R, RpcSpec
from services.runtime.bus import Bus
from services.runtime.consumer import ConsumerSpec, PullConsumer
from services.runtime.settings import Settings

log = logging.getLogger(__name__)



class RpcError(FieldError):
    """A request that cannot be answered: replied with an ErrorDetail naming the field."""

    @property
    def detail(self) -> ErrorDetail:
        """The error body of the reply."""
        return ErrorDetail(field=self.field, reason=self.reason)


@dataclass(frozen=True)
class Endpoint(Generic[Q, R]):
    """A handler for one request/reply endpoint: the request model in, the reply model out.

    The request is parsed before the handler runs; a request that does not validate is answered with an
    ErrorDetail naming the field, like an `RpcError` the handler raises.
    """

    spec: RpcSpec[Q, R]
    handler: Callable[[Q], Awaitable[R]]

    async def answer(self, data: bytes) -> R:
        """Parse the request and run the handler."""
        spec = self.spec
        return await self.handler(spec.request.model_validate_json((data or b"{}") if spec.empty_is_default else data))


class Service:
    """Base class: subclasses override `setup()` to add consumers, endpoints and tasks."""

    name = "service"
    version = "0.1.0"

    def __init__(self, settings: Settings, bus: Bus | None = None) -> None:
        self.settings = settings
        self._external_bus = bus
        self.bus: Bus = bus  # type: ignore[assignment]
        self.consumers: list[PullConsumer] = []
        self.tasks: list[asyncio.Task[Any]] = []
        self.micro: MicroService | None = None
        self.stop_event = asyncio.Event()

    async def setup(self) -> None:
        """Add consumers, endpoints and background tasks (override)."""

    async def teardown(self) -> None:
        """Release resources after the consumers stopped (override)."""

    async def start(self) -> None:
        """Connect, set up, and start every consumer."""
        if self.bus is None:
            s = self.settings
            self.bus = await Bus.connect(
                s.resolved_nats_url(), s.namespace, name=f"fluxlab-{self.name}",
                user=s.nats_user, password=s.nats_password, creds=str(s.nats_creds) if s.nats_creds else None,
                replicas=s.stream_replicas,
            )
        await self.setup()
        if self.micro is None:  # no endpoints of its own: still answer $SRV.PING/INFO so `fluxlab status` lists it
            await self.add_endpoints([])
        for consumer in self.consumers:
            await consumer.ensure()
            self.spawn(consumer.run())
        log.info("%s started", self.name)

    def add_consumer(self, spec: ConsumerSpec) -> PullConsumer:
        """Register a durable pull consumer (started by `start()`)."""
        spec.max_deliver = self.settings.max_deliver
        consumer = PullConsumer(self.bus, spec)
        self.consumers.append(consumer)
        return consumer

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a background task owned by the service (cancelled at stop after the grace period)."""
        task = asyncio.create_task(coro)
        self.tasks.append(task)
        return task

    async def add_endpoints(self, endpoints: Iterable[Endpoint[Any, Any]]) -> None:
        """Expose request/reply endpoints as a NATS micro service (`$SRV.PING` finds it)."""
        self.micro = await add_service(
            self.bus.nc,
            ServiceConfig(
                name=f"fluxlab-{self.name}", version=self.version, description=f"fluxlab {self.name}",
                metadata={"namespace": self.bus.subjects.ns}, queue_group=f"{self.bus.subjects.ns}-{self.name}",
            ),
        )
        for endpoint in endpoints:
            await self.micro.add_endpoint(name=endpoint.spec.name, subject=endpoint.spec.subject(self.bus.subjects.ns),
                                          handler=_wrap_rpc(endpoint))

    async def stop(self) -> None:
        """Stop consumers (grace period for in-flight batches), cancel tasks, drain the connection."""
        grace = self.settings.grace_s
        await asyncio.gather(*(c.stop(grace) for c in self.consumers), return_exceptions=True)
        if self.micro is not None:
            with contextlib.suppress(Exception):
                await self.micro.stop()
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=grace)
        await self.teardown()
        if self._external_bus is None and self.bus is not None:
            await self.bus.close()
        log.info("%s stopped", self.name)

    async def __aenter__(self) -> Service:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def run_until_signalled(self) -> None:
        """Start, wait for SIGINT/SIGTERM (or `stop_event`), then stop cleanly."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, self.stop_event.set)
        async with self:
            await self.stop_event.wait()


def _wrap_rpc(endpoint: Endpoint[Any, Any]) -> Callable[[Request], Awaitable[None]]:
    async def answer(request: Request) -> None:
        try:
            reply: BaseModel = await endpoint.answer(request.data)
        except ValidationError as exc:
            field, reason = describe_validation_error(exc)
            await request.respond_error("400", f"{field}: {reason}", data=ErrorDetail(field=field, reason=reason)
                                        .model_dump_json().encode())
            return
        except RpcError as exc:
            await request.respond_error("400", str(exc), data=exc.detail.model_dump_json().encode())
            return
        except Exception as exc:
            log.exception("rpc handler failed")
            detail = ErrorDetail(field="(request)", reason=f"internal error: {exc}")
            await request.respond_error("500", detail.reason[:500], data=detail.model_dump_json().encode())
            return
        await request.respond(reply.model_dump_json().encode())

    return answer
