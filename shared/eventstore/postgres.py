"""The event store in PostgreSQL.

Commit order: every append takes one transaction-scoped advisory lock just before it inserts, and holds
it until its transaction ends. Positions (a bigserial) are therefore handed out in commit order, and a
reader tailing ``position > checkpoint`` can never skip an event that a slower transaction commits later
(the classic bigserial gap). The price is that appends are serialised from the insert to the commit
(two statements and the commit); see docs/adr/0002-commit-ordered-event-store.md and ``make bench``.

Immutability is enforced by triggers (no UPDATE, DELETE or TRUNCATE), created by the migrations.

Personal data: the fields an event type declares ``PERSONAL`` (the complainant's name, NIK, phone, e-mail and
address in ``ComplaintReceived``) are sealed on append under the complaint's data key and opened on read
(shared/privacy.py, docs/adr/0017); once that key is erased they read as the type's ``ERASED`` value, so replays,
projections and rebuilds go on. The payload in the table never holds them in clear.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID as UUID_

from cryptography.exceptions import InvalidTag
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

from shared import privacy
from shared.events import Actor, EventEnvelope, registry
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
    def __init__(self, engine: Engine, data_keys: privacy.DataKeys | None = None) -> None:
        """``data_keys``: the complaints' data keys under the deployment's key-encryption keys; default: as this
        process's settings (the environment) name them (``privacy.default_data_keys``)."""
        self._engine = engine
        self.data_keys = data_keys or privacy.default_data_keys()

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
        rows = [self._sealed(conn, to_row(e)) for e in events_]  # before the lock: a new data key is a write
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
            return self.envelopes(conn, conn.execute(query).mappings().all())
        with self._engine.connect() as own:
            return self.envelopes(own, own.execute(query).mappings().all())

    def read_all(self, after: int = 0, limit: int = 1000, conn: Connection | None = None) -> list[EventEnvelope]:
        query = select(events).where(events.c.position > after).order_by(events.c.position).limit(limit)
        if conn is not None:
            return self.envelopes(conn, conn.execute(query).mappings().all())
        with self._engine.connect() as own:
            return self.envelopes(own, own.execute(query).mappings().all())

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
        return self.envelopes(conn, conn.execute(query).mappings().all()), last, read

    def read_event(self, event_id) -> EventEnvelope | None:
        """One event by id: consumers get ids from the broker and re-read the truth here."""
        with self._engine.connect() as conn:
            row = conn.execute(select(events).where(events.c.event_id == event_id)).mappings().first()
            return self.envelopes(conn, [row])[0] if row else None

    def stream_version(self, stream_id: str) -> int:
        with self._engine.connect() as conn:
            return self._stream_version(conn, stream_id)

    def last_position(self) -> int:
        with self._engine.connect() as conn:
            return conn.execute(select(func.coalesce(func.max(events.c.position), 0))).scalar_one()

    # -- personal data ---------------------------------------------------------------------------------
    def _sealed(self, conn: Connection, row: dict) -> dict:
        """The row with its type's personal fields sealed under the complaint's data key (made now if it has
        none); a complaint whose key was erased stores the ERASED values instead: nothing more of it is kept."""
        cls = registry.cls_of(row["type"])
        if cls is None or not cls.PERSONAL:
            return row
        payload = row["payload"]
        fields = [f for f in cls.PERSONAL if payload.get(f) is not None and not privacy.is_sealed(payload[f])]
        if not fields:
            return row
        subject = subject_of(row["stream_id"])
        key = self.data_keys.for_writing(conn, subject)
        sealed = dict(payload)
        for name in fields:
            sealed[name] = (
                privacy.seal(payload[name], key, subject, f"{row['type']}.{name}")
                if key is not None
                else cls.ERASED.get(name)
            )
        return {**row, "payload": sealed}

    def envelopes(self, conn: Connection, rows) -> list[EventEnvelope]:
        """Rows of ``events`` as envelopes, their sealed fields opened (the keys read in one query), or ERASED;
        for readers that select rows themselves (the dashboard's feed)."""
        sealed = [
            (i, cls)
            for i, row in enumerate(rows)
            if (cls := registry.cls_of(row["type"])) is not None
            and cls.PERSONAL
            and any(privacy.is_sealed(row["payload"].get(f)) for f in cls.PERSONAL)
        ]
        if not sealed:
            return [_to_envelope(row) for row in rows]
        keys = self.data_keys.for_reading(conn, {subject_of(rows[i]["stream_id"]) for i, _ in sealed})
        opened = {}
        for i, cls in sealed:
            try:
                opened[i] = _opened(rows[i], cls, keys)
            except InvalidTag:  # a key cached here that was since replaced: read it from the table once more
                subject = subject_of(rows[i]["stream_id"])
                keys = {**keys, **self.data_keys.for_reading(conn, [subject], fresh=True)}
                opened[i] = _opened(rows[i], cls, keys)
        return [_to_envelope(opened.get(i, row)) for i, row in enumerate(rows)]

    @staticmethod
    def _stream_version(conn: Connection, stream_id: str) -> int:
        return conn.execute(
            select(func.coalesce(func.max(events.c.version), 0)).where(events.c.stream_id == stream_id)
        ).scalar_one()


def subject_of(stream_id: str) -> UUID_:
    """The data key's subject of a stream: the complaint (streams are ``complaint-<uuid>``)."""
    return UUID_(stream_id.removeprefix("complaint-"))


def _opened(row, cls, keys: dict[UUID_, bytes | None]) -> dict:
    subject = subject_of(row["stream_id"])
    if subject not in keys:
        raise privacy.PrivacyKeyError(
            f"event {row['event_id']} holds personal data sealed under a data key privacy.data_keys does not have "
            "(a restore of the events without their keys?)"
        )
    key, payload = keys[subject], dict(row["payload"])
    for name in cls.PERSONAL:
        if privacy.is_sealed(payload.get(name)):
            payload[name] = (
                privacy.unseal(payload[name], key, subject, f"{row['type']}.{name}")
                if key is not None
                else cls.ERASED.get(name)
            )
    return {**row, "payload": payload}


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
