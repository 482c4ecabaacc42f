"""Client side of request/reply: typed requests that raise one clear error."""

from __future__ import annotations

from pydantic import BaseModel

from schemas import ErrorDetail, FieldError
from schemas.rpc import Q, R, RpcSpec
from services.runtime.bus import Bus


class RpcFailed(FieldError):
    """The service answered with an error (field and reason)."""

    def __init__(self, detail: ErrorDetail) -> None:
        super().__init__(detail.field, detail.reason)
        self.detail = detail


async def call(bus: Bus, subject: str, request: BaseModel, reply_type: type[R], timeout: float = 10.0) -> R:
    """Send a request model, parse the reply model; a service error raises RpcFailed."""
    reply = await bus.nc.request(subject, request.model_dump_json().encode(), timeout=timeout)
    if reply.headers and reply.headers.get("Nats-Service-Error-Code"):
        try:
            detail = ErrorDetail.model_validate_json(reply.data)
        except Exception:
            detail = ErrorDetail(field="(request)", reason=reply.headers.get("Nats-Service-Error", "error"))
        raise RpcFailed(detail)
    return reply_type.model_validate_json(reply.data)


async def ask(bus: Bus, spec: RpcSpec[Q, R], request: Q, timeout: float = 10.0) -> R:
    """Call one endpoint of the contract: its request model in, its reply model out (errors raise RpcFailed)."""
    return await call(bus, spec.subject(bus.subjects.ns), request, spec.reply, timeout)
