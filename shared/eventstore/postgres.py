"""The event store in PostgreSQL.

Appends run concurrently; readers never skip. A position (a bigserial) is drawn when a row is inserted, not
when its transaction commits, so a reader that tailed ``position > checkpoint`` up to the highest visible
position could pass a slower transaction's event and never see it (the classic bigserial gap). Readers
therefore read only up to the *settled* position (``Horizon``): the highest position such that every
transaction that drew a position at or below it has ended (committed, so visible, or rolled back, so a hole
forever). Each appending transaction holds a transaction id before it draws a position (a statement trigger,
migration 0030), so "every transaction that drew <= L has ended" follows from "every transaction id older
than a snapshot taken after L was read has ended". Positions follow the order the rows were inserted;
a stream's versions and anything caused by an event come after it. See docs/adr/0027 (which replaces the one
append lock of docs/adr/0002) and ``make bench``.

Immutability is enforced by triggers (no UPDATE, DELETE or TRUNCATE), created by the migrations.

Personal data: the fields an event type declares ``PERSONAL`` (the complainant's name, NIK, phone, e-mail and
address in ``ComplaintReceived``) are sealed on append under the complaint's data key and opened on read
(shared/privacy.py, docs/adr/0017); once that key is erased they read as the type's ``ERASED`` value, so replays,
projections and rebuilds go on. The payload in the table never holds them in clear.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import NamedTuple
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
    and_,
    any_,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
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

NOTIFY_CHANNEL = "pengaduan_events"
# the wake-up, a transaction of its own after the appending one committed: committed asynchronously (no fsync wait)
WAKE_SQL = text("SELECT set_config('synchronous_commit', 'off', true), pg_notify(:channel, '')")
# the reads every view of a complaint and every consumer make, built once with their values passed at execution (a
# statement built per call, and its cache key, cost more client CPU than running it)
READ_STREAM = (
    select(events)
    .where(events.c.stream_id == bindparam("stream_id"), events.c.version > bindparam("after"))
    .order_by(events.c.version)
)
READ_EVENT = select(events).where(events.c.event_id == bindparam("event_id"))
# and the subscribers' reads, every round of every relay and projection: the next events after a checkpoint up to
# the settled position, whole (READ_ALL) or their heads (READ_HEADS); READ_OF_TYPES below
_AFTER = events.c.position > bindparam("after", type_=BigInteger)
_SETTLED = events.c.position <= bindparam("settled", type_=BigInteger)
READ_ALL = select(events).where(_AFTER, _SETTLED).order_by(events.c.position).limit(bindparam("limit", type_=Integer))
READ_HEADS = (
    select(events.c.position, events.c.event_id, events.c.type)
    .where(_AFTER, _SETTLED)
    .order_by(events.c.position)
    .limit(bindparam("limit", type_=Integer))
)
_BATCH = (
    select(events.c.position)
    .where(_AFTER, _SETTLED)
    .order_by(events.c.position)
    .limit(bindparam("limit"))
    .subquery("batch")
)
_SPAN = select(func.max(_BATCH.c.position).label("last"), func.count().label("read")).subquery("span")
READ_OF_TYPES = (  # PostgresEventStore.read_all_of_types
    select(_SPAN.c.last, _SPAN.c.read, events)
    .select_from(
        _SPAN.outerjoin(
            events,
            and_(
                _AFTER, events.c.position <= _SPAN.c.last, events.c.type == any_(bindparam("types", type_=ARRAY(Text)))
            ),
        )
    )
    .order_by(events.c.position)
)
POSITION_SEQUENCE = "workflow.events_position_seq"

log = logging.getLogger(__name__)

# One statement, on the reader's connection (READ COMMITTED: a snapshot of its own): the oldest transaction id in
# the snapshot's xip (running; the xip leaves the reader's own out), the snapshot's xmax (the latest completed + 1:
# every id from it up is not yet completed, unlisted), the reader's own id if it has one, and, read live after the
# snapshot was taken, the sequence's last drawn position and then the next transaction id to be assigned
# (``workflow.events_horizon``, migration 0030).
HORIZON_SQL = text(
    "SELECT (SELECT min(x) FROM pg_snapshot_xip(s) AS x)::text::bigint, pg_snapshot_xmax(s)::text::bigint, "
    "pg_current_xact_id_if_assigned()::text::bigint, h.last_drawn, h.next_xid, "
    "current_setting('transaction_isolation') "
    "FROM pg_current_snapshot() AS s, workflow.events_horizon(pg_snapshot_xmax(s)) AS h"
)
# One row of an append, inserted only if the stream's last version is the one before the row's.
GUARDED_INSERT = text(
    "INSERT INTO workflow.events (event_id, stream_id, version, kecamatan, type, schema_version, occurred_at, actor, "
    "correlation_id, causation_id, payload) "
    "SELECT CAST(:event_id AS uuid), CAST(:stream_id AS text), CAST(:version AS integer), CAST(:kecamatan AS text), "
    "CAST(:type AS text), CAST(:schema_version AS integer), CAST(:occurred_at AS timestamptz), "
    "CAST(:actor AS jsonb), CAST(:correlation_id AS uuid), CAST(:causation_id AS uuid), CAST(:payload AS jsonb) "
    "WHERE (SELECT coalesce(max(version), 0) FROM workflow.events WHERE stream_id = CAST(:stream_id AS text)) "
    "= CAST(:version AS integer) - 1 "
    "RETURNING position"
)
SETTLE_WAIT = 0.1  # at most this long a read waits for appends in flight below the head before it returns
HELD_BACK_WARNING = 30.0  # seconds the settled position has not reached what was drawn: name the culprit
PENDING_MAX = 64


class Horizon:
    """The settled position of one database, as this process has observed it (shared by its readers).

    Each observation (``HORIZON_SQL``) reads the sequence's last drawn position L, then the next transaction id N:
    every transaction that drew a position <= L took its id before it drew it, so before N was read, so below N.
    Once an observation (this one or a later one) finds no transaction that may still run below N, every position
    <= L is settled: committed and visible to any later snapshot, or rolled back and never to be seen. Dropping a
    pair only delays; nothing here can skip."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.settled = 0
        self.drawn = 0  # the highest last drawn position observed
        # (last drawn position, the id every older transaction ends below, when it was observed)
        self._pending: list[tuple[int, int, float]] = []
        self._warned_at = 0.0

    def observe(self, conn: Connection) -> tuple[int, bool]:
        """One observation on ``conn``: the position ``conn`` may read up to, and whether ``conn``'s transaction
        holds a transaction id. Such a reader's own positions, drawn and not committed, are visible to it alone:
        it may read past them, but what it finds settled is not kept for the others unless it would be without
        it (waiting for later observations would only wait for itself)."""
        oldest_listed, xmax, own, last, next_xid, isolation = conn.execute(HORIZON_SQL).one()
        if isolation != "read committed":  # a fixed snapshot would be older than the last drawn position read
            raise RuntimeError(f"the event store is read in READ COMMITTED transactions, not {isolation}")
        # the oldest id another transaction may still hold: the ids from the xmax up to the next one are held by
        # transactions not completed when the snapshot was taken, unless the reader's own is the only one there
        unlisted = next_xid - xmax - (1 if own is not None and xmax <= own < next_xid else 0)
        others = xmax if unlisted else next_xid
        if oldest_listed is not None:
            others = min(others, oldest_listed)
        everyone = others if own is None else min(others, own)
        now = time.monotonic()
        with self._lock:
            if last < self.drawn:  # the sequence went back: a restore under this process; start over (only delays)
                log.warning(
                    "the event store's position sequence went back from %s to %s: observing anew", self.drawn, last
                )
                self.settled, self.drawn, self._pending = 0, 0, []
            if last > self.settled and len(self._pending) < PENDING_MAX:
                self._pending.append((last, next_xid, now))
            mine = self.settled
            still = []
            for drawn, frontier, since in self._pending:
                if frontier <= everyone:
                    self.settled = max(self.settled, drawn)
                elif drawn > self.settled:
                    still.append((drawn, frontier, since))
                if frontier <= others:
                    mine = max(mine, drawn)
            self._pending = still
            self.drawn = max(self.drawn, last)
            oldest = self._pending[0] if self._pending else None
            warn = (
                oldest is not None and now - oldest[2] > HELD_BACK_WARNING and now - self._warned_at > HELD_BACK_WARNING
            )
            if warn:
                self._warned_at = now
            settled = max(mine, self.settled)
        if warn and oldest is not None:
            self._warn_held_back(conn, now - oldest[2])
        return settled, own is not None

    def _warn_held_back(self, conn: Connection, age: float) -> None:
        """Name the transactions that may keep positions drawn ``age`` seconds ago from being settled: the oldest
        that hold a transaction id, in any database of the cluster, prepared ones included (``backend_xid`` is
        the 32-bit id: listed by age rather than compared with the 64-bit frontier)."""
        holders = conn.execute(
            text(
                "SELECT format('pid %s (%s, %s, %s, %s, open %s)', pid, datname, application_name, state, "
                "left(query, 120), now() - xact_start) FROM ("
                "SELECT * FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() "
                "ORDER BY age(backend_xid) DESC LIMIT 5) AS a "
                "UNION ALL SELECT format('prepared transaction %s (%s, since %s)', gid, database, prepared) "
                "FROM pg_prepared_xacts"
            )
        ).scalars()
        log.warning(
            "event readers held back for %.0fs: positions drawn then are not settled while these transactions, which "
            "hold transaction ids, run: %s. Every subscriber waits for them; end them "
            "(idle_in_transaction_session_timeout bounds idle ones)",
            age,
            "; ".join(holders) or "(none left)",
        )

    def settle(self, conn: Connection, after: int) -> int:
        """The settled position, waiting up to ``SETTLE_WAIT`` while positions above ``after`` were drawn but
        are not yet settled (appends in flight: a few milliseconds, unless a long transaction runs)."""
        settled, own = self.observe(conn)
        deadline = time.monotonic() + SETTLE_WAIT
        pause = 0.0
        # a reader with a transaction id looks once more at most (a later look may find others ended)
        while settled <= after < self.drawn and (not own or pause == 0.0) and time.monotonic() < deadline:
            pause = min(max(pause * 2, 0.001), 0.016)
            time.sleep(pause)
            settled, own = self.observe(conn)
        return settled


