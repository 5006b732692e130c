"""Notify: escalation alerts for overdue steps (who must act, and their superior), and its dead letters.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS notify")
    op.create_table(
        "escalations",
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),  # the StepOverdue event
        sa.Column("username", sa.Text, primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),  # responsible | superior
        sa.Column("kecamatan", sa.Text, nullable=False),
        sa.Column("complaint_id", UUID(as_uuid=True), nullable=False),
        sa.Column("step", sa.SmallInteger, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        schema="notify",
    )
    op.create_index("escalations_user", "escalations", ["username", "created_at"], schema="notify")
    op.create_table(
        "dead_letters",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("task", sa.Text, nullable=False),
        sa.Column("queue", sa.Text, nullable=False),
        sa.Column("payload", sa.dialects.postgresql.JSONB, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("replayed_at", sa.DateTime(timezone=True)),
        schema="notify",
    )


def downgrade() -> None:
    op.drop_table("dead_letters", schema="notify")
    op.drop_table("escalations", schema="notify")
