"""Shared fixtures: a real nats-server with JetStream per test, a unique namespace, SQLite/PostgreSQL URLs."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from services.runtime.bus import Bus
from services.runtime.nats_server import EmbeddedNats
from services.runtime.settings import Settings

POSTGRES_URL = os.environ.get("FLUXLAB_TEST_POSTGRES_URL")
os.environ.setdefault("FLUXLAB_HOME", tempfile.mkdtemp(prefix="fluxlab-test-home-"))
"""Stacks the tests start note themselves here, not in the user's list of running stacks."""


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A fresh nats-server (JetStream, file store in a temp dir) on a free port."""
    server = EmbeddedNats(tmp_path / "nats")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def namespace() -> str:
    """A unique subject namespace, so tests never see each other's messages."""
    return "t" + uuid.uuid4().hex[:10]


def _postgres_admin(statement: str) -> None:
    """Run one statement on the PostgreSQL server outside a transaction (CREATE / DROP DATABASE need that)."""
    import sqlalchemy as sa

    assert POSTGRES_URL is not None
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(statement))
    admin.dispose()


def _postgres_db_url(namespace: str) -> str:
    """A fresh schema-isolated PostgreSQL database for one test."""
    assert POSTGRES_URL is not None
    _postgres_admin(f'CREATE DATABASE "{namespace}"')
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{namespace}"


def _drop_postgres_db(namespace: str) -> None:
    _postgres_admin(f'DROP DATABASE IF EXISTS "{namespace}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, namespace: str) -> Iterator[str]:
    """SQLite always; PostgreSQL too when FLUXLAB_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fluxlab.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured: set FLUXLAB_TEST_POSTGRES_URL to run this backend")
    url = _postgres_db_url(namespace)
    yield url
    _drop_postgres_db(namespace)


@pytest.fixture
def settings(tmp_path: Path, nats_server: EmbeddedNats, namespace: str) -> Settings:
    """Settings pointing at the test's nats-server, namespace and data dir (SQLite)."""
    return Settings(data_dir=tmp_path / "data", nats_url=nats_server.url, namespace=namespace, grace_s=2.0,
                    max_deliver=3)


@pytest.fixture
async def bus(nats_server: EmbeddedNats, namespace: str) -> AsyncIterator[Bus]:
    """A connected bus with the namespace's streams."""
    connected = await Bus.connect(nats_server.url, namespace)
    yield connected
    await connected.close()
