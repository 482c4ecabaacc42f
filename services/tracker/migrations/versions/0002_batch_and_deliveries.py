"""Measurements keep their batch id; dead letters count deliveries.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("measurements") as batch:
        batch.add_column(sa.Column("batch_id", sa.String(), nullable=False, server_default=""))
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(sa.Column("deliveries", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_column("deliveries")
    with op.batch_alter_table("measurements") as batch:
        batch.drop_column("batch_id")
