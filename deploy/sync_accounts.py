"""Regenerate deploy/nats/accounts.conf and its copy in deploy/k8s/nats.yaml (run after changing permissions).

    python deploy/sync_accounts.py
"""

from __future__ import annotations

from pathlib import Path

from services.runtime.security import DEFAULT_STATIONS, env_password_refs, render_accounts_config, users

DEPLOY = Path(__file__).parent


def main() -> None:
    """Write both copies."""
    stations = list(DEFAULT_STATIONS)
    text = render_accounts_config("fluxlab", env_password_refs(users(stations)), stations)
    (DEPLOY / "nats" / "accounts.conf").write_text(text)
    manifest = DEPLOY / "k8s" / "nats.yaml"
    lines = manifest.read_text().split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("  accounts.conf: |"))
    end = start + 1
    while end < len(lines) and (lines[end].startswith("    ") or lines[end] == ""):
        end += 1
    while lines[end - 1] == "":
        end -= 1
    lines[start + 1:end] = ["    " + line if line else "" for line in text.rstrip("\n").split("\n")]
    manifest.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
