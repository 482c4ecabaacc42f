"""Per-user subject permissions, proven against a real nats-server started with a rendered accounts config."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import nats
import nats.errors
import pytest
from factories import campaign_spec, created, measurement, work_order
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError
from nats.micro import ServiceConfig, add_service
from nats.micro.request import Request

from services.runtime.bus import MSG_ID, Bus
from services.runtime.nats_server import EmbeddedNats
from services.runtime.security import (
    env_password_refs,
    generate_credentials,
    password_environment,
    render_accounts_config,
    robot_durables,
    users,
)
from services.runtime.subjects import Subjects

STATIONS = ["sim1", "sim2"]
REFUSAL_TIMEOUT_S = 0.5


@dataclass
class Conn:
    """A client connected as one user, recording the server's permission errors."""

    nc: Client
    errors: list[str] = field(default_factory=list)

    @property
    def js(self):  # type: ignore[no-untyped-def]
        return self.nc.jetstream()

    async def violations(self) -> str:
        await self.nc.flush()
        await asyncio.sleep(0.05)
        return "\n".join(e for e in self.errors if "permissions violation" in e)


@dataclass
class SecureStack:
    server: EmbeddedNats
    subjects: Subjects
    passwords: dict[str, str]
    conns: list[Conn] = field(default_factory=list)

    async def connect(self, user: str) -> Conn:
        conn = Conn(nc=None)  # type: ignore[arg-type]

        async def on_error(exc: Exception) -> None:
            conn.errors.append(str(exc))

        conn.nc = await nats.connect(self.server.url, user=user, password=self.passwords[user], error_cb=on_error,
                                     max_reconnect_attempts=0)
        self.conns.append(conn)
        return conn


@pytest.fixture
def secure_server(tmp_path: Path, namespace: str) -> Iterator[tuple[EmbeddedNats, dict[str, str]]]:
    passwords = {user: f"test-{user}-{namespace}" for user in users(STATIONS)}
    config = tmp_path / "accounts.conf"
    config.write_text(render_accounts_config(namespace, passwords, STATIONS))
    server = EmbeddedNats(tmp_path / "nats", config_file=config).start()
    yield server, passwords
    server.stop()


@pytest.fixture
async def stack(secure_server: tuple[EmbeddedNats, dict[str, str]], namespace: str) -> AsyncIterator[SecureStack]:
    server, passwords = secure_server
    operator = await Bus.connect(server.url, namespace, user="operator", password=passwords["operator"])
    secure = SecureStack(server, Subjects(namespace), passwords)
    yield secure
    for conn in secure.conns:
        await conn.nc.close()
    await operator.close()


async def assert_refused(conn: Conn, action: Callable[[], Awaitable[object]], subject: str) -> None:
    """The server drops the request (no ack, no reply) and reports a permissions violation for `subject`."""
    with pytest.raises(NatsTimeoutError):
        await action()
    assert f'permissions violation for publish to "{subject.lower()}"' in await conn.violations()


