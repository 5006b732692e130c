"""Foundation: kecamatan directory, intake submissions and outbox, the event store.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

NOW = sa.text("now()")


IMMUTABILITY_DDL = [
    sa.text(
        """
        CREATE OR REPLACE FUNCTION workflow.forbid_event_change() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'the event store is append-only: % is not allowed', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$ LANGUAGE plpgsql
        """
    ),
    sa.text(
        "CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON workflow.events "
        "FOR EACH ROW EXECUTE FUNCTION workflow.forbid_event_change()"
    ),
    sa.text(
        "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON workflow.events "
        "FOR EACH STATEMENT EXECUTE FUNCTION workflow.forbid_event_change()"
    ),
]

# Subscribers (relay, projections) LISTEN on this channel; NOTIFY is delivered at commit. A statement
# trigger saves the appending transaction a round trip while it holds the append lock.
NOTIFY_DDL = [
    sa.text(
        """
        CREATE OR REPLACE FUNCTION workflow.notify_events() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('pengaduan_events', '');
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    ),
    sa.text(
        "CREATE TRIGGER events_notify AFTER INSERT ON workflow.events "
        "FOR EACH STATEMENT EXECUTE FUNCTION workflow.notify_events()"
    ),
]


def upgrade() -> None:
    for schema in ("tenancy", "intake", "workflow"):
        op.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")

    op.create_table(
        "kecamatan",
        sa.Column("slug", sa.Text, primary_key=True),
        sa.Column("code", sa.Text, nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kabupaten_slug", sa.Text, nullable=False),
        sa.Column("kabupaten_name", sa.Text, nullable=False),
        sa.Column("letterhead", JSONB, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        schema="tenancy",
    )

    op.create_table(
        "submissions",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("complaint_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("tracking_code", sa.Text, nullable=False, unique=True),
        sa.Column("kecamatan", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("idempotency_key", sa.Text, unique=True),
        sa.Column("request_hash", sa.Text),
        sa.Column("complainant", JSONB, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        schema="intake",
    )
    op.create_table(
        "outbox",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("message_type", sa.Text, nullable=False),
        sa.Column("task", sa.Text, nullable=False),
        sa.Column("queue", sa.Text, nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        schema="intake",
    )
    op.create_index(
        "outbox_unpublished",
        "outbox",
        ["created_at"],
        schema="intake",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "tracking",
        sa.Column("complaint_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tracking_code", sa.Text, nullable=False, unique=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("current_step", sa.SmallInteger),
        sa.Column("sop_version", sa.Text, nullable=False),
        sa.Column("steps", JSONB, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        schema="intake",
    )
    for schema in ("intake", "workflow"):
        op.create_table(
            "checkpoints",
            sa.Column("name", sa.Text, primary_key=True),
            sa.Column("position", sa.BigInteger, nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
            schema=schema,
        )

    op.create_table(
        "events",
        sa.Column("position", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("stream_id", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("kecamatan", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("actor", JSONB, nullable=False),
        sa.Column("correlation_id", UUID(as_uuid=True), nullable=False),
        sa.Column("causation_id", UUID(as_uuid=True)),
        sa.Column("payload", JSONB, nullable=False),
        sa.UniqueConstraint("event_id", name="events_event_id_key"),
        sa.UniqueConstraint("stream_id", "version", name="events_stream_version_key"),
        sa.CheckConstraint("version > 0", name="events_version_positive"),
        schema="workflow",
    )
    op.create_index("events_kecamatan_position", "events", ["kecamatan", "position"], schema="workflow")
    op.create_index("events_type_position", "events", ["type", "position"], schema="workflow")
    for statement in IMMUTABILITY_DDL + NOTIFY_DDL:
        op.execute(statement)

    op.create_table(
        "inbox",
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("message_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        schema="workflow",
    )

    op.create_table(
        "dead_letters",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("task", sa.Text, nullable=False),
        sa.Column("queue", sa.Text, nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("replayed_at", sa.DateTime(timezone=True)),
        schema="workflow",
    )


def downgrade() -> None:
    raise NotImplementedError("the event store is append-only; restore from a backup instead")
