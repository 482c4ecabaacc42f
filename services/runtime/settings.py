"""Settings: defaults -> TOML file -> environment (FLUXLAB_*) -> command line."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

NATS_URL_FILE = "nats.url"


class _TomlFileSource(PydanticBaseSettingsSource):
    """Read settings from the TOML file named by FLUXLAB_CONFIG (section [fluxlab] or top level)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        if path is not None and path.is_file():
            raw = tomllib.loads(path.read_text())
            self._data = dict(raw.get("fluxlab", raw))

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    """Settings shared by every fluxlab process."""

    model_config = SettingsConfigDict(env_prefix="FLUXLAB_", extra="ignore")

    config: Path | None = Field(default=None, description="TOML settings file.")
    data_dir: Path = Field(default=Path(".fluxlab"), description="Where the DB, NATS store and models live.")
    nats_url: str | None = Field(default=None, description="Existing NATS server; None = the embedded one.")
    db_url: str | None = Field(default=None, description="SQLAlchemy URL; None = SQLite in the data dir.")
    namespace: str = Field(default="fluxlab", pattern=r"^[A-Za-z][A-Za-z0-9_]*$", description="Subject prefix.")
    nats_user: str | None = None
    nats_password: str | None = None
    nats_creds: Path | None = None
    grace_s: float = Field(default=5.0, ge=0, description="Shutdown grace period for in-flight handlers.")
    max_deliver: int = Field(default=5, ge=1, description="Deliveries before a message is dead-lettered.")
    http_port: int = Field(default=8700, ge=0, le=65535, description="Review web page port (0 = free port).")
    http_host: str = Field(default="127.0.0.1", description="Review web page address (0.0.0.0 in containers).")
    stream_replicas: int = Field(default=1, ge=1, le=5, description="JetStream replicas (3 on a cluster).")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        env_values = env_settings()
        config_path = init_settings().get("config") or env_values.get("config")
        toml = _TomlFileSource(settings_cls, Path(config_path) if config_path else None)
        return (init_settings, env_settings, toml)

    def resolved_db_url(self) -> str:
        """The database URL, defaulting to SQLite under the data dir."""
        if self.db_url:
            return self.db_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / 'fluxlab.db').resolve()}"

    def resolved_nats_url(self) -> str:
        """The NATS URL: explicit, else the one the running embedded server wrote into the data dir."""
        if self.nats_url:
            return self.nats_url
        url_file = self.data_dir / NATS_URL_FILE
        if url_file.is_file():
            return url_file.read_text().strip()
        raise RuntimeError(
            f"no NATS server: none running for data dir {self.data_dir} (start `fluxlab up`) and no --nats-url"
        )


def load_settings(**overrides: Any) -> Settings:
    """Build settings; keyword overrides (from the command line) win, None values are ignored."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
