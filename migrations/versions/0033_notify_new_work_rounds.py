"""The staff's news of new work planned in rounds (issue #20; docs/adr/0031): notify's checkpoint in the event store
and the events its round could not plan (``shared/projection_failures.py``, as migrations 0018's and 0029's).
services/notify/adapters/tables.py mirrors it.

The round's checkpoint starts where the relay had handed the store's events to ``notify.plan`` (its
``relay.notify-messages`` checkpoint), which planned the news of every event before it: the round plans the news of
the events after it, which the old relay hands on only while it still runs (an old notify worker planning one of them
too writes the same rows: the ids are the same). Not from further back: a member of staff who changed their address
or channel, or asked for news, since an event was planned would be told of it again. A database without that
checkpoint (a new deployment) gets none: the round's first one starts with the events recorded within
``notify_max_event_age_hours`` (services/notify/new_work.py).

Revision ID: 0033
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
NOW = sa.func.now()


def upgrade() -> None:
    op.create_table(
        "checkpoints",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        schema="notify",
    )
    op.create_table(
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
        schema="notify",
    )
    op.create_index("projection_failures_stream", "projection_failures", ["projection", "stream_id"], schema="notify")
    op.execute(
        "INSERT INTO notify.checkpoints (name, position) "
        "SELECT 'notify.new-work', position FROM workflow.checkpoints WHERE name = 'relay.notify-messages'"
    )


def downgrade() -> None:
    op.drop_table("projection_failures", schema="notify")
    op.drop_table("checkpoints", schema="notify")
