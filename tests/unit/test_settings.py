"""Settings precedence: defaults -> file -> environment -> command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.runtime.settings import load_settings


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
