"""Fault scenarios during a whole campaign (every service its own process, restarted like `fluxlab up` does).

a. each service SIGKILLed at random points, several times, during one campaign;
c. the nats-server (file store) stopped and started again on the same port and store mid-campaign;
d. a 3-node JetStream cluster (R3 streams) losing its stream leader mid-campaign.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import median, progress_console
from benchmarks.faults_ledger import count, ledger, query, stream_run_counts, wait_for
from schemas import CampaignSpec
from services.registry import service_names
from services.runtime.bus import Bus
from services.runtime.campaign_client import CampaignClient
from services.runtime.local_stack import executor_args, wait_until_ready
from services.runtime.nats_server import EmbeddedNats, free_port
from services.runtime.settings import Settings
from services.runtime.specfile import load_spec
from services.runtime.supervisor import Stack

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Watch:
    """Supervises a stack: restarts dead children, tells our kills from crashes, times recoveries."""

    stack: Stack
    db: Path
    campaign_id: str
    killed_pids: set[int] = field(default_factory=set)
    crashed_pids: set[int] = field(default_factory=set)
    kills: Counter[str] = field(default_factory=Counter)
    recoveries: list[float] = field(default_factory=list)
    recoveries_by: dict[str, list[float]] = field(default_factory=dict)
    """Recovery times by what failed (a service killed, the broker, a cluster node)."""
    _waiting: list[tuple[float, int, str]] = field(default_factory=list)

    def measured(self) -> int:
        return count(self.db, "SELECT count(*) FROM measurements WHERE campaign_id = ?", (self.campaign_id,))

    def completed(self) -> bool:
        rows = query(self.db, "SELECT status FROM campaigns WHERE id = ?", (self.campaign_id,))
        return bool(rows) and rows[0][0] in ("completed", "stopped")

    def fault(self, what: str) -> None:
        """Note a fault of `what` now: the next recorded measurement ends its recovery time."""
        self._waiting.append((time.monotonic(), self.measured(), what))

    def kill(self, name: str) -> bool:
        """SIGKILL a live child; False when it is not running (still restarting)."""
        process = self.stack.children[name].process
        if process is None or process.poll() is not None:
            return False
        self.killed_pids.add(process.pid)
        self.fault(name)
        self.stack.kill(name, signal.SIGKILL)
        self.kills[name] += 1
        return True

    def uptime(self, name: str) -> float:
        child = self.stack.children[name]
        alive = child.process is not None and child.process.poll() is None
        return time.monotonic() - child.started_at if alive else 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Every 0.2 s: note crashes, restart the dead, resolve recovery times."""
        while not stop.is_set():
            for child in self.stack.children.values():
                p = child.process
                if p is not None and p.poll() is not None and p.pid not in self.killed_pids:
                    self.crashed_pids.add(p.pid)
            self.stack.poll()
            if self._waiting:
                now, measured = time.monotonic(), self.measured()
                for t, before, what in self._waiting:
                    if measured > before:
                        self.recoveries.append(now - t)
                        self.recoveries_by.setdefault(what, []).append(now - t)
                self._waiting = [w for w in self._waiting if measured <= w[1]]
            await asyncio.sleep(0.2)


def sin_cos(campaign_id: str, budget: int, batch: int = 5) -> CampaignSpec:
    """The fast black-box campaign with a given budget."""
    return load_spec(ROOT / "examples" / "sin_cos.toml").model_copy(
        update={"id": campaign_id, "budget": budget, "batch_size": batch})


def start_stack(settings: Settings, spec: CampaignSpec) -> Stack:
    """Every service plus the campaign's simulator, waited until they answer."""
    executor, args = executor_args(spec)
    stack = Stack(settings, [*service_names(), executor], extra_args={executor: args}).start()
    try:
        ready = stack.client_settings("operator")  # the harness reads streams beyond what a CLI user may
        wait_until_ready(ready, 180)
    except Exception:
        stack.stop()
        raise
    stack.settings = ready
    return stack


During = Callable[[Watch, CampaignSpec], Awaitable[None]]


