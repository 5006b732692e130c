"""Letters: the issued documents (receipts, drafts, signed response letters), content-addressed.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS letters")
    op.create_table(
        "documents",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),  # in the letter's QR code: the verification page
        sa.Column("source_event_id", UUID(as_uuid=True), nullable=False, unique=True),  # one document per event
        sa.Column("complaint_id", UUID(as_uuid=True), nullable=False),
        sa.Column("tracking_code", sa.Text, nullable=False),
        sa.Column("kecamatan", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("letter_version", sa.Integer),
        sa.Column("letter_number", sa.Text),
        sa.Column("perihal", sa.Text),
        sa.Column("signer", sa.Text),
        sa.Column("signed_on", sa.Date),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        # when the complainant may download it: receipts at once, the signed letter when sent (step 12)
        sa.Column("released_at", sa.DateTime(timezone=True)),
        schema="letters",
    )
    op.create_index("documents_complaint", "documents", ["complaint_id"], schema="letters")
    op.create_index("documents_tracking", "documents", ["tracking_code", "kind"], schema="letters")
    op.create_table(
        "dead_letters",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("task", sa.Text, nullable=False),
        sa.Column("queue", sa.Text, nullable=False),
        sa.Column("payload", sa.dialects.postgresql.JSONB, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("replayed_at", sa.DateTime(timezone=True)),
        schema="letters",
    )


def downgrade() -> None:
    op.drop_table("dead_letters", schema="letters")
    op.drop_table("documents", schema="letters")
