"""Hand-offs between services made recoverable (#13): what each producer handed to the broker and its
consumer has not yet confirmed (a ledger per producer: ``workflow.handoffs`` written by the relay with its
checkpoint, ``letters.handoffs`` and ``notify.handoffs`` for their reports to the workflow), and the
consumer inboxes of letters and notify (the workflow has had one since 0001). The scheduler's hand-off
reconciler removes a ledger row once the consumer's inbox (or its dead letters) holds the message and
publishes it again when it does not (shared/handoffs.py).

Revision ID: 0010
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def upgrade() -> None:
    for schema in ("workflow", "letters", "notify"):
        op.create_table(
            "handoffs",
            sa.Column("consumer", sa.Text, primary_key=True),  # the task that consumes it (= its inbox's consumer)
            sa.Column("message_id", UUID(as_uuid=True), primary_key=True),  # the key the consumer's inbox records
            sa.Column("queue", sa.Text, nullable=False),
            sa.Column("task_id", sa.Text, nullable=False),
            sa.Column("payload", JSONB, nullable=False),  # ids and positions, never personal data
            sa.Column("published_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
            sa.Column("attempts", sa.SmallInteger, nullable=False, server_default="1"),
            schema=schema,
        )
        op.create_index("handoffs_published", "handoffs", ["published_at"], schema=schema)
    for schema in ("letters", "notify"):
        op.create_table(
            "inbox",
            sa.Column("consumer", sa.Text, primary_key=True),
            sa.Column("message_id", UUID(as_uuid=True), primary_key=True),
            sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
            schema=schema,
        )


def downgrade() -> None:
    for schema in ("letters", "notify"):
        op.drop_table("inbox", schema=schema)
    for schema in ("workflow", "letters", "notify"):
        op.drop_index("handoffs_published", "handoffs", schema=schema)
        op.drop_table("handoffs", schema=schema)
