"""The SP4N-LAPOR! bridge (issue #18 item 6, docs/adr/0023): schema ``lapor``.

``inbox`` (one row per LAPOR! report disposed to one of our kecamatan, keyed by its tracking id: never imported
twice; handed to intake, then acknowledged), ``cursors`` (where each LAPOR! instansi's next poll starts, moved in the
transaction that writes the inbox rows it passed), ``followed`` (the complaints that came from LAPOR!), ``outbox``
(one row per follow-up to report back, keyed by the event it reports, written with the follower's checkpoint),
``checkpoints`` and ``projection_failures`` (the follower's set-aside events, as migration 0018's). services/lapor/adapters/tables.py mirrors it.

Revision ID: 0029
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
NOW = sa.text("now()")


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS lapor")
    op.create_table(
        "inbox",
        sa.Column("tracking_id", sa.Text, primary_key=True),
        sa.Column("kecamatan", sa.Text, nullable=False),
        sa.Column("instansi_id", sa.Text, nullable=False),
        sa.Column("report", JSONB, nullable=False),
        sa.Column("state", sa.Text, nullable=False, server_default="received"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS, nullable=False, server_default=NOW),
        sa.Column("last_error", sa.Text),
        sa.Column("complaint_id", UUID(as_uuid=True), unique=True),
        sa.Column("tracking_code", sa.Text),
        sa.Column("received_at", TS, nullable=False, server_default=NOW),
        sa.Column("submitted_at", TS),
        sa.Column("acknowledged_at", TS),
        sa.CheckConstraint("state IN ('received', 'submitted', 'refused')", name="inbox_state"),
        schema="lapor",
    )
    op.create_index(
        "inbox_waiting", "inbox", ["next_attempt_at"], schema="lapor", postgresql_where=sa.text("state = 'received'")
    )
    op.create_table(
        "cursors",
        sa.Column("instansi_id", sa.Text, primary_key=True),
        sa.Column("cursor", sa.Text),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        schema="lapor",
    )
    op.create_table(
        "followed",
        sa.Column("complaint_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("kecamatan", sa.Text, nullable=False),
        sa.Column("tracking_code", sa.Text, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        schema="lapor",
    )
    op.create_table(
        "outbox",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("complaint_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kecamatan", sa.Text, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("letter_number", sa.Text),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("state", sa.Text, nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS, nullable=False, server_default=NOW),
        sa.Column("last_error", sa.Text),
        sa.Column("lapor_id", sa.Text),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.Column("sent_at", TS),
        sa.CheckConstraint("state IN ('pending', 'sent', 'failed')", name="outbox_state"),
        sa.CheckConstraint("status IN ('proses', 'selesai')", name="outbox_status"),
        schema="lapor",
    )
    op.create_index("outbox_per_complaint", "outbox", ["complaint_id", "position"], schema="lapor")
    op.create_index(
        "outbox_pending", "outbox", ["next_attempt_at"], schema="lapor", postgresql_where=sa.text("state = 'pending'")
    )
    op.create_table(
        "checkpoints",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        schema="lapor",
    )
    op.create_table(  # the follower's set-aside events (shared/projection_failures.py, docs/adr/0015)
        "projection_failures",
        sa.Column("projection", sa.Text, primary_key=True),
        sa.Column("position", sa.BigInteger, primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("stream_id", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("kecamatan", sa.Text, nullable=False),
        sa.Column("held_behind", sa.BigInteger),
        sa.Column("error_class", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("first_failed_at", TS, nullable=False, server_default=NOW),
        sa.Column("last_failed_at", TS, nullable=False, server_default=NOW),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        schema="lapor",
    )
    op.create_index("projection_failures_stream", "projection_failures", ["projection", "stream_id"], schema="lapor")


def downgrade() -> None:
    for table in ("projection_failures", "checkpoints", "outbox", "followed", "cursors", "inbox"):
        op.drop_table(table, schema="lapor")
    op.execute("DROP SCHEMA IF EXISTS lapor")
