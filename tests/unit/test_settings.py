"""Settings precedence: defaults -> file -> environment -> command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.cli import UserError
from services.cli.options import settings_from
from services.runtime import stacks
from services.runtime.nats_server import EmbeddedNats
from services.runtime.settings import NATS_URL_FILE, load_settings


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "fluxlab.toml"
    config.write_text('[fluxlab]\nnamespace = "fromfile"\ngrace_s = 7.0\nmax_deliver = 9\n')
    monkeypatch.setenv("FLUXLAB_CONFIG", str(config))
    assert load_settings().namespace == "fromfile"
    monkeypatch.setenv("FLUXLAB_NAMESPACE", "fromenv")
    settings = load_settings()
    assert settings.namespace == "fromenv" and settings.grace_s == 7.0 and settings.max_deliver == 9
    assert load_settings(namespace="fromcli").namespace == "fromcli"
    assert load_settings(namespace=None).namespace == "fromenv"


def test_defaults_need_no_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in ("FLUXLAB_CONFIG", "FLUXLAB_NAMESPACE", "FLUXLAB_DB_URL", "FLUXLAB_NATS_URL"):
        monkeypatch.delenv(key, raising=False)
    settings = load_settings(data_dir=tmp_path)
    assert settings.namespace == "fluxlab"
    assert settings.resolved_db_url() == f"sqlite:///{(tmp_path / 'fluxlab.db').resolve()}"
    with pytest.raises(RuntimeError, match="no NATS server"):
        settings.resolved_nats_url()


def test_commands_find_the_one_running_stack_without_a_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 nats_server: EmbeddedNats) -> None:
    for key in ("FLUXLAB_CONFIG", "FLUXLAB_DATA_DIR", "FLUXLAB_NATS_URL", "FLUXLAB_DB_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("FLUXLAB_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)  # no ./.fluxlab here
    assert settings_from().data_dir == Path(".fluxlab")  # nothing runs: the default
    demo = tmp_path / "demo" / "stack"
    demo.mkdir(parents=True)
    (demo / NATS_URL_FILE).write_text(nats_server.url)
    (demo / "nats-credentials.json").write_text(json.dumps({"cli": "s3cret"}))
    stacks.register(demo)
    found = settings_from()
    assert found.data_dir == demo.resolve() and found.resolved_nats_url() == nats_server.url
    assert (found.nats_user, found.nats_password) == ("cli", "s3cret")
    assert settings_from(find_running=False).data_dir == Path(".fluxlab")  # `fluxlab up` never redirects
    other = tmp_path / "other"
    other.mkdir()
    (other / NATS_URL_FILE).write_text(nats_server.url)
    stacks.register(other)
    with pytest.raises(UserError, match="several stacks are running"):
        settings_from()
    assert settings_from(data_dir=other).data_dir == other  # an explicit one wins
    (other / NATS_URL_FILE).write_text("nats://127.0.0.1:1")  # stopped: its entry is dropped
    assert stacks.running_data_dirs() == [demo.resolve()]
