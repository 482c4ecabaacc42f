"""Settings of the review gate (prefix FLUXLAB_, like the shared settings)."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REVIEWERS_FILE = "reviewers.toml"
REVIEW_URL_FILE = "review.url"


class ReviewSettings(BaseSettings):
    """Who may review, and how long a web session lasts."""

    model_config = SettingsConfigDict(env_prefix="FLUXLAB_", extra="ignore")

    reviewers_file: Path | None = Field(
        default=None, description="TOML/JSON reviewers file; default <data dir>/reviewers.toml."
    )
    session_secret: str | None = Field(
        default=None, description="HMAC key of web sessions; default a random key per process (logins end at restart)."
    )
    session_ttl_s: float = Field(default=8 * 3600.0, gt=0, description="Web session lifetime (seconds).")
    campaign_wait_s: float = Field(
        default=10.0, ge=0, description="How long a proposal waits for its campaign's 'created' event before it is "
        "dead-lettered as naming an unknown campaign.",
    )

    dynamic_model: Path | None = Field(
        default=None, description="A model file from `fluxlab predictor fit --model dynamic`: the dashboard draws its "
        "predicted growth curves (95 % band) with the measured ones; unset: measured curves only.",
    )

    def resolved_reviewers_file(self, data_dir: Path) -> Path:
        """The reviewers file: explicit, else `<data dir>/reviewers.toml`."""
        return self.reviewers_file or data_dir / REVIEWERS_FILE

    def resolved_secret(self) -> bytes:
        """The session key (random when not configured)."""
        return self.session_secret.encode() if self.session_secret else secrets.token_bytes(32)
