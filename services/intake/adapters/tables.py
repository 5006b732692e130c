"""Intake's own tables (schema ``intake``)."""
from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, SmallInteger, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.subscriptions import checkpoint_table

metadata = MetaData(schema="intake")

submissions = Table(
    "submissions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("complaint_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("tracking_code", Text, nullable=False, unique=True),
    Column("kecamatan", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("idempotency_key", Text, unique=True),
    Column("request_hash", Text),
    Column("complainant", JSONB, nullable=False),
    Column("subject", Text, nullable=False),
    Column("description", Text, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("message_type", Text, nullable=False),
    Column("task", Text, nullable=False),
    Column("queue", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
)

tracking = Table(
    "tracking",
    metadata,
    Column("complaint_id", UUID(as_uuid=True), primary_key=True),
    Column("tracking_code", Text, nullable=False, unique=True),
    Column("status", Text, nullable=False),
    Column("current_step", SmallInteger),
    Column("sop_version", Text, nullable=False),
    Column("steps", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("outcome", Text),
    Column("referred_to", Text),
)

checkpoints = checkpoint_table(metadata)
