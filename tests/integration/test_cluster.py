"""A 3-node JetStream cluster keeps every acknowledged message, exactly once, through the loss of its stream leader."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import measurement
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, PubAck
from nats.js.errors import APIError, NoStreamResponseError

from schemas import Message
from services.runtime.bus import Bus
from services.runtime.nats_server import EmbeddedNats, free_port

pytestmark = pytest.mark.slow

NODES = ("n1", "n2", "n3")
BATCH = 200
RETRYABLE = (NatsTimeoutError, NoRespondersError, NoStreamResponseError, APIError)


def node_config(name: str, cluster_ports: dict[str, int]) -> str:
    """One node's config: JetStream server name, cluster listen address and routes to the other two."""
    routes = ", ".join(f'"nats-route://127.0.0.1:{port}"' for other, port in cluster_ports.items() if other != name)
    return (
        f'server_name: "{name}"\n'
        "cluster {\n"
        '  name: "fluxlab-test"\n'
        f'  listen: "127.0.0.1:{cluster_ports[name]}"\n'
        f"  routes: [{routes}]\n"
        "}\n"
    )


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[dict[str, EmbeddedNats]]:
    cluster_ports = {name: free_port() for name in NODES}
    servers = {}
    for name in NODES:
        config = tmp_path / f"{name}.conf"
        config.write_text(node_config(name, cluster_ports))
        servers[name] = EmbeddedNats(tmp_path / name, config_file=config)
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


async def retry(action, deadline_s: float = 20.0):  # type: ignore[no-untyped-def]
    """Retry while the cluster elects a leader (timeouts, no responders, 'not ready' API errors)."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return await action()
        except RETRYABLE:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def publish_all(bus: Bus, messages: list[Message]) -> list[PubAck]:
    subject = bus.subjects.event("measurement", "c1")
    return [await retry(lambda m=m: bus.publish(subject, m, timeout=2.0)) for m in messages]


async def read_all(bus: Bus, stream: str, expected: int) -> list[str]:
    """Every message id in the stream, read by a fresh durable pull consumer."""
    config = ConsumerConfig(durable_name="verify", ack_policy=AckPolicy.EXPLICIT, num_replicas=3)
    await retry(lambda: bus.js.add_consumer(stream, config))
    sub = await bus.js.pull_subscribe_bind("verify", stream=stream)
    ids: list[str] = []
    deadline = time.monotonic() + 20
    while len(ids) < expected and time.monotonic() < deadline:
        try:
            msgs = await sub.fetch(100, timeout=1)
        except NatsTimeoutError:
            continue
        for msg in msgs:
            ids.append(msg.headers["Nats-Msg-Id"] if msg.headers else "")
            await msg.ack()
    with pytest.raises(NatsTimeoutError):  # nothing beyond the expected messages
        await sub.fetch(1, timeout=0.5)
    return ids


async def test_cluster_survives_leader_kill(cluster: dict[str, EmbeddedNats], namespace: str) -> None:
    url = ",".join(server.url for server in cluster.values())
    bus = await retry(lambda: Bus.connect(url, namespace, name="cluster-test", replicas=3), deadline_s=30)
    stream = bus.subjects.events_stream
    first = [measurement("c1", i) for i in range(BATCH)]
    second = [measurement("c1", i) for i in range(BATCH, 2 * BATCH)]
    try:
        acks = await publish_all(bus, first)
        assert all(ack.stream == stream for ack in acks)

        info = await bus.js.stream_info(stream)
        assert info.config.num_replicas == 3
        assert info.cluster is not None and info.cluster.leader in cluster
        victim = cluster[info.cluster.leader]
        victim.kill()

        acks = await publish_all(bus, second)
        assert len({ack.seq for ack in acks}) == BATCH

        victim.start()
        replays = await publish_all(bus, first[:20])  # re-publishing after failover is deduplicated
        assert all(ack.duplicate for ack in replays)

        ids = await read_all(bus, stream, 2 * BATCH)
        assert len(ids) == 2 * BATCH
        assert set(ids) == {m.id for m in first + second}
        assert (await bus.js.stream_info(stream)).state.messages == 2 * BATCH
    finally:
        await bus.close()