async def run_campaign(stack: Stack, spec: CampaignSpec, during: During, timeout_s: float,
                       replicas: int = 1) -> dict[str, Any]:
    """Start the campaign, run the fault schedule beside it, wait for completion; the ledger and figures."""
    db = stack.settings.data_dir / "fluxlab.db"
    watch = Watch(stack, db, spec.id)
    stop = asyncio.Event()
    supervisor = asyncio.create_task(watch.run(stop))
    s = stack.settings
    bus = await Bus.connect(stack.nats_url, s.namespace, name="fluxlab-bench-faults", replicas=replicas,
                            user=s.nats_user, password=s.nats_password)
    started = time.monotonic()
    try:
        await CampaignClient(bus).start(spec)
        await during(watch, spec)
        completed = await wait_for(watch.completed, timeout_s - (time.monotonic() - started), 0.5)
        duration = time.monotonic() - started
        await asyncio.sleep(1.5)  # a late duplicate would land now
        book = ledger(db, spec.id, await stream_run_counts(bus, spec.id))
    finally:
        stop.set()
        await supervisor
        await bus.close()
    dead_letters = count(db, "SELECT count(*) FROM dead_letters")
    reasons = [{"service": service, "subject": subject, "field": field, "reason": reason[:300]}
               for service, subject, field, reason in
               query(db, "SELECT service, subject, field, reason FROM dead_letters ORDER BY received_at")]
    return {"completed": completed, "campaign_s": round(duration, 1), "budget": spec.budget,
            "lost": book.lost, "duplicated": book.duplicated, "crashes": len(watch.crashed_pids),
            "kills": dict(watch.kills), "restarts": {n: c.restarts for n, c in stack.children.items()},
            "dead_letters": dead_letters, "dead_letter_reasons": reasons,
            "recovery_samples_s": [round(r, 2) for r in watch.recoveries],
            "recovery_median_by_fault_s": {what: round(median(times), 2) for what, times in
                                           sorted(watch.recoveries_by.items())},
            "ledger": book.as_dict()}


async def _progress_at(watch: Watch, fraction: float, budget: int) -> None:
    await wait_for(lambda: watch.measured() >= fraction * budget or watch.completed(), 600, 0.2)


def kill_schedule(kills_each: int, seed: int) -> During:
    """Each service and the robot SIGKILLed `kills_each` times, in a random order at random moments."""
    rng = random.Random(seed)
    victims = [*service_names(), "robot-sim"] * kills_each
    rng.shuffle(victims)

    async def during(watch: Watch, spec: CampaignSpec) -> None:
        await _progress_at(watch, 0.05, spec.budget)
        for done, victim in enumerate(victims):
            if watch.completed():
                break
            wanted_uptime = rng.uniform(0.5, 3.0)  # a random point in its life, once it is up again
            await wait_for(lambda v=victim, up=wanted_uptime: watch.uptime(v) >= up or watch.completed(), 120, 0.1)
            if not watch.completed() and watch.kill(victim) and (done + 1) % 10 == 0:
                progress_console.print(f"  kills {done + 1}/{len(victims)}, measured {watch.measured()}/{spec.budget}")

    return during


def nats_restart(down_s: float = 2.0) -> During:
    """Stop the embedded nats-server cleanly mid-campaign and start it again on the same port and store."""

    async def during(watch: Watch, spec: CampaignSpec) -> None:
        await _progress_at(watch, 0.4, spec.budget)
        server = watch.stack.server
        assert server is not None
        server.stop()
        await asyncio.sleep(down_s)
        server.start()
        watch.fault("nats-server")
        progress_console.print(f"  nats-server restarted at {watch.measured()}/{spec.budget} measured")

    return during


