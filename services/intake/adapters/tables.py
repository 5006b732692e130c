"""Intake's own tables (schema ``intake``)."""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
)
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
    # a complaint-box form or a phone call typed in by staff (migration 0007): when, and by whom
    Column("entered_at", DateTime(timezone=True)),
    Column("entered_by", Text),
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
    Column("republished", Integer, nullable=False, server_default="0"),  # by the reconciler (migration 0011)
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
    # a referral followed until the receiving office answers (migration 0017; adapters/tracking.py):
    # followed | answered | lapsed | ended | unfollowed (referred before referrals were followed)
    Column("referral_state", Text),
    Column("follow_up_by", DateTime(timezone=True)),
    Column("referral_answer", Text),  # as staff recorded it; masked of personal data when read
    Column("referral_answered_on", Date),
    # after a closing with a response (migration 0027; docs/adr/0020): how many there were, when the latest was, the
    # latest the complainant answered (once each), how many times it was reopened, a keberatan (open | answered)
    Column("closings", SmallInteger, nullable=False, server_default="0"),
    Column("closed_at", DateTime(timezone=True)),
    Column("feedback_closing", SmallInteger, nullable=False, server_default="0"),
    Column("reopened", SmallInteger, nullable=False, server_default="0"),
    Column("objection_state", Text),
    Column("objection_answer", Text),  # the Camat's answer upholding the response; masked when read
)

# every message that came in on a channel (migration 0007): the dedupe key and what it became. The provider's id
# of the message only as its keyed hash (migration 0025; shared.privacy.ProviderIdHashes): a WhatsApp id holds the
# sender's phone number, an SMS one our number and the gateway's sequence, an e-mail Message-ID often a host
inbound_messages = Table(
    "inbound_messages",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("channel", Text, nullable=False),  # sms | whatsapp | email
    Column("provider_message_hash", Text, nullable=False),
    Column("kecamatan", Text),  # None when no kecamatan claims it (then ignored)
    Column("sender", Text),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("result", Text, nullable=False),  # complaint | reply | ignored
    Column("submission_id", UUID(as_uuid=True)),
    Column("complaint_id", UUID(as_uuid=True)),
    Column("note", Text),  # why it was ignored, or what was left out
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("channel", "provider_message_hash", name="inbound_messages_provider_hash"),
    CheckConstraint("result IN ('complaint', 'reply', 'ignored')", name="result_known"),
)

# photos and scans that came with a complaint or a reply; the bytes are in the document store (by sha256)
attachments = Table(
    "attachments",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("sha256", Text, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("filename", Text),
    Column("kind", Text),
    Column("kecamatan", Text, nullable=False),
    Column("submission_id", UUID(as_uuid=True), ForeignKey("intake.submissions.id")),
    Column("inbound_message_id", UUID(as_uuid=True), ForeignKey("intake.inbound_messages.id")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("submission_id IS NOT NULL OR inbound_message_id IS NOT NULL", name="belongs_somewhere"),
)

# delivery receipts of our own outbound messages, as providers report them (notify reads them): the provider's id
# of the message only as its keyed hash, and neither the id nor the recipient's number in ``raw`` (migration 0025)
channel_statuses = Table(
    "channel_statuses",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("provider", Text, nullable=False),
    Column("provider_message_hash", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("biz_opaque_callback_data", Text),
    Column("recipient_id", Text),  # no longer written (the recipient's number); older rows cleared by 0025
    Column("timestamp", DateTime(timezone=True)),
    Column("raw", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("provider_message_hash", "status", name="channel_statuses_message_status"),
)

checkpoints = checkpoint_table(metadata)
