"""Reviewers and their credentials: salted scrypt password hashes and signed, expiring session cookies.

Reviewers file (TOML or JSON), path from `FLUXLAB_REVIEWERS_FILE`::

    [reviewers.alice]
    name = "Alice Liddell"
    password_hash = "scrypt$16384$8$1$<salt b64>$<hash b64>"   # from `fluxlab review hash-password`
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_SESSION_VERSION = "v1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, salt: bytes | None = None) -> str:
    """Hash a password with scrypt and a fresh 16-byte salt: `scrypt$n$r$p$salt$hash`."""
    if not password:
        raise ValueError("password: must not be empty")
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """True when `password` matches the stored hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, expected = encoded.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(_unb64(expected)), maxmem=256 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, _unb64(expected))


@dataclass(frozen=True)
class Reviewer:
    """A person allowed to decide on proposals."""

    user: str
    name: str
    password_hash: str

    @property
    def display(self) -> str:
        """How the reviewer appears in decisions: `Full Name <user>` or just the user."""
        return f"{self.name} <{self.user}>" if self.name and self.name != self.user else self.user


class ReviewerBook:
    """The configured reviewers; `authenticate` checks a user name and password."""

    def __init__(self, reviewers: dict[str, Reviewer]) -> None:
        self.reviewers = reviewers

    @classmethod
    def load(cls, path: Path | None) -> ReviewerBook:
        """Read a TOML (`.toml`) or JSON reviewers file; no file means no reviewers (every login refused)."""
        if path is None or not path.is_file():
            return cls({})
        text = path.read_text()
        raw = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        entries = raw.get("reviewers", raw)
        reviewers: dict[str, Reviewer] = {}
        for user, entry in entries.items():
            if not isinstance(entry, dict) or not entry.get("password_hash"):
                raise ValueError(f"reviewers file {path}: reviewer '{user}' needs a password_hash")
            reviewers[user] = Reviewer(user=user, name=str(entry.get("name", user)),
                                       password_hash=str(entry["password_hash"]))
        return cls(reviewers)

    def authenticate(self, user: str, password: str) -> Reviewer | None:
        """The reviewer when the credentials are right, else None (unknown users cost a hash too)."""
        reviewer = self.reviewers.get(user)
        if reviewer is None:
            verify_password(password, _DUMMY_HASH)
            return None
        return reviewer if verify_password(password, reviewer.password_hash) else None

    def get(self, user: str) -> Reviewer | None:
        """A reviewer by user name."""
        return self.reviewers.get(user)


_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


def write_reviewers_file(path: Path, passwords: dict[str, str], names: dict[str, str] | None = None) -> None:
    """Write a TOML reviewers file (mode 0600) with hashed passwords."""
    names = names or {}
    lines = ["# fluxlab reviewers: `fluxlab review hash-password` prints a password_hash", ""]
    for user, password in passwords.items():
        lines += [f"[reviewers.{json.dumps(user)}]", f"name = {json.dumps(names.get(user, user))}",
                  f"password_hash = {json.dumps(hash_password(password))}", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    path.chmod(0o600)


def ensure_dev_reviewers(path: Path, user: str = "reviewer") -> str | None:
    """Create a reviewers file with one generated password if none exists; return that password (else None)."""
    if path.exists():
        return None
    password = secrets.token_urlsafe(12)
    write_reviewers_file(path, {user: password})
    return password


class SessionSigner:
    """Signed (HMAC-SHA256), expiring session tokens: `v1.<user b64>.<expiry>.<signature>`."""

    def __init__(self, secret: bytes, ttl_s: float = 8 * 3600.0) -> None:
        if len(secret) < 16:
            raise ValueError("session secret: needs at least 16 bytes")
        self._secret = secret
        self.ttl_s = ttl_s

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())

    def issue(self, user: str, now: float | None = None) -> str:
        """A token for `user`, valid for `ttl_s` seconds from `now`."""
        expiry = int((time.time() if now is None else now) + self.ttl_s)
        payload = f"{_SESSION_VERSION}.{_b64(user.encode())}.{expiry}"
        return f"{payload}.{self._sign(payload)}"

    def verify(self, token: str | None, now: float | None = None) -> str | None:
        """The user of a valid, unexpired token; None for a missing, tampered or expired one."""
        if not token:
            return None
        try:
            version, user_b64, expiry, signature = token.split(".")
        except ValueError:
            return None
        payload = f"{version}.{user_b64}.{expiry}"
        if version != _SESSION_VERSION or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            if int(expiry) < (time.time() if now is None else now):
                return None
            return _unb64(user_b64).decode()
        except ValueError:
            return None

    def csrf_token(self, session_token: str) -> str:
        """A form token bound to one session (a page from another site cannot know it)."""
        return self._sign("csrf:" + session_token)
