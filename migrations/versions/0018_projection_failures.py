"""Projections set aside the events they cannot apply (poison events) instead of stopping on them:
``dashboard.projection_failures`` (the dashboard's complaints and service_requests projections, and a rebuild's
copies) and ``intake.projection_failures`` (the tracking projection).

One row per event a projection did not apply, keyed by the projection (its checkpoint's name) and the event's
position: the event that failed (its error class and a message without personal data, first and last failure,
attempts) and the later events of the same complaint held behind it (``held_behind``: the failed event's
position), written in the transaction that moves the checkpoint past them. ``shared/projection_failures.py``
holds the same definition (``failures_table``) and how they are set aside and retried;
docs/adr/0015-projection-poison-events.md says why. Both tables start empty; going down drops them (the
release before this one stops on such an event again).

Revision ID: 0018
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
NOW = sa.text("now()")
SCHEMAS = ("dashboard", "intake")


def upgrade() -> None:
    for schema in SCHEMAS:
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
            schema=schema,
        )
        op.create_index("projection_failures_stream", "projection_failures", ["projection", "stream_id"], schema=schema)


def downgrade() -> None:
    for schema in SCHEMAS:
        op.drop_index("projection_failures_stream", "projection_failures", schema=schema)
        op.drop_table("projection_failures", schema=schema)
