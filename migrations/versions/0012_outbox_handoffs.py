"""Intake outbox as a hand-off ledger (#13): the scheduler looks every few seconds for published messages
other than complaints (replies, delivery statuses) whose consumer has not confirmed them
(services/intake/scheduler.py ``outbox_handoffs``). Complaints, most of the rows, stay a week after they
arrived; this partial index keeps that look to the few other rows.

Revision ID: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "outbox_handoffs_published",
        "outbox",
        ["published_at"],
        schema="intake",
        postgresql_where=sa.text("published_at IS NOT NULL AND message_type <> 'intake.ComplaintReceived'"),
    )


def downgrade() -> None:
    op.drop_index("outbox_handoffs_published", "outbox", schema="intake")
