"""A minimal lab-automation adapter for fluxlab's robot queue: copy it and replace the file exchange.

Protocol (also in README.md and schemas/asyncapi.yaml, channel robotWork):
1. Pull WorkOrders from the JetStream work queue `<ns>.work.robot.<station>` with the durable pull consumer
   `robot-<station>` (explicit acks). Each order has a `run_id` and a `design` (knockouts, expression fold
   changes, medium uptake bounds) and the `readouts` to measure.
2. Run it. This adapter writes `<outbox>/<run_id>.json` (the order) for the robot's scheduler and waits for
   `<inbox>/<run_id>.json` holding the result: `{"growth": 0.61, "growth_sd": 0.02,
   "products": {"EX_succ_e": [1.5, 0.1]}, "fluxes": {"PGI": [4.2, 0.3]}, "batch_id": "...", "plate_id": "...",
   "well": "A01"}` or `{"failed": "reason"}`. An order with a `time_course` (a batch culture to sample) is
   answered with its curves too: `"time_courses": {"ln_od": {"unit": "ln_od", "times_h": [0, 2, 4],
   "values": [-3.2, -2.5, -1.4], "sd": [0.05, 0.05, 0.06]}, "glc__D_e": {"unit": "mM", ...}}` (`sd` optional)
   and, when they differ from the order's, `"initial_mM": {"glc__D_e": 20.0}`. A result file that does not
   make a valid Measurement becomes a RunFailed naming the field and the reason.
3. Publish a Measurement (or RunFailed) on `<ns>.evt.measurement.<cid>` (`<ns>.evt.run_failed.<cid>`) with
   headers `Nats-Msg-Id` = `meas-<run_id>` and `Fluxlab-Schema`, quoting the order's run id and this station,
   and wait for the JetStream ack.
4. Only then ack the work order. A crash before step 4 redelivers the order; the message id derived from the
   run id makes a second publish a duplicate that JetStream drops.

Run: `python examples/robot_adapter.py --nats-url nats://host:4222 --station s1 --outbox out --inbox in`
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import nats
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig
from pydantic import ValidationError

from schemas import Measurement, MeasurementSource, RunFailed, Value, WorkOrder
from schemas.errors import describe_validation_error
from schemas.timecourse import TimeCourse, TimePoint


def _values(table: dict[str, list[float]]) -> dict[str, Value]:
    return {name: Value(value=pair[0], sd=pair[1] if len(pair) > 1 else 0.0) for name, pair in table.items()}


def result_message(order: WorkOrder, station: str, result: dict[str, Any]) -> Measurement | RunFailed:
    """Turn the robot's result file into the wire message."""
    if "failed" in result:
        return RunFailed(id=f"meas-{order.run_id}", campaign_id=order.campaign_id, run_id=order.run_id,
                         reason=str(result["failed"]), station=station)
    try:
        growth = Value(value=result["growth"], sd=result.get("growth_sd", 0.0)) if "growth" in result else None
        initial = result.get("initial_mM", order.time_course.initial_mM if order.time_course is not None else {})
        return Measurement(
            id=f"meas-{order.run_id}", campaign_id=order.campaign_id, run_id=order.run_id, design=order.design,
            growth_rate=growth, products=_values(result.get("products", {})),
            fluxes=_values(result.get("fluxes", {})), time_courses=_time_courses(result.get("time_courses", {})),
            initial_concentrations=initial if result.get("time_courses") else {},
            batch_id=result.get("batch_id", ""), plate_id=result.get("plate_id", ""), well=result.get("well", ""),
            station=station, source=MeasurementSource.ROBOT,
        )
    except (ValidationError, KeyError, TypeError, ValueError, IndexError) as exc:
        return RunFailed(id=f"meas-{order.run_id}", campaign_id=order.campaign_id, run_id=order.run_id,
                         reason=f"invalid result file: {_reason(exc)}", station=station)


def _time_courses(table: dict[str, dict[str, Any]]) -> dict[str, TimeCourse]:
    """The result file's columnar curves (unit, times_h, values, optional sd) as wire time courses."""
    out: dict[str, TimeCourse] = {}
    for name, course in table.items():
        times, values = course["times_h"], course["values"]
        sds = course.get("sd") or [None] * len(times)
        if not len(times) == len(values) == len(sds):
            raise ValueError(f"time_courses.{name}: times_h, values and sd must have the same length")
        points = [TimePoint(time_h=t, value=v, sd=sd) for t, v, sd in zip(times, values, sds, strict=True)]
        out[name] = TimeCourse(unit=course["unit"], points=points)
    return out


def _reason(exc: Exception) -> str:
    """One line: the first failing field and why."""
    if isinstance(exc, ValidationError):
        return ": ".join(describe_validation_error(exc))
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc)


async def wait_for_result(inbox: Path, run_id: str, poll_s: float = 0.5) -> dict[str, Any]:
    """Wait for the robot to drop `<inbox>/<run_id>.json`."""
    path = inbox / f"{run_id}.json"
    while not path.is_file():
        await asyncio.sleep(poll_s)
    result: dict[str, Any] = json.loads(path.read_text())
    return result


async def serve(url: str, namespace: str, station: str, outbox: Path, inbox: Path, once: bool = False) -> None:
    """Pull orders forever (or until one order is done when `once`)."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    stream, durable = f"{namespace.upper()}_WORK", f"robot-{station}"
    subject = f"{namespace}.work.robot.{station}"
    await js.add_consumer(stream, ConsumerConfig(name=durable, durable_name=durable, filter_subject=subject,
                                                 ack_policy=AckPolicy.EXPLICIT, ack_wait=3600))
    sub = await js.pull_subscribe_bind(durable, stream=stream)
    outbox.mkdir(parents=True, exist_ok=True)
    inbox.mkdir(parents=True, exist_ok=True)
    try:
        while True:
            try:
                msgs = await sub.fetch(1, timeout=5)
            except NatsTimeoutError:
                continue
            order = WorkOrder.model_validate_json(msgs[0].data)
            (outbox / f"{order.run_id}.json").write_text(order.model_dump_json(indent=2))
            message = result_message(order, station, await wait_for_result(inbox, order.run_id))
            kind = "measurement" if isinstance(message, Measurement) else "run_failed"
            await js.publish(f"{namespace}.evt.{kind}.{order.campaign_id}", message.to_bytes(),
                             headers={"Nats-Msg-Id": message.id, "Fluxlab-Schema": type(message).SCHEMA})
            await msgs[0].ack()
            if once:
                return
    finally:
        await sub.unsubscribe()
        await nc.drain()


def main() -> None:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nats-url", default="nats://127.0.0.1:4222")
    p.add_argument("--namespace", default="fluxlab")
    p.add_argument("--station", required=True)
    p.add_argument("--outbox", type=Path, default=Path("robot-outbox"))
    p.add_argument("--inbox", type=Path, default=Path("robot-inbox"))
    args = p.parse_args()
    asyncio.run(serve(args.nats_url, args.namespace, args.station, args.outbox, args.inbox))


if __name__ == "__main__":
    main()
