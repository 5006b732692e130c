"""The LAPOR! bridge's own tables (schema ``lapor``, migration 0029).

- ``inbox``: one row per LAPOR! report disposed to one of our kecamatan, keyed by its tracking id (never twice),
  written with the poll cursor that passed it in one transaction; then handed to intake (``state`` received ->
  submitted, with intake's complaint id and tracking code) and acknowledged to LAPOR!. The reporter's identity is
  kept in ``report`` only until intake has it (then intake holds it, sealed: docs/adr/0017).
- ``cursors``: per LAPOR! instansi, where the next poll of its dispositions starts.
- ``followed``: the complaints that came from LAPOR! (from ``workflow.ComplaintReceived`` with channel ``lapor``).
- ``outbox``: one row per follow-up to report to LAPOR! (its id from the event it reports: written once), written
  in the transaction that moves the follower's checkpoint; a sender drains it per complaint in event order.
- ``checkpoints``: the follower's position in the event store; ``projection_failures``: the events it could not turn
  into follow-ups, set aside with their complaint's later ones held behind them (docs/adr/0015).
"""

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.projection_failures import failures_table
from shared.subscriptions import checkpoint_table

metadata = MetaData(schema="lapor")

TS = DateTime(timezone=True)

inbox = Table(
    "inbox",
    metadata,
    Column("tracking_id", Text, primary_key=True),
    Column("kecamatan", Text, nullable=False),
    Column("instansi_id", Text, nullable=False),
    Column("report", JSONB, nullable=False),
    Column("state", Text, nullable=False, server_default="received"),  # received | submitted | refused
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", TS, nullable=False, server_default=func.now()),
    Column("last_error", Text),
    Column("complaint_id", UUID(as_uuid=True), unique=True),
    Column("tracking_code", Text),
    Column("received_at", TS, nullable=False, server_default=func.now()),
    Column("submitted_at", TS),
    Column("acknowledged_at", TS),
)

cursors = Table(
    "cursors",
    metadata,
    Column("instansi_id", Text, primary_key=True),
    Column("cursor", Text),
    Column("updated_at", TS, nullable=False, server_default=func.now()),
)

followed = Table(
    "followed",
    metadata,
    Column("complaint_id", UUID(as_uuid=True), primary_key=True),
    Column("kecamatan", Text, nullable=False),
    Column("tracking_code", Text, nullable=False),
    Column("position", BigInteger, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),  # uuid5 of the event reported: the idempotency key too
    Column("complaint_id", UUID(as_uuid=True), nullable=False),
    Column("kecamatan", Text, nullable=False),
    Column("position", BigInteger, nullable=False),  # the event's: the order per complaint
    Column("kind", Text, nullable=False),
    Column("status", Text, nullable=False),  # proses | selesai
    Column("text", Text, nullable=False),
    Column("letter_number", Text),
    Column("occurred_at", TS, nullable=False),
    Column("state", Text, nullable=False, server_default="pending"),  # pending | sent | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", TS, nullable=False, server_default=func.now()),
    Column("last_error", Text),
    Column("lapor_id", Text),  # LAPOR!'s id of the follow-up
    Column("created_at", TS, nullable=False, server_default=func.now()),
    Column("sent_at", TS),
)

checkpoints = checkpoint_table(metadata)
projection_failures = failures_table(metadata)
