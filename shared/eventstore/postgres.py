"""The event store in PostgreSQL.

Commit order: every append takes one transaction-scoped advisory lock just before it inserts, and holds
it until its transaction ends. Positions (a bigserial) are therefore handed out in commit order, and a
reader tailing ``position > checkpoint`` can never skip an event that a slower transaction commits later
(the classic bigserial gap). The price is that appends are serialised from the insert to the commit
(two statements and the commit); see docs/adr/0002-commit-ordered-event-store.md and ``make bench``.

Immutability is enforced by triggers (no UPDATE, DELETE or TRUNCATE), created by the migrations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from shared.events import Actor, EventEnvelope
from shared.eventstore.port import ConcurrencyError, DuplicateEventError

metadata = MetaData(schema="workflow")

events = Table(
    "events",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
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
)

APPEND_LOCK_KEY = 0x5045_4E47  # "PENG": the one lock that orders appends
NOTIFY_CHANNEL = "pengaduan_events"


class PostgresEventStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- writing -----------------------------------------------------------------------------------
    def append(
        self,
        stream_id: str,
        expected_version: int,
        events_: Sequence[EventEnvelope],
        conn: Connection | None = None,
    ) -> list[int]:
        """Append inside ``conn``'s transaction (so a consumer's inbox row commits with its events),
        or in a transaction of its own. Call it last in a unit of work: it holds the append lock."""
        if conn is None:
            with self._engine.begin() as own:
                return self._append(own, stream_id, expected_version, events_)
        return self._append(conn, stream_id, expected_version, events_)

    def _append(
        self, conn: Connection, stream_id: str, expected_version: int, events_: Sequence[EventEnvelope]
    ) -> list[int]:
        for offset, event in enumerate(events_, start=1):
            if event.stream_id != stream_id or event.version != expected_version + offset:
                raise ValueError("event stream or version does not follow the expected version")
        # the version check runs before the lock: a writer that loses a race after it is caught by the
        # (stream_id, version) unique constraint, so the lock is held only for the insert and the commit
        actual = self._stream_version(conn, stream_id)
        if actual != expected_version:
            raise ConcurrencyError(stream_id, expected_version, actual)
        if not events_:
            return []
        rows = [to_row(e) for e in events_]
        conn.execute(select(func.pg_advisory_xact_lock(APPEND_LOCK_KEY)))
        try:
            # a statement trigger NOTIFYs subscribers; the notification is delivered at commit
            positions = conn.execute(insert(events).returning(events.c.position), rows).scalars().all()
        except IntegrityError as exc:  # the unit of work is aborted: the caller rolls back
            if "events_event_id_key" in str(exc.orig):
                raise DuplicateEventError(stream_id) from exc
            raise ConcurrencyError(stream_id, expected_version, None) from exc
        return list(positions)

    # -- reading -----------------------------------------------------------------------------------
    def read_stream(
        self, stream_id: str, after_version: int = 0, conn: Connection | None = None
    ) -> list[EventEnvelope]:
        query = (
            select(events)
            .where(events.c.stream_id == stream_id, events.c.version > after_version)
            .order_by(events.c.version)
        )
        if conn is not None:
            return [_to_envelope(row) for row in conn.execute(query).mappings()]
        with self._engine.connect() as own:
            return [_to_envelope(row) for row in own.execute(query).mappings()]

    def read_all(self, after: int = 0, limit: int = 1000, conn: Connection | None = None) -> list[EventEnvelope]:
        query = select(events).where(events.c.position > after).order_by(events.c.position).limit(limit)
        if conn is not None:
            return [_to_envelope(row) for row in conn.execute(query).mappings()]
        with self._engine.connect() as own:
            return [_to_envelope(row) for row in own.execute(query).mappings()]

    def read_all_of_types(
        self, after: int, limit: int, types: Iterable[str], conn: Connection
    ) -> tuple[list[EventEnvelope], int, int]:
        """The next ``limit`` events after ``after`` (as ``read_all``), but only those of ``types`` leave the
        server: ``(events, last_position_read, count_read)``. A subscriber that ignores most types (a
        projection skips notifications and overdue alerts: about a quarter of the store) moves its checkpoint
        to ``last_position_read`` without transferring or decoding the rest."""
        batch = (
            select(events.c.position, events.c.type)
            .where(events.c.position > after)
            .order_by(events.c.position)
            .limit(limit)
            .cte("batch")
        )
        span = select(func.max(batch.c.position), func.count()).select_from(batch)
        last, read = conn.execute(span).one()
        if not read:
            return [], after, 0
        wanted = list(types)
        query = (
            select(events)
            .where(events.c.position > after, events.c.position <= last, events.c.type.in_(wanted))
            .order_by(events.c.position)
        )
        return [_to_envelope(row) for row in conn.execute(query).mappings()], last, read

    def read_event(self, event_id) -> EventEnvelope | None:
        """One event by id: consumers get ids from the broker and re-read the truth here."""
        with self._engine.connect() as conn:
            row = conn.execute(select(events).where(events.c.event_id == event_id)).mappings().first()
        return _to_envelope(row) if row else None

    def stream_version(self, stream_id: str) -> int:
        with self._engine.connect() as conn:
            return self._stream_version(conn, stream_id)

    def last_position(self) -> int:
        with self._engine.connect() as conn:
            return conn.execute(select(func.coalesce(func.max(events.c.position), 0))).scalar_one()

    @staticmethod
    def _stream_version(conn: Connection, stream_id: str) -> int:
        return conn.execute(
            select(func.coalesce(func.max(events.c.version), 0)).where(events.c.stream_id == stream_id)
        ).scalar_one()


def to_row(e: EventEnvelope) -> dict:
    """The row stored for an envelope (the store assigns position and recorded_at)."""
    return {
        "event_id": e.event_id,
        "stream_id": e.stream_id,
        "version": e.version,
        "kecamatan": e.kecamatan,
        "type": e.type,
        "schema_version": e.schema_version,
        "occurred_at": e.occurred_at,
        "actor": e.actor.model_dump(mode="json"),
        "correlation_id": e.correlation_id,
        "causation_id": e.causation_id,
        "payload": e.payload,
    }


def _to_envelope(row) -> EventEnvelope:
    return EventEnvelope(
        event_id=row["event_id"],
        stream_id=row["stream_id"],
        version=row["version"],
        kecamatan=row["kecamatan"],
        type=row["type"],
        schema_version=row["schema_version"],
        occurred_at=row["occurred_at"],
        actor=Actor.model_validate(row["actor"]),
        correlation_id=row["correlation_id"],
        causation_id=row["causation_id"],
        payload=row["payload"],
        position=row["position"],
        recorded_at=row["recorded_at"],
    )
