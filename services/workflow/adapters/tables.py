"""Workflow's own tables (schema ``workflow``) besides the event store itself."""

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, SmallInteger, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.handoffs import handoff_table
from shared.subscriptions import checkpoint_table
from shared.tasks import dead_letter_table

metadata = MetaData(schema="workflow")

inbox = Table(
    "inbox",
    metadata,
    Column("consumer", Text, primary_key=True),
    Column("message_id", UUID(as_uuid=True), primary_key=True),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

checkpoints = checkpoint_table(metadata)

handoffs = handoff_table(metadata)  # what the relay handed to letters and notify, until they confirm it

dead_letters = dead_letter_table(metadata)

complaints = Table(
    "complaints",
    metadata,
    Column("complaint_id", UUID(as_uuid=True), primary_key=True),
    Column("tracking_code", Text, nullable=False, unique=True),
    Column("kecamatan", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("outcome", Text),
    Column("current_step", SmallInteger),
    Column("waiting_role", Text),
    Column("unit", Text),
    Column("step_due_at", DateTime(timezone=True)),
    Column("deadline_at", DateTime(timezone=True)),
    Column("documents_close_after", DateTime(timezone=True)),
    Column("overdue_flagged", Boolean, nullable=False, server_default="false"),
    Column("register_number", Integer),
    Column("register_year", Integer),
    Column("letter_number", Text),
    Column("closed_at", DateTime(timezone=True)),  # migration 0023: the retention period runs from it
    Column("personal_data_erased", Boolean, nullable=False, server_default="false"),
    Column("confidential", Boolean, nullable=False, server_default="false"),  # pelapor rahasia: its code withheld
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)

# possible duplicates (migration 0028; docs/adr/0021): each complaint's comparable text (shared.privacy.comparable_text),
# searched by pg_trgm among the open ones of its kecamatan; deleted with the complaint's erasure
duplicate_texts = Table(
    "duplicate_texts",
    metadata,
    Column("complaint_id", UUID(as_uuid=True), primary_key=True),
    Column("kecamatan", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("open", Boolean, nullable=False, server_default="true"),  # the trigram index holds only the open ones (0032)
)

counters = Table(
    "counters",
    metadata,
    Column("kind", Text, primary_key=True),
    Column("kecamatan", Text, primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last_value", Integer, nullable=False),
)

# the record of requests about a complainant's personal data and their outcomes (migration 0023; docs/adr/0017):
# the workflow decides erasure, access and correction, and its retention job erases
privacy_requests = Table(
    "requests",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("kind", Text, nullable=False),  # erasure, retention, access, correction
    Column("complaint_id", UUID(as_uuid=True), nullable=False),
    Column("kecamatan", Text, nullable=False),
    Column("requested_by", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("outcome", Text, nullable=False),  # done, refused
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("detail", JSONB, nullable=False),
    schema="privacy",
)
