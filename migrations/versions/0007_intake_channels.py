"""Intake's inbound channels: inbound messages (the dedupe key of every webhook delivery), attachments,
providers' delivery statuses, and who typed in a complaint-box form or a phone call.

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.add_column("submissions", sa.Column("entered_at", sa.DateTime(timezone=True)), schema="intake")
    op.add_column("submissions", sa.Column("entered_by", sa.Text), schema="intake")
    # a message from a complainant whose complaint awaits documents joins it: found by contact and status
    op.create_index(
        "submissions_complainant_phone",
        "submissions",
        ["kecamatan", sa.text("(complainant ->> 'phone')")],
        schema="intake",
    )
    op.create_index(
        "submissions_complainant_email",
        "submissions",
        ["kecamatan", sa.text("lower(complainant ->> 'email')")],
        schema="intake",
    )
    op.create_index(
        "tracking_awaiting_documents",
        "tracking",
        ["complaint_id"],
        schema="intake",
        postgresql_where=sa.text("status = 'awaiting_documents'"),
    )

    op.create_table(
        "inbound_messages",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("provider_message_id", sa.Text, nullable=False),
        sa.Column("kecamatan", sa.Text),
        sa.Column("sender", sa.Text),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("submission_id", UUID(as_uuid=True)),
        sa.Column("complaint_id", UUID(as_uuid=True)),
        sa.Column("note", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.UniqueConstraint("channel", "provider_message_id", name="inbound_messages_provider_id"),
        sa.CheckConstraint("result IN ('complaint', 'reply', 'ignored')", name="result_known"),
        sa.CheckConstraint("channel IN ('sms', 'whatsapp', 'email')", name="channel_known"),
        schema="intake",
    )
    op.create_index("inbound_messages_complaint", "inbound_messages", ["complaint_id"], schema="intake")

    op.create_table(
        "attachments",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("filename", sa.Text),
        sa.Column("kind", sa.Text),
        sa.Column("kecamatan", sa.Text, nullable=False),
        sa.Column("submission_id", UUID(as_uuid=True), sa.ForeignKey("intake.submissions.id")),
        sa.Column("inbound_message_id", UUID(as_uuid=True), sa.ForeignKey("intake.inbound_messages.id")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint("submission_id IS NOT NULL OR inbound_message_id IS NOT NULL", name="belongs_somewhere"),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        sa.CheckConstraint("size > 0", name="size_positive"),
        schema="intake",
    )
    op.create_index("attachments_sha256", "attachments", ["sha256"], schema="intake")
    op.create_index("attachments_submission", "attachments", ["submission_id"], schema="intake")
    op.create_index("attachments_inbound_message", "attachments", ["inbound_message_id"], schema="intake")

    op.create_table(
        "channel_statuses",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column("provider_message_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("biz_opaque_callback_data", sa.Text),
        sa.Column("recipient_id", sa.Text),
        sa.Column("timestamp", sa.DateTime(timezone=True)),
        sa.Column("raw", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.UniqueConstraint("provider_message_id", "status", name="channel_statuses_message_status"),
        schema="intake",
    )


def downgrade() -> None:
    op.drop_table("channel_statuses", schema="intake")
    op.drop_table("attachments", schema="intake")
    op.drop_table("inbound_messages", schema="intake")
    op.drop_index("tracking_awaiting_documents", "tracking", schema="intake")
    op.drop_index("submissions_complainant_email", "submissions", schema="intake")
    op.drop_index("submissions_complainant_phone", "submissions", schema="intake")
    op.drop_column("submissions", "entered_by", schema="intake")
    op.drop_column("submissions", "entered_at", schema="intake")
