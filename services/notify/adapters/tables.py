"""Notify's own tables (schema ``notify``)."""

from sqlalchemy import Column, DateTime, MetaData, SmallInteger, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.handoffs import handoff_table, inbox_table
from shared.projection_failures import failures_table
from shared.subscriptions import checkpoint_table
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

# one row per message to one recipient on one channel: the claim that makes its send happen once
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("source_event_id", UUID(as_uuid=True), nullable=False),
    Column("complaint_id", UUID(as_uuid=True), nullable=False),
    Column("kecamatan", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("audience", Text, nullable=False),
    Column("username", Text),
    Column("channel", Text, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("subject", Text),
    Column("body", Text, nullable=False),
    Column("attachment", JSONB),
    Column("link", Text),
    Column("variables", JSONB),
    Column("state", Text, nullable=False, server_default="pending"),
    Column("attempts", SmallInteger, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("enqueued_at", DateTime(timezone=True)),
    Column("sending_since", DateTime(timezone=True)),
    Column("provider", Text),
    # the provider's id of the message (a WhatsApp id holds the recipient's number: cleared when the complainant's
    # data is erased) and its keyed hash, which delivery receipts are matched by (docs/adr/0017, decision 7)
    Column("provider_message_id", Text),
    Column("provider_message_hash", Text),
    Column("last_error", Text),
    Column("sent_at", DateTime(timezone=True)),
    Column("delivered_at", DateTime(timezone=True)),
    Column("reported_state", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

templates = Table(
    "templates",
    metadata,
    Column("kecamatan", Text, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("channel", Text, primary_key=True),
    Column("subject", Text),
    Column("body", Text, nullable=False),
    Column("updated_by", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

dead_letters = dead_letter_table(metadata)

inbox = inbox_table(metadata)  # the relay's tasks handled here (the hand-off reconciler reads it)

handoffs = handoff_table(metadata)  # reports handed to the workflow, until its inbox has them

# the news of new work's position in the event store, and the events it could not plan (services/notify/new_work.py)
checkpoints = checkpoint_table(metadata)
projection_failures = failures_table(metadata)
