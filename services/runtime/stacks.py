"""Where the running stacks are: `fluxlab up` and `fluxlab demo` note their data dir in a per-user list, so
other commands find a running stack (its URL and credentials) without `--data-dir`.

The list is `$FLUXLAB_HOME/stacks/` (default `~/.fluxlab/stacks/`), one file per running stack holding the
absolute data dir; an entry whose server no longer answers is dropped when read.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

NATS_URL_FILE = "nats.url"


def registry_dir() -> Path:
    """The per-user list of running stacks."""
    home = os.environ.get("FLUXLAB_HOME")
    return (Path(home) if home else Path.home() / ".fluxlab") / "stacks"


def _entry(data_dir: Path) -> Path:
    return registry_dir() / hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]


def register(data_dir: Path) -> None:
    """Note a stack that now runs for `data_dir` (best effort: a read-only home only loses the convenience)."""
    with contextlib.suppress(OSError):
        registry_dir().mkdir(parents=True, exist_ok=True)
        _entry(data_dir).write_text(str(data_dir.resolve()))


def unregister(data_dir: Path) -> None:
    """Forget the stack of `data_dir`."""
    with contextlib.suppress(OSError):
        _entry(data_dir).unlink(missing_ok=True)


def reachable(url: str) -> bool:
    """Whether a NATS URL accepts TCP connections."""
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 4222), timeout=0.5):
            return True
    except OSError:
        return False


def running_data_dirs() -> list[Path]:
    """Data dirs of the stacks that answer now, most recently started first (stale entries are dropped)."""
    found: list[tuple[float, Path]] = []
    with contextlib.suppress(OSError):
        for entry in registry_dir().iterdir():
            with contextlib.suppress(OSError):
                data_dir = Path(entry.read_text().strip())
                url_file = data_dir / NATS_URL_FILE
                if url_file.is_file() and reachable(url_file.read_text().strip()):
                    found.append((entry.stat().st_mtime, data_dir))
                else:
                    entry.unlink(missing_ok=True)
    return [d for _, d in sorted(found, key=lambda x: -x[0])]
