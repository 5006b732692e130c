"""Letters' own tables (schema ``letters``)."""

from sqlalchemy import Column, Date, DateTime, Integer, MetaData, Table, Text, func
from sqlalchemy.dialects.postgresql import UUID

from shared.handoffs import handoff_table, inbox_table
from shared.tasks import dead_letter_table

metadata = MetaData(schema="letters")

documents = Table(
    "documents",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("source_event_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("complaint_id", UUID(as_uuid=True), nullable=False),
    Column("tracking_code", Text, nullable=False),
    Column("kecamatan", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("letter_version", Integer),
    Column("letter_number", Text),
    Column("perihal", Text),
    Column("signer", Text),
    Column("signed_on", Date),
    Column("sha256", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("released_at", DateTime(timezone=True)),
    # the complainant's personal data erased: the PDF deleted, perihal NULL, the row kept (migration 0021)
    Column("erased_at", DateTime(timezone=True)),
)

# response letters signed through BSrE at step 10, by the id the workflow's LetterSigned will have (migration 0019)
esigned = Table(
    "esigned",
    metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("complaint_id", UUID(as_uuid=True), nullable=False),
    Column("kecamatan", Text, nullable=False),
    Column("letter_version", Integer, nullable=False),
    Column("letter_number", Text, nullable=False),
    Column("signer", Text, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("erased_at", DateTime(timezone=True)),  # the PDF deleted with the complainant's personal data (0021)
)

dead_letters = dead_letter_table(metadata)

inbox = inbox_table(metadata)  # the relay's tasks handled here (the hand-off reconciler reads it)

handoffs = handoff_table(metadata)  # LetterDocumentIssued handed to the workflow, until its inbox has it
