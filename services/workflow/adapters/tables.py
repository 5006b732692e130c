"""Workflow's own tables (schema ``workflow``) besides the event store itself."""
from sqlalchemy import BigInteger, Column, DateTime, MetaData, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.subscriptions import checkpoint_table

metadata = MetaData(schema="workflow")

inbox = Table(
    "inbox",
    metadata,
    Column("consumer", Text, primary_key=True),
    Column("message_id", UUID(as_uuid=True), primary_key=True),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

checkpoints = checkpoint_table(metadata)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("task", Text, nullable=False),
    Column("queue", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("error", Text, nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("replayed_at", DateTime(timezone=True)),
)
