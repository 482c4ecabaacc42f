"""Review decisions are hash-chained and signed; triggers make decisions and the event log append-only.

Decisions recorded before this revision keep seq 0 and no hash (reported as legacy by `fluxlab audit verify`).
Note for later revisions: a SQLite batch alter of `reviews` or `event_log` recreates the table, which drops its
triggers; recreate them with `create_append_only_triggers`.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

APPEND_ONLY = ("reviews", "event_log")


def create_append_only_triggers(dialect: str) -> None:
    """Refuse UPDATE and DELETE (and, on PostgreSQL, TRUNCATE) on the append-only tables, from any client."""
    if dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION fluxlab_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'fluxlab: % rows are append-only (% refused)', TG_TABLE_NAME, TG_OP; END $$")
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION fluxlab_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION fluxlab_append_only()")
    elif dialect == "sqlite":
        for table in APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} BEGIN "
                           f"SELECT RAISE(ABORT, 'fluxlab: {table} rows are append-only ({verb} refused)'); END")


def drop_append_only_triggers(dialect: str) -> None:
    """Undo `create_append_only_triggers`."""
    for table in APPEND_ONLY:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        elif dialect == "sqlite":
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS fluxlab_append_only()")


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("prev_hash", text(length=64), nullable=False, server_default=""))
        batch.add_column(sa.Column("hash", text(length=64), nullable=False, server_default=""))
        batch.add_column(sa.Column("signature", text(length=64), nullable=False, server_default=""))
        batch.create_index(batch.f("ix_reviews_seq"), ["seq"], unique=False)
    create_append_only_triggers(op.get_bind().dialect.name)


def downgrade() -> None:
    drop_append_only_triggers(op.get_bind().dialect.name)
    with op.batch_alter_table("reviews") as batch:
        batch.drop_index(batch.f("ix_reviews_seq"))
        for column in ("signature", "hash", "prev_hash", "seq"):
            batch.drop_column(column)
