"""A tamper-evident audit trail of review decisions: each row hash-chained to the one before and HMAC-signed.

`link` seals a decision when the tracker records it: `hash = sha256(prev_hash, canonical content)` and
`signature = HMAC-SHA256(server key, hash)`. `verify` walks the chain in order and reports the first broken
link: an edited row (its content no longer matches its hash), a removed or reordered row (a gap in `seq`,
or a `prev_hash` that is not its predecessor's hash), or a re-chained forgery (a signature the key does not
make). Database triggers (migration 0004) refuse UPDATE and DELETE outright; this catches what gets past
them (a dropped trigger, a restored dump, a file edited offline). Knows nothing of NATS.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

KEY_ENV = "FLUXLAB_AUDIT_KEY"
KEY_FILE = "audit.key"
SEALED = ("id", "campaign_id", "proposal_id", "action", "reviewer", "reason", "meaning", "amended_design_json",
          "decided_at")
"""The fields a decision's hash covers: what was decided, by whom, when, and what the signature means."""


def audit_key(data_dir: Path, create: bool = True) -> bytes:
    """The server-held key: `FLUXLAB_AUDIT_KEY` (hex), else `<data_dir>/audit.key`, created (0600) on first use."""
    env = os.environ.get(KEY_ENV)
    if env:
        try:
            return bytes.fromhex(env.strip())
        except ValueError:
            raise ValueError(f"{KEY_ENV}: not a hex string") from None
    path = Path(data_dir) / KEY_FILE
    if not path.is_file() and not create:
        raise FileNotFoundError(f"no audit key at {path} (the tracker creates it; or set {KEY_ENV})")
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def _utc(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.isoformat(timespec="microseconds")
    return "" if value is None else str(value)


def content(row: dict[str, Any]) -> str:
    """The canonical JSON of a decision's sealed fields."""
    return json.dumps({k: _utc(row.get(k)) if k == "decided_at" else row.get(k) for k in SEALED},
                      sort_keys=True, separators=(",", ":"))


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """This decision's link: sha256 over the previous link and its content."""
    return hashlib.sha256(f"{prev_hash}\n{content(row)}".encode()).hexdigest()


def sign(key: bytes, digest: str) -> str:
    """HMAC-SHA256 of a link with the server key."""
    return hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()


def link(row: dict[str, Any], seq: int, prev_hash: str, key: bytes | None) -> dict[str, Any]:
    """The audit columns of a new decision (unsigned when no key is configured)."""
    digest = chain_hash(prev_hash, row)
    return {"seq": seq, "prev_hash": prev_hash, "hash": digest, "signature": sign(key, digest) if key else ""}


@dataclass
class AuditReport:
    """The outcome of a verification: how many decisions, and the first broken link (None = intact)."""

    n_decisions: int = 0
    n_legacy: int = 0
    """Decisions recorded before the chain existed (no hash): reported, not verifiable."""
    broken: dict[str, Any] | None = None
    checked: list[str] = field(default_factory=lambda: ["chain", "content", "signature", "event_log"])

    @property
    def ok(self) -> bool:
        """True when no link is broken."""
        return self.broken is None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"ok": self.ok, "n_decisions": self.n_decisions, "n_legacy": self.n_legacy, "broken": self.broken,
                "checked": self.checked}


def _break(row: dict[str, Any], problem: str, reason: str) -> dict[str, Any]:
    return {"seq": row.get("seq"), "id": row.get("id"), "problem": problem, "reason": reason}


def _check_row(row: dict[str, Any], expected_seq: int, prev_hash: str, key: bytes) -> dict[str, Any] | None:
    if row["seq"] != expected_seq:
        return _break(row, "missing", f"decision seq {expected_seq} is missing (deleted?); next is seq {row['seq']}")
    if row["prev_hash"] != prev_hash:
        return _break(row, "chain", "prev_hash is not the previous decision's hash (removed or reordered row)")
    if chain_hash(prev_hash, row) != row["hash"]:
        return _break(row, "content", "content does not match its hash (row edited after it was recorded)")
    if not hmac.compare_digest(sign(key, row["hash"]), row["signature"] or ""):
        return _break(row, "signature", "signature does not verify with the server key (forged or re-chained)")
    return None


def verify(rows: list[dict[str, Any]], key: bytes, logged_ids: set[str] | None = None) -> AuditReport:
    """Walk decisions in `seq` order; `logged_ids` (review events in the event log) catches a removed tail."""
    report = AuditReport(n_decisions=len(rows))
    legacy = [r for r in rows if not r.get("hash")]
    report.n_legacy = len(legacy)
    chained = sorted((r for r in rows if r.get("hash")), key=lambda r: r["seq"])
    prev_hash, expected = "", chained[0]["seq"] if chained else 1
    for row in chained:
        report.broken = _check_row(row, expected, prev_hash, key)
        if report.broken is not None:
            return report
        prev_hash, expected = row["hash"], expected + 1
    if logged_ids is not None:
        missing = sorted(logged_ids - {r["id"] for r in rows})
        if missing:
            report.broken = {"seq": None, "id": missing[0], "problem": "missing",
                             "reason": f"{len(missing)} decision(s) in the event log have no row (deleted?)"}
    return report
