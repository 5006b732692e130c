"""Tables the benchmarks own (schema ``bench``); the product never reads them.

``bench_raw_events`` is the baseline of the event-store benchmark: the same columns, types, unique
constraints, check and indexes as ``workflow.events``, with a plain bigserial position and no lock.
``bare_submissions`` is what the bare FastAPI app writes: the columns and constraints of
``intake.submissions``.
``hop_queue`` is the hop benchmark's PostgreSQL work queue (bench/hop.py, ``pg_queue``): a row per message, its
payload the bytes of the raw Redis hop's message, taken in id order with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

SCHEMA = "bench"
metadata = MetaData(schema=SCHEMA)

raw_events = Table(
    "bench_raw_events",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=True),  # BIGSERIAL
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("stream_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("kecamatan", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", JSONB, nullable=False),
    Column("correlation_id", UUID(as_uuid=True), nullable=False),
    Column("causation_id", UUID(as_uuid=True)),
    Column("payload", JSONB, nullable=False),
    UniqueConstraint("event_id", name="bench_raw_events_event_id_key"),
    UniqueConstraint("stream_id", "version", name="bench_raw_events_stream_version_key"),
    CheckConstraint("version > 0", name="bench_raw_events_version_positive"),
    Index("bench_raw_events_kecamatan_position", "kecamatan", "position"),
    Index("bench_raw_events_type_position", "type", "position"),
)

bare_submissions = Table(
    "bare_submissions",
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

hop_queue = Table(
    "hop_queue",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),  # BIGSERIAL: the order taken in
    Column("payload", LargeBinary, nullable=False),  # BYTEA
)


def create_bench_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        metadata.create_all(conn, checkfirst=True)
