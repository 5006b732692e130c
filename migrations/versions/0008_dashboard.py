"""Dashboard: the read models fed from the event store (the Buku Rekap Pengaduan, the kabupaten's
figures) and their checkpoints. services/dashboard/adapters/tables.py holds the same definitions (a rebuild
creates fresh copies from them and swaps them in); a test checks the two agree.

Revision ID: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS dashboard")
    op.create_table(
        "checkpoints",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.text("now()")),
        schema="dashboard",
    )
    op.create_table(
        "complaints",
        sa.Column("complaint_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("kecamatan", sa.Text, nullable=False),
        sa.Column("tracking_code", sa.Text, nullable=False),
        sa.Column("register_number", sa.Integer),
        sa.Column("register_year", sa.Integer),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("received_date", sa.Date, nullable=False),
        sa.Column("complainant_name", sa.Text, nullable=False),
        sa.Column("complainant_nik", sa.Text),
        sa.Column("complainant_phone", sa.Text),
        sa.Column("complainant_email", sa.Text),
        sa.Column("complainant_address", sa.Text),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text),
        sa.Column("current_step", sa.SmallInteger),
        sa.Column("waiting_role", sa.Text),
        sa.Column("step_started_at", TS),
        sa.Column("step_due_at", TS),
        sa.Column("deadline_at", TS),
        sa.Column("disposition_unit", sa.Text),
        sa.Column("disposition_instructions", sa.Text),
        sa.Column("disposed_at", TS),
        sa.Column("follow_up", sa.Text),
        sa.Column("followed_up_at", TS),
        sa.Column("referred_to", sa.Text),
        sa.Column("agency_kind", sa.Text),
        sa.Column("referral_reason", sa.Text),
        sa.Column("referred_at", TS),
        sa.Column("letter_number", sa.Text),
        sa.Column("letter_signed_at", TS),
        sa.Column("dispatched_at", TS),
        sa.Column("sent_at", TS),
        sa.Column("sent_channel", sa.Text),
        sa.Column("receipt", sa.Text),
        sa.Column("closed_at", TS),
        sa.Column("within_sla", sa.Boolean),
        sa.Column("sop_version", sa.Text, nullable=False),
        sa.Column("sop_overrides", JSONB),
        sa.Column("step_occurrences", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("position", sa.BigInteger, nullable=False),
        schema="dashboard",
    )
    op.create_index(
        "complaints_kecamatan_received",
        "complaints",
        ["kecamatan", "received_date"],
        schema="dashboard",
        postgresql_include=["channel", "status", "outcome", "within_sla", "deadline_at"],
    )
    op.create_index(
        "complaints_register",
        "complaints",
        ["kecamatan", "register_year", "register_number"],
        unique=True,
        schema="dashboard",
        postgresql_where=sa.text("register_number IS NOT NULL"),
    )
    op.create_index(
        "complaints_overdue",
        "complaints",
        ["kecamatan", "step_due_at"],
        schema="dashboard",
        postgresql_where=sa.text("status = 'in_progress'"),
    )
    op.create_index(
        "complaints_referred",
        "complaints",
        ["kecamatan", "received_date"],
        schema="dashboard",
        postgresql_where=sa.text("outcome = 'referred'"),
    )
    op.create_index("complaints_tracking_code", "complaints", ["tracking_code"], unique=True, schema="dashboard")

    op.create_table(
        "step_times",
        sa.Column("complaint_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("step", sa.SmallInteger, primary_key=True),
        sa.Column("occurrence", sa.SmallInteger, primary_key=True),
        sa.Column("kecamatan", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("completed_at", TS, nullable=False),
        sa.Column("completed_date", sa.Date, nullable=False),
        sa.Column("due_at", TS),
        sa.Column("elapsed_minutes", sa.Integer, nullable=False),
        sa.Column("wall_minutes", sa.Integer, nullable=False),
        sa.Column("standard_minutes", sa.Integer, nullable=False),
        sa.Column("within_standard", sa.Boolean, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        schema="dashboard",
    )
    op.create_index(
        "step_times_kecamatan_completed",
        "step_times",
        ["kecamatan", "completed_date", "step"],
        schema="dashboard",
        postgresql_include=["role", "elapsed_minutes", "standard_minutes", "within_standard"],
    )
    op.create_index(
        "step_times_groups",
        "step_times",
        ["kecamatan", "step", "role", "standard_minutes", "elapsed_minutes"],
        schema="dashboard",
        postgresql_include=["completed_date", "within_standard"],
    )


def downgrade() -> None:
    op.execute("DROP SCHEMA IF EXISTS dashboard CASCADE")