class EventHead(NamedTuple):
    position: int
    event_id: UUID_
    type: str


class PostgresEventStore:
    def __init__(self, engine: Engine, data_keys: privacy.DataKeys | None = None) -> None:
        """``data_keys``: the complaints' data keys under the deployment's key-encryption keys; default: as this
        process's settings (the environment) name them (``privacy.default_data_keys``)."""
        self._engine = engine
        self.data_keys = data_keys or privacy.default_data_keys()
        self.horizon = Horizon()

    # -- writing -----------------------------------------------------------------------------------
    def append(
        self,
        stream_id: str,
        expected_version: int,
        events_: Sequence[EventEnvelope],
        conn: Connection | None = None,
    ) -> list[int]:
        """Append inside ``conn``'s transaction (so a consumer's inbox row commits with its events), or in a
        transaction of its own. Appends run concurrently; readers do not read past a position drawn by a
        transaction still running, so commit soon after appending (``Horizon``)."""
        if conn is None:
            with self._engine.connect() as own:
                with own.begin():
                    positions = self._append(own, stream_id, expected_version, events_)
                if positions:
                    self.wake(own)
                return positions
        return self._append(conn, stream_id, expected_version, events_)

    def wake(self, conn: Connection | None = None) -> None:
        """Tell the subscribers (``LISTEN pengaduan_events``) that events were committed: call it after the commit of
        a transaction that appended (the workflow's unit of work does; ``append`` without ``conn`` does itself).

        Its own transaction, committed asynchronously, on ``conn`` (after its commit) or a pooled connection. A
        NOTIFY inside the appending transaction would hold PostgreSQL's database-wide notify lock through that
        transaction's commit and its fsync, so appending transactions would commit one at a time (docs/adr/0027).
        The statement runs in autocommit: its implicit transaction is the whole transaction, one round trip (a
        BEGIN and a COMMIT of their own were two more, for every append). The connection's isolation level is
        reset when it goes back to the pool. A wake that fails is logged: the subscribers also poll, so it
        delays, never loses."""
        try:
            if conn is None or conn.closed:
                with self._engine.connect() as own:
                    own.execution_options(isolation_level="AUTOCOMMIT").execute(WAKE_SQL, {"channel": NOTIFY_CHANNEL})
            else:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(WAKE_SQL, {"channel": NOTIFY_CHANNEL})
        except Exception as exc:  # noqa: BLE001 (committed already: subscribers find the events at their next poll)
            log.warning("could not wake the event store's subscribers (they poll): %s", exc)

    def _append(
        self, conn: Connection, stream_id: str, expected_version: int, events_: Sequence[EventEnvelope]
    ) -> list[int]:
        for offset, event in enumerate(events_, start=1):
            if event.stream_id != stream_id or event.version != expected_version + offset:
                raise ValueError("event stream or version does not follow the expected version")
        if not events_:
            actual = self._stream_version(conn, stream_id)
            if actual != expected_version:
                raise ConcurrencyError(stream_id, expected_version, actual)
            return []
        rows = [self._sealed(conn, to_row(e)) for e in events_]
        positions = []
        try:
            # each row is inserted only if the stream's last version is the one before it: the version check and
            # the insert in one statement (a separate check cost a round trip and, at 8 writers, a third of the
            # throughput: docs/adr/0027); a writer that loses a race after it is caught by the (stream_id, version)
            # unique constraint. A statement trigger takes the transaction id before any position is drawn.
            for row in rows:
                position = conn.execute(GUARDED_INSERT, _bound(row)).scalar()
                if position is None:  # the stream is not at the version before this row's
                    actual = self._stream_version(conn, stream_id)
                    raise ConcurrencyError(stream_id, expected_version, actual)
                positions.append(position)
        except IntegrityError as exc:  # the unit of work is aborted: the caller rolls back
            if "events_event_id_key" in str(exc.orig):
                raise DuplicateEventError(stream_id) from exc
            raise ConcurrencyError(stream_id, expected_version, None) from exc
        return positions

    # -- reading -----------------------------------------------------------------------------------
    def read_stream(
        self, stream_id: str, after_version: int = 0, conn: Connection | None = None
    ) -> list[EventEnvelope]:
        values = {"stream_id": stream_id, "after": after_version}
        if conn is not None:
            return self.envelopes(conn, conn.execute(READ_STREAM, values).mappings().all())
        with self._engine.connect() as own:
            return self.envelopes(own, own.execute(READ_STREAM, values).mappings().all())

    def read_all(self, after: int = 0, limit: int = 1000, conn: Connection | None = None) -> list[EventEnvelope]:
        """Events after ``after`` up to the settled position, in position order (a reader that moves its
        checkpoint to the last one read never skips one committed later)."""
        if conn is None:
            with self._engine.connect() as own:
                return self.read_all(after, limit, own)
        settled = self.horizon.settle(conn, after)
        if settled <= after:
            return []
        rows = conn.execute(READ_ALL, {"after": after, "settled": settled, "limit": limit}).mappings().all()
        return self.envelopes(conn, rows)

    def read_heads(self, after: int, limit: int, conn: Connection) -> list[EventHead]:
        """``read_all`` without the payloads: position, id and type of the next ``limit`` events, for a reader that
        hands events on by type (the relay: ten subscriptions, each of which would otherwise transfer, decode and
        open every event's payload)."""
        settled = self.horizon.settle(conn, after)
        if settled <= after:
            return []
        rows = conn.execute(READ_HEADS, {"after": after, "settled": settled, "limit": limit}).all()
        return [EventHead(*row) for row in rows]

    def settled(self, conn: Connection, after: int = 0) -> int:
        """The position up to which readers may read (``Horizon.settle``): for readers that select rows
        themselves (the dashboard's feed)."""
        return self.horizon.settle(conn, after)

    def read_all_of_types(
        self, after: int, limit: int, types: Iterable[str], conn: Connection
    ) -> tuple[list[EventEnvelope], int, int]:
        """The next ``limit`` events after ``after`` (as ``read_all``), but only those of ``types`` leave the
        server: ``(events, last_position_read, count_read)``. A subscriber that ignores most types (a
        projection skips notifications and overdue alerts: about a quarter of the store) moves its checkpoint
        to ``last_position_read`` without transferring or decoding the rest.

        One statement: the batch's span (its last position and size) LEFT JOINed to the wanted events within it,
        in position order; a batch without any of them is one row of the span alone. (The span and the events
        were two statements, a round trip more in every projection round.)"""
        settled = self.horizon.settle(conn, after)
        if settled <= after:
            return [], after, 0
        values = {"after": after, "settled": settled, "limit": limit, "types": sorted(types)}
        rows = conn.execute(READ_OF_TYPES, values).mappings().all()
        last, read = rows[0]["last"], rows[0]["read"]
        if not read:
            return [], after, 0
        found = [row for row in rows if row["position"] is not None]
        return self.envelopes(conn, found), last, read

    def read_at(self, position: int, conn: Connection) -> EventEnvelope | None:
        """The event at a position a reader has already passed (a set-aside event retried): not bounded by the
        settled position, which a process that has just started may not have observed that far yet."""
        row = conn.execute(select(events).where(events.c.position == position)).mappings().first()
        return self.envelopes(conn, [row])[0] if row else None

    def read_event(self, event_id) -> EventEnvelope | None:
        """One event by id: consumers get ids from the broker and re-read the truth here."""
        with self._engine.connect() as conn:
            row = conn.execute(READ_EVENT, {"event_id": event_id}).mappings().first()
            return self.envelopes(conn, [row])[0] if row else None

    def read_stream_to(self, event_id: UUID_, conn: Connection | None = None) -> list[EventEnvelope]:
        """The stream of one event, up to and including it, in one query (empty: no such event): what a consumer
        given an event id reads to know the event and its history (notify's plans, in ``conn``'s transaction: the
        plan's own, so that reading the event costs no transaction and no connection of its own)."""
        upto = events.alias("upto")
        query = (
            select(events)
            .join(upto, (upto.c.stream_id == events.c.stream_id) & (events.c.version <= upto.c.version))
            .where(upto.c.event_id == event_id)
            .order_by(events.c.version)
        )
        if conn is not None:
            return self.envelopes(conn, conn.execute(query).mappings().all())
        with self._engine.connect() as own:
            return self.envelopes(own, own.execute(query).mappings().all())

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


def _bound(row: dict) -> dict:
    """``row``'s values as ``GUARDED_INSERT`` binds them (the JSON documents as text, cast there)."""
    return {**row, "actor": json.dumps(row["actor"]), "payload": json.dumps(row["payload"])}


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
