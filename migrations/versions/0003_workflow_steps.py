"""The 12 steps: the workflow's read model of complaints, gapless counters, per-kecamatan settings.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a kecamatan's own SK: {"sop_overrides": {...}, "office_hours": {...}, "cuti_bersama": [...]}
    op.add_column("kecamatan", sa.Column("settings", JSONB, nullable=False, server_default="{}"), schema="tenancy")

    op.create_table(
        "complaints",
        sa.Column("complaint_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tracking_code", sa.Text, nullable=False, unique=True),
        sa.Column("kecamatan", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text),
        sa.Column("current_step", sa.SmallInteger),
        sa.Column("waiting_role", sa.Text),
        sa.Column("unit", sa.Text),
        sa.Column("step_due_at", sa.DateTime(timezone=True)),
        sa.Column("deadline_at", sa.DateTime(timezone=True)),
        sa.Column("documents_close_after", sa.DateTime(timezone=True)),
        sa.Column("overdue_flagged", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("register_number", sa.Integer),
        sa.Column("register_year", sa.Integer),
        sa.Column("letter_number", sa.Text),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        schema="workflow",
    )
    op.create_index("complaints_inbox", "complaints", ["kecamatan", "waiting_role", "step_due_at"], schema="workflow")
    op.create_index(
        "complaints_due",
        "complaints",
        ["step_due_at"],
        schema="workflow",
        postgresql_where=sa.text("status = 'in_progress' AND NOT overdue_flagged"),
    )
    op.create_index(
        "complaints_documents_due",
        "complaints",
        ["documents_close_after"],
        schema="workflow",
        postgresql_where=sa.text("status = 'awaiting_documents'"),
    )

    # numbers people write on paper: one row per (kind, kecamatan, year), locked in the same transaction
    # as the event that uses the number, so a rollback returns it: unique and gapless
    op.create_table(
        "counters",
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("kecamatan", sa.Text, primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("last_value", sa.Integer, nullable=False),
        schema="workflow",
    )

    op.create_index(
        "complaints_register_number_unique",
        "complaints",
        ["kecamatan", "register_year", "register_number"],
        unique=True,
        schema="workflow",
        postgresql_where=sa.text("register_number IS NOT NULL"),
    )
    op.create_index(
        "complaints_letter_number_unique",
        "complaints",
        ["letter_number"],
        unique=True,
        schema="workflow",
        postgresql_where=sa.text("letter_number IS NOT NULL"),
    )
    # the public tracking page says how a complaint ended, and where it was referred
    op.add_column("tracking", sa.Column("outcome", sa.Text), schema="intake")
    op.add_column("tracking", sa.Column("referred_to", sa.Text), schema="intake")


def downgrade() -> None:
    op.drop_column("tracking", "referred_to", schema="intake")
    op.drop_column("tracking", "outcome", schema="intake")
    op.drop_table("counters", schema="workflow")
    op.drop_table("complaints", schema="workflow")
    op.drop_column("kecamatan", "settings", schema="tenancy")