def node_kill(servers: dict[str, EmbeddedNats], events_stream: str, down_s: float = 5.0) -> During:
    """SIGKILL the events stream's leader node mid-campaign; start it again after `down_s`."""

    async def during(watch: Watch, spec: CampaignSpec) -> None:
        await _progress_at(watch, 0.3, spec.budget)
        url = ",".join(s.url for s in servers.values())
        bus = await Bus.connect(url, watch.stack.settings.namespace, name="fluxlab-bench-probe", ensure=False)
        try:
            info = await bus.js.stream_info(events_stream)
            leader = info.cluster.leader if info.cluster and info.cluster.leader in servers else next(iter(servers))
        finally:
            await bus.close()
        servers[leader].kill()
        watch.fault("cluster-node")
        progress_console.print(f"  killed cluster node {leader} (stream leader) at {watch.measured()} measured")
        await asyncio.sleep(down_s)
        servers[leader].start()

    return during


def _settings(workdir: Path, name: str, **update: Any) -> Settings:
    return Settings(data_dir=workdir / name, namespace="f" + uuid.uuid4().hex[:8], http_port=0, grace_s=2.0,
                    **update)


async def killed_services(workdir: Path, kills_each: int, budget: int, seed: int = 7) -> dict[str, Any]:
    """Scenario a."""
    spec = sin_cos("faults-kill", budget)
    stack = await asyncio.to_thread(start_stack, _settings(workdir, "a"), spec)
    try:
        return await run_campaign(stack, spec, kill_schedule(kills_each, seed), timeout_s=900)
    finally:
        await asyncio.to_thread(stack.stop)


async def restarted_nats(workdir: Path, budget: int) -> dict[str, Any]:
    """Scenario c."""
    spec = sin_cos("faults-nats", budget)
    stack = await asyncio.to_thread(start_stack, _settings(workdir, "c"), spec)
    try:
        return await run_campaign(stack, spec, nats_restart(), timeout_s=600)
    finally:
        await asyncio.to_thread(stack.stop)


def node_config(name: str, cluster_ports: dict[str, int]) -> str:
    """One node's config: JetStream server name, cluster listen address and routes to the other two."""
    routes = ", ".join(f'"nats-route://127.0.0.1:{port}"' for other, port in cluster_ports.items() if other != name)
    return (f'server_name: "{name}"\ncluster {{\n  name: "fluxlab-faults"\n'
            f'  listen: "127.0.0.1:{cluster_ports[name]}"\n  routes: [{routes}]\n}}\n')


@contextlib.contextmanager
def cluster(workdir: Path) -> Iterator[dict[str, EmbeddedNats]]:
    """Three loopback nodes of one JetStream cluster."""
    ports = {name: free_port() for name in ("n1", "n2", "n3")}
    servers = {}
    for name in ports:
        config = workdir / f"{name}.conf"
        config.write_text(node_config(name, ports))
        servers[name] = EmbeddedNats(workdir / name, config_file=config)
    try:
        for server in servers.values():
            server.start()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


async def cluster_node_loss(workdir: Path, budget: int) -> dict[str, Any]:
    """Scenario d: services on a 3-node cluster with R3 streams; the stream leader dies and comes back."""
    workdir = workdir / "d"
    workdir.mkdir(parents=True, exist_ok=True)
    previous = os.environ.get("FLUXLAB_STREAM_REPLICAS")
    os.environ["FLUXLAB_STREAM_REPLICAS"] = "3"  # children inherit the environment
    try:
        with cluster(workdir) as servers:
            url = ",".join(s.url for s in servers.values())
            settings = _settings(workdir, "stack", nats_url=url, stream_replicas=3)
            spec = sin_cos("faults-cluster", budget)
            await asyncio.sleep(2.0)  # let the nodes elect a meta leader before the services ask for streams
            stack = await asyncio.to_thread(start_stack, settings, spec)
            try:
                stream = f"{settings.namespace.upper()}_EVENTS"
                result = await run_campaign(stack, spec, node_kill(servers, stream), timeout_s=600, replicas=3)
            finally:
                await asyncio.to_thread(stack.stop)
    finally:
        if previous is None:
            os.environ.pop("FLUXLAB_STREAM_REPLICAS", None)
        else:
            os.environ["FLUXLAB_STREAM_REPLICAS"] = previous
    return result
