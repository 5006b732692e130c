"""Intake outbox: how many times the reconciler published a complaint again, so it waits twice as long each
time (a workflow that is only behind is not flooded with copies).

Revision ID: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("republished", sa.Integer, nullable=False, server_default="0"), schema="intake")


def downgrade() -> None:
    op.drop_column("outbox", "republished", schema="intake")
