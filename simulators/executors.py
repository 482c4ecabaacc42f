"""Simulated executors: `fluxlab serve robot-sim --station S` and `fluxlab serve bench-sim`.

Each pulls WorkOrders from its work queue, runs them on the simulator (true cell or black-box function),
publishes a Measurement or RunFailed (message id derived from the run id, so a re-run after a crash is a
duplicate JetStream drops), and only then acks the order.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from schemas import ExecutorKind, Measurement, MeasurementSource, WorkOrder
from services.runtime.bus import Bus
from services.runtime.consumer import ConsumerSpec, Envelope, subject_parser
from services.runtime.service import Service
from services.runtime.settings import Settings
from simulators.functions import FunctionSimulator
from simulators.lab import Lab, NoiseConfig

if TYPE_CHECKING:
    from simulators.truecell import TrueCell


ACK_WAIT_S = 5.0
"""A killed executor's orders come back this soon; the consumer's in-progress beats keep a live executor's
orders (a slow first run loading a genome-scale model, a busy machine) from being redelivered."""


def measurement_id(run_id: str) -> str:
    """The message id of a run's measurement (and of its failure)."""
    return f"meas-{run_id}"


class LabPool:
    """One simulated lab per (organism or function, profile, noise) combination, built once."""

    def __init__(self, station: str, seed: int = 0) -> None:
        self.station = station
        self.seed = seed
        self.labs: dict[tuple[Any, ...], Lab] = {}
        self.cells: dict[tuple[str, str], TrueCell] = {}

    def lab_for(self, order: WorkOrder) -> Lab:
        """The lab that can run this order."""
        noise = NoiseConfig(cv=order.noise, failure_rate=order.failure_rate)
        if order.function:
            params = tuple(sorted(order.design.parameters))
            key: tuple[Any, ...] = ("f", order.function, params, order.noise, order.failure_rate)
            if key not in self.labs:
                output = order.readouts[0] if order.readouts else "y"
                self.labs[key] = Lab(FunctionSimulator(order.function, list(params), output=output), noise,
                                     seed=self.seed, station=self.station)
            return self.labs[key]
        key = ("c", order.organism, order.profile, order.noise, order.failure_rate)
        if key not in self.labs:
            cell_key = (order.organism, order.profile)
            if cell_key not in self.cells:
                from simulators.cells import make_cell

                self.cells[cell_key] = make_cell(order.organism, order.profile)
            self.labs[key] = Lab(self.cells[cell_key], noise, seed=self.seed, station=self.station)
        return self.labs[key]

    def run(self, order: WorkOrder) -> Any:
        """Measurement or RunFailure for one order."""
        try:
            lab = self.lab_for(order)
        except (ValueError, KeyError) as exc:
            from simulators.lab import RunFailure

            return RunFailure(order.campaign_id, order.run_id, f"cannot set up the simulator: {exc}")
        return lab.run(order.design, order.campaign_id, order.run_id, readouts=order.readouts,
                       message_id=measurement_id(order.run_id), time_course=order.time_course)


class ExecutorService(Service):
    """Pulls work orders from one queue and answers each with a measurement or a failure."""

    name = "robot-sim"
    queue = ExecutorKind.ROBOT

    def __init__(self, settings: Settings, bus: Bus | None = None, station: str = "sim1") -> None:
        super().__init__(settings, bus)
        self.station = station
        self.pool = LabPool(station)
        self.source = MeasurementSource.ROBOT if self.queue == ExecutorKind.ROBOT else MeasurementSource.BENCH

    def subject(self) -> str:
        """The work-queue subject this executor serves."""
        return self.bus.subjects.robot(self.station)

    def durable(self) -> str:
        """Its durable consumer (one per station: robots share a station's queue as replicas)."""
        return f"{self.name}-{self.station}"

    async def setup(self) -> None:
        self.add_consumer(ConsumerSpec(
            service=self.name, durable=self.durable(), stream=self.bus.subjects.work_stream,
            filter_subjects=[self.subject()], parse=subject_parser(self.bus), handler=self.execute, batch=4,
            ack_wait_s=ACK_WAIT_S,
        ))

    async def execute(self, envelopes: list[Envelope]) -> None:
        """Run each order and publish its outcome; the consumer acks after this returns."""
        for envelope in envelopes:
            await self._execute_one(envelope)

    async def _execute_one(self, envelope: Envelope) -> None:
        """Run one order and publish its measurement or failure (with the JetStream ack)."""
        order = envelope.model
        assert isinstance(order, WorkOrder)
        outcome = await asyncio.to_thread(self.pool.run, order)
        if isinstance(outcome, Measurement):
            outcome = outcome.model_copy(update={"station": self._station(), "source": self.source})
            await self.bus.publish_event(outcome)
        else:
            failed = outcome.to_message(station=self._station())
            failed = failed.model_copy(update={"id": measurement_id(order.run_id)})
            await self.bus.publish_event(failed)

    def _station(self) -> str | None:
        return self.station if self.queue == ExecutorKind.ROBOT else None


class RobotSimService(ExecutorService):
    """`fluxlab serve robot-sim --station S`."""

    name = "robot-sim"
    queue = ExecutorKind.ROBOT


class BenchSimService(ExecutorService):
    """`fluxlab serve bench-sim`: a simulated biologist working through the bench queue."""

    name = "bench-sim"
    queue = ExecutorKind.BENCH

    def __init__(self, settings: Settings, bus: Bus | None = None, station: str = "bench") -> None:
        super().__init__(settings, bus, station=station)

    def subject(self) -> str:
        return self.bus.subjects.bench

    def durable(self) -> str:
        return self.name