async def request_when_served(conn: Conn, subject: str, payload: bytes, timeout: float = 2.0) -> bytes:
    """The reply to a request, retried while the server reports no responder yet (a service's subscription
    can reach the server a moment after its connection's flush returned; seen once in CI)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return (await conn.nc.request(subject, payload, timeout=timeout)).data
        except nats.errors.NoRespondersError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


async def stream_count(stack: SecureStack, stream: str, subject: str) -> int:
    operator = await stack.connect("operator")
    info = await operator.js.stream_info(stream, subjects_filter=subject)
    return int((info.state.subjects or {}).get(subject, 0))


async def test_unauthenticated_and_wrong_password_are_rejected(stack: SecureStack) -> None:
    for options in ({}, {"user": "tracker", "password": "wrong"}):
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(stack.server.url, max_reconnect_attempts=0, allow_reconnect=False, connect_timeout=2,
                               **options)


async def test_robot_publishes_measurements_and_gets_the_ack(stack: SecureStack) -> None:
    robot = await stack.connect("robot-sim1")
    m = measurement("c1", 1, station="sim1")
    ack = await robot.js.publish(stack.subjects.event("measurement", "c1"), m.to_bytes(), headers={MSG_ID: m.id})
    assert ack.stream == stack.subjects.events_stream
    assert await stream_count(stack, ack.stream, stack.subjects.event("measurement", "c1")) == 1
    assert await robot.violations() == ""


async def test_review_publishes_bench_page_measurements(stack: SecureStack) -> None:
    """The bench page (in the review service) records what a biologist enters as a Measurement event."""
    review = await stack.connect("review")
    m = measurement("c1", 2)
    ack = await review.js.publish(stack.subjects.event("measurement", "c1"), m.to_bytes(), headers={MSG_ID: m.id})
    assert ack.stream == stack.subjects.events_stream
    assert await review.violations() == ""


async def test_robot_cannot_publish_reviews_or_work(stack: SecureStack) -> None:
    robot = await stack.connect("robot-sim1")
    s = stack.subjects
    for subject in (s.event("review", "c1"), s.robot("sim1"), s.bench, s.event("proposal", "c1")):
        await assert_refused(robot, partial(robot.js.publish, subject, b"{}", timeout=REFUSAL_TIMEOUT_S), subject)
    assert await stream_count(stack, s.events_stream, s.event("review", "c1")) == 0
    assert await stream_count(stack, s.work_stream, s.robot("sim1")) == 0


async def _create_station_consumer(conn: Conn, s: Subjects, station: str, filter_station: str | None = None) -> None:
    durable = robot_durables(station)[0]
    config = ConsumerConfig(name=durable, durable_name=durable, ack_policy=AckPolicy.EXPLICIT,
                            filter_subject=s.robot(filter_station or station))
    await conn.js.add_consumer(s.work_stream, config, timeout=REFUSAL_TIMEOUT_S)


async def test_robot_pulls_only_from_its_own_station(stack: SecureStack) -> None:
    s = stack.subjects
    review = await stack.connect("review")
    sim1, sim2 = await stack.connect("robot-sim1"), await stack.connect("robot-sim2")
    await _create_station_consumer(sim1, s, "sim1")
    await _create_station_consumer(sim2, s, "sim2")
    for i, station in enumerate(STATIONS):
        order = work_order("c1", i, station=station)
        await review.js.publish(s.robot(station), order.to_bytes(), headers={MSG_ID: order.id})

    own = await sim1.js.pull_subscribe_bind(robot_durables("sim1")[0], stream=s.work_stream)
    [msg] = await own.fetch(1, timeout=2)
    assert msg.subject == s.robot("sim1")
    await msg.ack_sync()

    other = await sim1.js.pull_subscribe_bind(robot_durables("sim2")[0], stream=s.work_stream)
    with pytest.raises(NatsTimeoutError):
        await other.fetch(1, timeout=REFUSAL_TIMEOUT_S)
    assert "consumer.msg.next." + s.work_stream.lower() + ".robot-sim2" in await sim1.violations()

    # sim1 may not define a consumer on sim2's queue, under any name
    await assert_refused(sim1, lambda: _create_station_consumer(sim1, s, "sim1", filter_station="sim2"),
                         f"$JS.API.CONSUMER.CREATE.{s.work_stream}.robot-sim1.{s.robot('sim2')}")
    await assert_refused(sim1, lambda: sim1.js.add_consumer(s.work_stream, durable_name="steal",
                                                            filter_subject=s.robot("sim2"),
                                                            timeout=REFUSAL_TIMEOUT_S),
                         f"$JS.API.CONSUMER.DURABLE.CREATE.{s.work_stream}.steal")

    # sim2's order is still there for sim2
    theirs = await sim2.js.pull_subscribe_bind(robot_durables("sim2")[0], stream=s.work_stream)
    [msg] = await theirs.fetch(1, timeout=2)
    assert msg.subject == s.robot("sim2")
    await msg.ack_sync()


async def test_only_review_publishes_decisions_and_work_orders(stack: SecureStack) -> None:
    s = stack.subjects
    review, optimizer = await stack.connect("review"), await stack.connect("optimizer")
    order = work_order("c1", 1, station="sim1")
    for subject in (s.event("review", "c1"), s.event("work", "c1"), s.robot("sim1")):
        ack = await review.js.publish(subject, order.to_bytes(), headers={MSG_ID: f"{subject}-ok"})
        assert ack.seq >= 1
        await assert_refused(
            optimizer, partial(optimizer.js.publish, subject, order.to_bytes(), timeout=REFUSAL_TIMEOUT_S), subject
        )
    assert await stream_count(stack, s.events_stream, s.event("review", "c1")) == 1


async def test_tracker_cannot_publish_proposals_but_optimizer_can(stack: SecureStack) -> None:
    s = stack.subjects
    tracker, optimizer = await stack.connect("tracker"), await stack.connect("optimizer")
    subject = s.event("proposal", "c1")
    await assert_refused(tracker, lambda: tracker.js.publish(subject, b"{}", timeout=REFUSAL_TIMEOUT_S), subject)
    assert (await optimizer.js.publish(subject, b"{}")).seq >= 1
    # the tracker may dead-letter only as itself
    await assert_refused(tracker, lambda: tracker.js.publish(s.dlq("review"), b"{}", timeout=REFUSAL_TIMEOUT_S),
                         s.dlq("review"))
    assert (await tracker.js.publish(s.dlq("tracker"), b"{}")).stream == s.dlq_stream


async def test_tracker_durable_consumer_reads_events(stack: SecureStack) -> None:
    s = stack.subjects
    cli, tracker = await stack.connect("cli"), await stack.connect("tracker")
    event = created(campaign_spec("c1"))
    await cli.js.publish(s.event("campaign", "c1"), event.to_bytes(), headers={MSG_ID: event.id})
    sub = await tracker.js.pull_subscribe(s.all_events, durable="tracker-events", stream=s.events_stream)
    [msg] = await sub.fetch(1, timeout=2)
    await msg.ack_sync()
    assert msg.subject == s.event("campaign", "c1")
    assert await tracker.violations() == ""


async def test_services_connect_and_ensure_streams(stack: SecureStack, namespace: str) -> None:
    for user in ("tracker", "predictor", "optimizer", "review", "cli"):
        bus = await Bus.connect(stack.server.url, namespace, user=user, password=stack.passwords[user])
        await bus.close()


async def test_predict_rpc_and_service_discovery(stack: SecureStack) -> None:
    s = stack.subjects
    predictor = await stack.connect("predictor")
    optimizer = await stack.connect("optimizer")
    cli = await stack.connect("cli")

    async def handler(request: Request) -> None:
        await request.respond(b"prediction")

    service = await add_service(predictor.nc, ServiceConfig(name="fluxlab-predictor", version="0.1.0"))
    await service.add_endpoint(name="predict", subject=s.predict, handler=handler)
    await predictor.nc.flush()  # the subscriptions are on the server before anyone asks
    assert await request_when_served(optimizer, s.predict, b"{}") == b"prediction"
    review = await stack.connect("review")  # the review page asks for a proposal's attributions ("why")
    assert await request_when_served(review, s.predict, b"{}") == b"prediction"
    ping = await cli.nc.request("$SRV.PING.fluxlab-predictor", b"", timeout=2)
    assert b"fluxlab-predictor" in ping.data
    robot = await stack.connect("robot-sim1")
    await assert_refused(robot, lambda: robot.nc.request(s.predict, b"{}", timeout=REFUSAL_TIMEOUT_S), s.predict)
    await service.stop()


async def test_review_reads_the_tracker_over_rpc(stack: SecureStack) -> None:
    """The review page and `fluxlab review list` ask the tracker (the system of record) for proposals."""
    s = stack.subjects
    tracker, review = await stack.connect("tracker"), await stack.connect("review")

    async def handler(request: Request) -> None:
        await request.respond(b"records")

    service = await add_service(tracker.nc, ServiceConfig(name="fluxlab-tracker", version="0.1.0"))
    await service.add_endpoint(name="proposals", subject=s.rpc("tracker", "proposals"), handler=handler)
    await tracker.nc.flush()
    assert await request_when_served(review, s.rpc("tracker", "proposals"), b"{}") == b"records"
    robot = await stack.connect("robot-sim1")
    subject = s.rpc("tracker", "proposals")
    await assert_refused(robot, lambda: robot.nc.request(subject, b"{}", timeout=REFUSAL_TIMEOUT_S), subject)
    await service.stop()


async def test_predictor_uses_the_model_object_store(stack: SecureStack) -> None:
    s = stack.subjects
    predictor = await stack.connect("predictor")
    store = await predictor.js.create_object_store(s.models_bucket)
    await store.put("model-v1.pt", b"weights" * 1000)
    assert (await store.get("model-v1.pt")).data == b"weights" * 1000
    robot = await stack.connect("robot-sim1")
    with pytest.raises((NatsTimeoutError, NotFoundError)):
        await robot.js.object_store(s.models_bucket)
    assert "permissions violation" in await robot.violations()


async def test_env_referenced_passwords_are_substituted_by_the_server(
    tmp_path: Path, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fluxlab up` (secure by default): config holds `$FLUXLAB_NATS_PW_*`, the server's environment the secrets."""
    passwords = generate_credentials(tmp_path / "data", STATIONS)
    for name, value in password_environment(passwords).items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "accounts.conf"
    config.write_text(render_accounts_config(namespace, env_password_refs(users(STATIONS)), STATIONS))
    assert passwords["tracker"] not in config.read_text()
    with EmbeddedNats(tmp_path / "nats", config_file=config) as server:
        bus = await Bus.connect(server.url, namespace, user="tracker", password=passwords["tracker"])
        await bus.close()
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(server.url, user="tracker", password=passwords["review"], allow_reconnect=False,
                               max_reconnect_attempts=0)
