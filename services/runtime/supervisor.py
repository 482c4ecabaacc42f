"""Run a whole stack on one machine: the embedded nats-server plus each service as its own process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from services.runtime import stacks
from services.runtime.nats_server import EmbeddedNats
from services.runtime.settings import NATS_URL_FILE, Settings


@dataclass
class Child:
    """One supervised service process."""

    name: str
    args: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0


@dataclass
class Stack:
    """Embedded NATS (unless a URL is given) and supervised `fluxlab serve <name>` children."""

    settings: Settings
    services: list[str]
    extra_args: dict[str, list[str]] = field(default_factory=dict)
    restart: bool = True
    secure: bool = True
    """Embedded NATS with accounts and per-subject permissions; each child connects as its own user.

    The default: credentials are generated once into the data dir (mode 0600). False (`fluxlab up --insecure`)
    runs NATS without users, so any local process may publish decisions and measurements. A stack on an
    external `nats_url` takes its users from that deployment, not from here.
    """
    stations: list[str] = field(default_factory=lambda: ["sim1"])
    log_dir: Path | None = None
    credentials: dict[str, str] = field(default_factory=dict)
    server: EmbeddedNats | None = None
    children: dict[str, Child] = field(default_factory=dict)

    @property
    def nats_url(self) -> str:
        """URL the services connect to."""
        return self.settings.nats_url or (self.server.url if self.server else "")

    def env(self) -> dict[str, str]:
        """Environment handed to every child (settings travel as FLUXLAB_* variables)."""
        env = dict(os.environ)
        s = self.settings
        env.update({
            "FLUXLAB_NATS_URL": self.nats_url, "FLUXLAB_DATA_DIR": str(s.data_dir.resolve()),
            "FLUXLAB_DB_URL": s.resolved_db_url(), "FLUXLAB_NAMESPACE": s.namespace,
            "FLUXLAB_GRACE_S": str(s.grace_s), "FLUXLAB_HTTP_PORT": str(s.http_port),
        })
        return env

    def start(self) -> Stack:
        """Start NATS (if embedded) and every child."""
        data_dir = self.settings.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        if not self.settings.nats_url:
            config_file = self._secure_config() if self.secure else None
            self.server = EmbeddedNats(data_dir / "nats", config_file=config_file).start()
            (data_dir / NATS_URL_FILE).write_text(self.server.url)
            stacks.register(data_dir)
            if self.secure:
                asyncio.run(_create_streams(self.server.url, self.settings.namespace,
                                            self.credentials["operator"]))
        self.log_dir = self.log_dir or data_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in self.services:
            args = [sys.executable, "-m", "services.runtime.serve", name, *self.extra_args.get(name, [])]
            self.children[name] = Child(name=name, args=args)
            self.spawn(name)
        return self

    def _secure_config(self) -> Path:
        """Credentials (generated once, 0600) and the accounts config that references them by env variable."""
        from services.runtime import security

        stations = sorted({*security.DEFAULT_STATIONS, *self.stations})
        self.credentials = security.generate_credentials(self.settings.data_dir, stations)
        path = self.settings.data_dir / "nats-accounts.conf"
        refs = security.env_password_refs(self.credentials)
        path.write_text(security.render_accounts_config(self.settings.namespace, refs, stations))
        os.environ.update(security.password_environment(self.credentials))  # nats-server reads them at start
        return path

    def client_settings(self, user: str = "cli") -> Settings:
        """Settings for a client of this stack: its URL and, when it runs with users, `user`'s credentials."""
        update: dict[str, object] = {"nats_url": self.nats_url}
        if self.credentials:
            update.update(nats_user=user, nats_password=self.credentials[user])
        return self.settings.model_copy(update=update)

    def user_for(self, name: str) -> str | None:
        """The NATS user a child connects as (secure mode)."""
        if not self.credentials:
            return None
        if name == "robot-sim":
            args = self.children[name].args
            station = args[args.index("--station") + 1] if "--station" in args else "sim1"
            return f"robot-{station}"
        return "bench" if name == "bench-sim" else name

    def spawn(self, name: str) -> None:
        """(Re)start one child."""
        child = self.children[name]
        assert self.log_dir is not None
        log = (self.log_dir / f"{name}.log").open("ab")
        env = self.env()
        user = self.user_for(name)
        if user is not None:
            env.update(FLUXLAB_NATS_USER=user, FLUXLAB_NATS_PASSWORD=self.credentials[user])
        child.process = subprocess.Popen(child.args, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        child.started_at = time.monotonic()

    def poll(self) -> list[str]:
        """Restart children that died (with a 1 s backoff); returns the names restarted."""
        restarted = []
        for name, child in self.children.items():
            if child.process is not None and child.process.poll() is not None and self.restart:
                if time.monotonic() - child.started_at < 1.0:
                    continue
                child.restarts += 1
                self.spawn(name)
                restarted.append(name)
        return restarted

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send a signal to one child (fault tests, demos of recovery)."""
        child = self.children[name]
        if child.process is not None and child.process.poll() is None:
            child.process.send_signal(sig)

    def stop(self, timeout_s: float | None = None) -> None:
        """SIGTERM every child, wait for the drain, SIGKILL stragglers, stop NATS."""
        self.restart = False
        timeout = timeout_s if timeout_s is not None else self.settings.grace_s + 10
        for child in self.children.values():
            if child.process is not None and child.process.poll() is None:
                child.process.terminate()
        deadline = time.monotonic() + timeout
        for child in self.children.values():
            if child.process is None:
                continue
            try:
                child.process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        if self.server is not None:
            self.server.stop()
            (self.settings.data_dir / NATS_URL_FILE).unlink(missing_ok=True)
            stacks.unregister(self.settings.data_dir)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _create_streams(url: str, namespace: str, operator_password: str) -> None:
    from services.runtime.bus import Bus

    bus = await Bus.connect(url, namespace, name="fluxlab-up", user="operator", password=operator_password)
    await bus.close()
