"""Reviewer passwords, the reviewers file and signed session cookies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.review.auth import (
    ReviewerBook,
    SessionSigner,
    ensure_dev_reviewers,
    hash_password,
    verify_password,
    write_reviewers_file,
)

SECRET = b"0123456789abcdef0123456789abcdef"


def test_hash_verifies_only_the_right_password_and_is_salted() -> None:
    encoded = hash_password("correct horse")
    assert verify_password("correct horse", encoded)
    assert not verify_password("wrong horse", encoded)
    assert hash_password("correct horse") != encoded  # per-user (per-hash) salt
    assert not verify_password("correct horse", "garbage")
    with pytest.raises(ValueError):
        hash_password("")


def test_reviewers_file_toml_and_json(tmp_path: Path) -> None:
    path = tmp_path / "reviewers.toml"
    write_reviewers_file(path, {"alice": "s3cret"}, names={"alice": "Alice Liddell"})
    assert path.stat().st_mode & 0o777 == 0o600
    book = ReviewerBook.load(path)
    alice = book.authenticate("alice", "s3cret")
    assert alice is not None and alice.display == "Alice Liddell <alice>"
    assert book.authenticate("alice", "nope") is None
    assert book.authenticate("mallory", "s3cret") is None
    json_path = tmp_path / "reviewers.json"
    json_path.write_text(json.dumps({"reviewers": {"bob": {"password_hash": hash_password("pw")}}}))
    assert ReviewerBook.load(json_path).authenticate("bob", "pw") is not None
    assert ReviewerBook.load(tmp_path / "absent.toml").reviewers == {}


def test_reviewer_without_hash_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "r.toml"
    path.write_text('[reviewers.alice]\nname = "Alice"\n')
    with pytest.raises(ValueError, match="password_hash"):
        ReviewerBook.load(path)


def test_dev_reviewers_created_once_with_generated_password(tmp_path: Path) -> None:
    path = tmp_path / "reviewers.toml"
    password = ensure_dev_reviewers(path)
    assert password and len(password) >= 12
    assert ReviewerBook.load(path).authenticate("reviewer", password) is not None
    assert ensure_dev_reviewers(path) is None


def test_session_round_trip_and_expiry() -> None:
    signer = SessionSigner(SECRET, ttl_s=3600)
    token = signer.issue("alice", now=1000.0)
    assert signer.verify(token, now=1000.0 + 3599) == "alice"
    assert signer.verify(token, now=1000.0 + 3601) is None
    assert signer.verify(None) is None and signer.verify("") is None


def test_tampered_or_foreign_cookie_is_refused() -> None:
    signer = SessionSigner(SECRET)
    token = signer.issue("alice", now=1000.0)
    version, user, expiry, signature = token.split(".")
    forged_user = ".".join([version, "Ym9i", expiry, signature])  # "bob"
    longer = ".".join([version, user, str(int(expiry) + 10**6), signature])
    assert signer.verify(forged_user, now=1000.0) is None
    assert signer.verify(longer, now=1000.0) is None
    assert signer.verify(token[:-2] + "xx", now=1000.0) is None
    assert SessionSigner(b"another-secret-of-32-bytes-long!").verify(token, now=1000.0) is None
    assert signer.verify("not.a.token", now=1000.0) is None


def test_csrf_token_is_bound_to_the_session() -> None:
    signer = SessionSigner(SECRET)
    a, b = signer.issue("alice", now=1.0), signer.issue("bob", now=1.0)
    assert signer.csrf_token(a) != signer.csrf_token(b)
    with pytest.raises(ValueError):
        SessionSigner(b"short")
