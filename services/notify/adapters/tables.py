"""Notify's own tables (schema ``notify``)."""
from sqlalchemy import Column, DateTime, MetaData, SmallInteger, Table, Text, func
from sqlalchemy.dialects.postgresql import UUID

from shared.tasks import dead_letter_table

metadata = MetaData(schema="notify")

escalations = Table(
    "escalations",
    metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("username", Text, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("kecamatan", Text, nullable=False),
    Column("complaint_id", UUID(as_uuid=True), nullable=False),
    Column("step", SmallInteger, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("read_at", DateTime(timezone=True)),
)

dead_letters = dead_letter_table(metadata)
