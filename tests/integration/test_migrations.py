"""An older database upgrades in place and keeps its rows; the models match the migrations."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from services.tracker.migrations import alembic_config, upgrade_to
from services.tracker.repository import Repository, make_engine


def test_older_database_upgrades_in_place(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade_to(engine, "0001")
    with engine.begin() as conn:
        assert "batch_id" not in {c["name"] for c in sa.inspect(conn).get_columns("measurements")}
        conn.execute(sa.text(
            "INSERT INTO measurements (id, campaign_id, run_id, design_key, growth, source, station, data_json, "
            "measured_at) VALUES ('m1', 'c1', 'r1', '{}', 0.5, 'import', NULL, '{}', '2026-01-01 00:00:00')"))
    engine.dispose()
    repo = Repository(db_url)  # upgrades to head on open
    with repo.engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("measurements")}
        assert "batch_id" in columns
        assert conn.execute(sa.text("SELECT count(*) FROM measurements")).scalar() == 1
        assert conn.execute(sa.text("SELECT batch_id FROM measurements")).scalar() == ""
    command.check(alembic_config(repo.engine))  # no drift between tables and migrations
    repo.dispose()


def test_head_read_from_the_scripts_is_alembics_and_a_database_at_head_is_left_alone(db_url: str) -> None:
    from alembic.script import ScriptDirectory

    from services.tracker.migrations import current_revision, script_head

    engine = make_engine(db_url)
    assert current_revision(engine) is None  # a new database: Alembic runs
    assert script_head() == ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    repo = Repository(db_url)
    assert current_revision(repo.engine) == script_head()
    Repository(db_url).dispose()  # reopened at head: no migration, the rows and triggers stay
    with repo.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
    repo.dispose()
    engine.dispose()
