"""Measurements that arrive before their work order are held, not dead-lettered.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "held_measurements",
        sa.Column("msg_id", text(length=128), nullable=False),
        sa.Column("run_id", text(length=128), nullable=False),
        sa.Column("campaign_id", text(length=128), nullable=False),
        sa.Column("verdict", text(length=16), nullable=False),
        sa.Column("field", text(), nullable=False),
        sa.Column("reason", text(), nullable=False),
        sa.Column("held_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("msg_id"),
    )
    with op.batch_alter_table("held_measurements") as batch:
        batch.create_index(batch.f("ix_held_measurements_run_id"), ["run_id"], unique=False)
        batch.create_index(batch.f("ix_held_measurements_campaign_id"), ["campaign_id"], unique=False)


def downgrade() -> None:
    op.drop_table("held_measurements")
