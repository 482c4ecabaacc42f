"""Alembic migrations of the tracker database; `upgrade_to_head` brings any older database up in place."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from alembic.config import Config

HERE = Path(__file__).parent
_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*=\s*['\"]?(\w+)['\"]?\s*$", re.MULTILINE)


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to this package's scripts and the given engine."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["engine"] = engine
    return config


def script_head() -> str | None:
    """The head revision, read from the scripts' `revision` / `down_revision` lines (None unless exactly one)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (HERE / "versions").glob("*.py"):
        found = {m.group(1): m.group(2) for m in _REVISION_LINE.finditer(path.read_text(encoding="utf-8"))}
        if "revision" not in found:
            return None
        revisions.add(found["revision"])
        parents.add(found.get("down_revision", "None"))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def current_revision(engine: Engine) -> str | None:
    """The database's Alembic revision (None for a new or unversioned database)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def upgrade_to_head(engine: Engine) -> None:
    """Apply every pending migration (a database already at head is left alone without loading Alembic,
    which costs a restarted tracker a second or more)."""
    head = script_head()
    if head is not None and current_revision(engine) == head:
        return
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def upgrade_to(engine: Engine, revision: str) -> None:
    """Migrate to a given revision (tests use it to build an older database)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)
