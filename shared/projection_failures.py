"""Events a projection cannot apply (poison events), set aside so that it goes on with every other complaint.

A projection's round applies a batch of the store's events and moves its checkpoint in one transaction. One
event it cannot apply (a payload that does not decode, a bug on an odd event, a constraint violation) used to
roll the whole round back, and the runner redid the same batch forever: the projection stood still for every
kecamatan. Now (``SetAside.apply``):

1. the batch is applied as it comes, without a SAVEPOINT (failures are rare: a savepoint per batch cost two
   statements in every round). If it fails with an error that blames the data (``transient`` is False), the whole
   round is rolled back (``BatchFailed``, raised out of the round's transaction) and done again at once, carefully
   (``transaction``): that projection's events event by event, each in a SAVEPOINT of its own;
2. an event that fails on its own is **set aside**: a row in its service's ``projection_failures`` table
   (``failures_table``: projection, position, event id, stream, type, kecamatan, error class and a message
   without personal data, first and last failure, attempts), written in the same transaction that moves the
   checkpoint past it, and logged at ERROR;
3. its stream (the complaint) is **parked**: every later event of that stream is set aside too, *held behind*
   it (``held_behind`` = the failed event's position), unapplied. The projections keep one row per complaint
   built event after event; applying a complaint's later events over a row that missed one would make a row
   that is wrong in ways nobody can see, while a parked complaint's row stays as it was before the failed
   event: behind, and known to be. Every other complaint goes on.

A parked stream is retried in order (``SetAside.retry``: the failed event, then those held behind it, each in a
savepoint; what applies leaves the table, a failure stops that stream again) on the first round of every
projection process, so a deploy of the fix (or a data fix, then a restart) brings the complaints back up to
date; the dashboard's ``pengaduan projections rebuild`` replays everything and keeps only the failures it met
again (docs/adr/0015-projection-poison-events.md).

Transient errors (the database away, a lost connection, a serialization failure, a lock or statement timeout)
set nothing aside: the round fails as before and the runner retries it with backoff (``transient``).

A round reads its parked streams with its checkpoint (``claim``: one statement for both, after the claim's locks,
so what another process parked while holding the claim is seen), not with a query of its own, nor from memory.

What a failed batch costs: the round it was in is done twice (its claim, its read of the store, the other
projections' batches of a shared round), the second time carefully, at once and logged at WARNING, not as a failed
round. Every round that owns a ``SetAside`` runs its transaction through ``transaction``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import psycopg
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Select,
    Table,
    Text,
    any_,
    bindparam,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert
from sqlalchemy.engine import Connection, Engine

from shared.outages import unreachable

if TYPE_CHECKING:
    from shared.config import Settings
    from shared.events import EventEnvelope
    from shared.eventstore.postgres import PostgresEventStore
    from shared.service import Gauge
    from shared.subscriptions import Checkpoints

log = logging.getLogger(__name__)

ERROR_MAX = 500  # characters of an error's message kept


def failures_table(metadata: MetaData) -> Table:
    """A service's set-aside events: one row per event a projection of that service has not applied, keyed by the
    projection (its checkpoint's name) and the event's position. ``held_behind`` is NULL for an event that failed
    itself, else the position of the failed event of the same stream it waits behind."""
    table = Table(
        "projection_failures",
        metadata,
        Column("projection", Text, primary_key=True),
        Column("position", BigInteger, primary_key=True),
        Column("event_id", UUID(as_uuid=True), nullable=False),
        Column("stream_id", Text, nullable=False),
        Column("event_type", Text, nullable=False),
        Column("kecamatan", Text, nullable=False),
        Column("held_behind", BigInteger),
        Column("error_class", Text),  # NULL for an event held behind another
        Column("error", Text),  # the class and what went wrong, never the data it was about
        Column("first_failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("last_failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        # times applying it failed (0 for an event held behind another: not tried)
        Column("attempts", Integer, nullable=False, server_default=text("0")),
    )
    Index("projection_failures_stream", table.c.projection, table.c.stream_id)
    return table


# -- which errors set an event aside ------------------------------------------------------------------------------
# Not the event's fault: the round fails and is retried as before, nothing is set aside. Setting a good event aside
# costs a complaint's row until someone retries it; failing the round on a bad event costs the projection time
# (the runner retries with backoff, and the next round sets it aside if it was not transient after all), so when in
# doubt an error counts as transient. Besides what shared.outages counts as out of reach (every DB-API
# OperationalError: connection lost or refused, serialization failure and deadlock (SQLSTATE 40001/40P01), lock
# and statement timeouts (55P03/57014), server shutting down, out of connections, disk or memory; the pool's
# timeout; a connection SQLAlchemy marked invalidated):
NOT_THE_EVENTS_FAULT: tuple[type[BaseException], ...] = (
    sa_exc.InterfaceError,  # the client's connection is unusable (closed under us)
    psycopg.InterfaceError,
    # SQLSTATE class 25 (invalid transaction state, an idle-in-transaction timeout) and XX (the server's own
    # errors): the session or the server, not the row
    sa_exc.InternalError,
    psycopg.InternalError,
    # SQLSTATE class 42 (an undefined column or table, a missing privilege, a syntax error): the code and the
    # schema disagree (a migration not applied); every event would fail alike, and the fix is a deploy
    sa_exc.ProgrammingError,
    psycopg.ProgrammingError,
    sa_exc.PendingRollbackError,  # the connection's transaction broke before this event
    sa_exc.ResourceClosedError,
    MemoryError,
)


def transient(exc: BaseException) -> bool:
    """True when ``exc``, what it was raised from or what it was raised while handling says nothing about the
    event being applied: the round must fail and be retried. False for what an event's data can cause: a payload
    that does not decode (pydantic's ValidationError, a KeyError for a missing upcaster), a bug meeting an odd
    event (ValueError, TypeError, KeyError, AssertionError ...), a constraint violation (IntegrityError: SQLSTATE
    class 23) or a value the column refuses (DataError: class 22). Those set the event aside. (Unlike
    ``shared.outages.unreachable``, an error raised while handling an outage counts: it is no proof against the
    event, and the retry will tell.)"""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if unreachable(current) or isinstance(current, NOT_THE_EVENTS_FAULT):
            return True
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return False


def describe(exc: BaseException) -> tuple[str, str]:
    """The error's class and a line about it that may be stored and logged: field names and error kinds for a
    payload that did not decode, the driver's error class and the constraint for a database error, never the
    values (``shared.tasks.safe_error``, as the dead letters keep them)."""
    from shared.tasks import safe_error  # the workers' rule; imported here, not with every projection

    message = safe_error(exc)
    if isinstance(exc, sa_exc.DBAPIError):
        constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
        if constraint:
            message += f" ({constraint})"
    return type(exc).__name__, message[:ERROR_MAX]


# -- setting aside, and retrying ----------------------------------------------------------------------------------
@dataclass
class Applied:
    """What ``SetAside.apply`` did with a batch: events that failed, events held behind a failed one."""

    failed: int = 0
    held: int = 0


@dataclass
class Retried:
    """What ``SetAside.retry`` did: events applied (and removed from the table), events that failed again."""

    applied: int = 0
    failed: int = 0


ApplyFn = Callable[[Sequence["EventEnvelope"]], None]
T = TypeVar("T")


class BatchFailed(Exception):
    """A batch applied without a savepoint failed on an error that may be an event's fault (its ``__cause__``): the
    round's transaction must be rolled back and the round done again, ``set_aside`` now careful (``transaction``)."""

    def __init__(self, set_aside: SetAside, events: int) -> None:
        super().__init__(f"projection {set_aside.name}: a batch of {events} events failed")
        self.set_aside = set_aside


def transaction(engine: Engine, body: Callable[[Connection], T]) -> T:
    """``body`` in a transaction of ``engine``, done again at once when a batch in it failed (``BatchFailed``: the
    transaction rolled back, that projection's ``SetAside`` careful, so its next batch goes event by event, each
    in a savepoint). Each attempt makes one more ``SetAside`` careful, and a careful one does not raise it: the
    attempts are bounded. They stay careful until this returns or raises (a transient error: the runner retries
    the round with backoff, and a batch that fails again makes it careful again). ``body`` starts from scratch
    each time: it claims, reads and applies again (what it keeps in memory it must restore itself)."""
    careful: list[SetAside] = []
    try:
        while True:
            try:
                with engine.begin() as conn:
                    return body(conn)
            except BatchFailed as failed:
                careful.append(failed.set_aside)
    finally:
        for set_aside in careful:
            set_aside.careful = False


class Claimed(NamedTuple):
    """A projection's checkpoint, claimed, and its parked streams (``SetAside.parked``) as they were then."""

    position: int
    parked: dict[str, int]


@lru_cache(maxsize=32)
def _claimed(c: Table, f: Table) -> Select:
    """The checkpoints of ``names`` (in ``c``) and their parked streams (in ``f``): ``claim``'s read, built once per
    pair of tables (every round of every projection makes it; building it and its cache key cost more client CPU
    than running it)."""
    return (
        select(c.c.name, c.c.position, f.c.stream_id, func.min(func.coalesce(f.c.held_behind, f.c.position)))
        .select_from(c.outerjoin(f, f.c.projection == c.c.name))
        .where(c.c.name == any_(bindparam("names", type_=ARRAY(Text))))
        .group_by(c.c.name, c.c.position, f.c.stream_id)
    )


def claim(conn: Connection, checkpoints: Checkpoints, set_asides: Sequence[SetAside]) -> dict[str, Claimed]:
    """``Checkpoints.claim_many`` for the projections of ``set_asides`` (their checkpoints in ``checkpoints``, their
    set-aside events in one table), each one's parked streams read by the statement that reads its checkpoint:
    a round pays no query of its own for them (usually none). That statement comes after the claim's locks, so
    it sees what the claim's last holder committed: a rebuild's swap, in another process, replaces the live
    projection's set-aside events while it holds the live checkpoint's claim, and the round waits for it."""
    table = set_asides[0].table
    assert all(s.table is table for s in set_asides)  # noqa: S101 (one service's table)
    names = [s.name for s in set_asides]
    checkpoints.lock(conn, names)
    rows = conn.execute(_claimed(checkpoints.table, table), {"names": names}).all()
    found: dict[str, Claimed] = {}
    for name, position, stream, at in rows:
        claimed = found.setdefault(name, Claimed(position, {}))
        if stream is not None:
            claimed.parked[stream] = int(at)
    missing = [s for s in set_asides if s.name not in found]
    if missing:  # a projection's first round ever: its checkpoint made at 0, its parked streams read on their own
        checkpoints.create(conn, [s.name for s in missing])
        found.update({s.name: Claimed(0, s.parked(conn)) for s in missing})
    return found


class SetAside:
    """One projection's set-aside events, in its service's ``projection_failures`` table (``table``); ``name`` is
    the projection's checkpoint name (a dashboard rebuild's copies have their own, ``<name>__next``)."""

    def __init__(self, table: Table, name: str, *, hold: bool = True) -> None:
        """``hold`` False: a subscriber whose events do not build on each other (notify's news of new work: one
        step's news does not depend on another's) sets aside only the events that fail, and holds nothing behind
        them: the complaint's later events are applied as they come, and a retry tries each set-aside event on its
        own."""
        self.table = table
        self.name = name
        self.hold = hold
        # the next batches event by event, each in a savepoint: set when a batch failed, until ``transaction`` ends
        self.careful = False

    def claim(self, conn: Connection, checkpoints: Checkpoints) -> Claimed:
        """This projection's checkpoint claimed (``Checkpoints.claim``) with its parked streams, in one statement
        (``claim``): pass them to ``apply``."""
        return claim(conn, checkpoints, [self])[self.name]

    def parked(self, conn: Connection) -> dict[str, int]:
        """Parked streams: stream id -> the position of its failed event (its first, if several failed). A round
        reads them with its checkpoint instead (``claim``)."""
        t = self.table
        rows = conn.execute(
            select(t.c.stream_id, func.min(func.coalesce(t.c.held_behind, t.c.position)))
            .where(t.c.projection == self.name)
            .group_by(t.c.stream_id)
        ).all()
        return {stream: int(position) for stream, position in rows}

    def apply(
        self,
        conn: Connection,
        events: Sequence[EventEnvelope],
        apply: ApplyFn,
        *,
        parked: Mapping[str, int] | None = None,
        before_one_by_one: Callable[[], None] | None = None,
    ) -> Applied:
        """Applies ``events`` (in position order) with ``apply`` inside ``conn``'s transaction, setting aside
        those it cannot apply and holding those of parked streams (the module's docstring). Call it inside
        ``transaction``: a batch that fails on the data raises ``BatchFailed`` (the round must be rolled back and
        done again: this set-aside is careful then, and applies each event in a savepoint of its own). A transient
        error propagates: the caller's transaction rolls back and the round is retried. ``parked``: the parked
        streams read when this transaction claimed the checkpoint (``claim``), read here when not given; nothing
        may have changed them since (``retry`` does: read them again after it). ``before_one_by_one`` runs in a
        careful round, before the events are applied one by one (the dashboard's rebuild writes the rows it holds
        in memory there)."""
        done = Applied()
        if not self.hold:
            parked = {}
        parked = self.parked(conn) if parked is None else dict(parked)
        ready = [e for e in events if e.stream_id not in parked]
        for event in events:
            if event.stream_id in parked:
                self._hold(conn, event, parked[event.stream_id])
                done.held += 1
        if not ready:
            return done
        if not self.careful:
            try:
                apply(ready)
                return done
            except Exception as exc:
                if transient(exc):
                    raise
                self.careful = True
                log.warning(
                    "projection %s: a batch of %d events failed (%s); the round is rolled back and done again, "
                    "applying them one by one",
                    self.name,
                    len(ready),
                    describe(exc)[1],
                )
                raise BatchFailed(self, len(ready)) from exc
        if before_one_by_one is not None:
            before_one_by_one()
        for event in ready:
            if event.stream_id in parked:  # an earlier event of its stream failed in this batch
                self._hold(conn, event, parked[event.stream_id])
                done.held += 1
                continue
            try:
                with conn.begin_nested():
                    apply([event])
            except Exception as exc:
                if transient(exc):
                    raise
                self._fail(conn, event, exc)
                if self.hold:
                    parked[event.stream_id] = _position(event)
                done.failed += 1
        return done

    def retry(self, conn: Connection, store: PostgresEventStore, apply: ApplyFn) -> Retried:
        """Applies each parked stream's set-aside events again, in position order (its failed event first, then
        those held behind it), each in a savepoint; an event that applies leaves the table. The first that fails
        again stops its stream: it becomes (or stays) the failed one, one more attempt, and the stream's later
        events are held behind it (without ``hold``: each set-aside event is tried, whatever its stream's earlier
        ones did). Call it inside the round's transaction, after claiming the checkpoint: the
        events it applies are all before the checkpoint, those after it are the round's."""
        t = self.table
        rows = conn.execute(
            select(t.c.stream_id, t.c.position).where(t.c.projection == self.name).order_by(t.c.position)
        ).all()
        streams: dict[str, list[int]] = {}
        for stream, position in rows:
            streams.setdefault(stream, []).append(position)
        done = Retried()
        for positions in streams.values():
            for i, position in enumerate(positions):
                event = _read(conn, store, position)
                try:
                    with conn.begin_nested():
                        apply([event])
                        conn.execute(delete(t).where(t.c.projection == self.name, t.c.position == position))
                except Exception as exc:
                    if transient(exc):
                        raise
                    self._fail(conn, event, exc, again=True)
                    done.failed += 1
                    if not self.hold:
                        continue  # each on its own (``hold``)
                    later = positions[i + 1 :]
                    if later:
                        conn.execute(
                            update(t)
                            .where(t.c.projection == self.name, t.c.position.in_(later))
                            .values(held_behind=position, error_class=None, error=None)
                        )
                    break
                done.applied += 1
        if done.applied or done.failed:
            log.info(
                "projection %s: %d set-aside events applied again, %d failed again",
                self.name,
                done.applied,
                done.failed,
                extra={"projection": self.name},
            )
        return done

    def _fail(self, conn: Connection, event: EventEnvelope, exc: Exception, *, again: bool = False) -> None:
        error_class, message = describe(exc)
        t = self.table
        stmt = insert(t).values(
            **self._row(event), held_behind=None, error_class=error_class, error=message, attempts=1
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[t.c.projection, t.c.position],
                set_={
                    "held_behind": None,
                    "error_class": error_class,
                    "error": message,
                    "last_failed_at": func.now(),
                    "attempts": t.c.attempts + 1,
                },
            )
        )
        log.error(
            "projection %s %s event %s (position %d, %s, kecamatan %s): %s",
            self.name,
            "could still not apply set-aside" if again else "set aside",
            event.event_id,
            _position(event),
            event.type,
            event.kecamatan,
            message,
            extra={
                "projection": self.name,
                "event_id": str(event.event_id),
                "event_position": _position(event),
                "event_type": event.type,
                "kecamatan": event.kecamatan,
            },
        )

    def _hold(self, conn: Connection, event: EventEnvelope, behind: int) -> None:
        t = self.table
        stmt = insert(t).values(**self._row(event), held_behind=behind, attempts=0)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[t.c.projection, t.c.position],
                set_={"held_behind": behind, "error_class": None, "error": None, "last_failed_at": func.now()},
            )
        )
        log.warning(
            "projection %s holds event %s (position %d) behind the set-aside event at position %d of %s",
            self.name,
            event.event_id,
            _position(event),
            behind,
            event.stream_id,
            extra={"projection": self.name, "event_id": str(event.event_id), "kecamatan": event.kecamatan},
        )

    def _row(self, event: EventEnvelope) -> dict[str, Any]:
        return {
            "projection": self.name,
            "position": _position(event),
            "event_id": event.event_id,
            "stream_id": event.stream_id,
            "event_type": event.type,
            "kecamatan": event.kecamatan,
        }

    # -- the dashboard's rebuild ------------------------------------------------------------------------------
    def clear(self, conn: Connection) -> None:
        conn.execute(delete(self.table).where(self.table.c.projection == self.name))

    def take_over(self, conn: Connection, source: SetAside) -> None:
        """Replaces this projection's set-aside events by ``source``'s (a rebuild's copies, swapped in): what the
        rebuild applied is gone, what failed again keeps its first failure and adds up the attempts."""
        t, live, fresh = self.table, self.table.alias("live"), self.table.alias("fresh")
        conn.execute(
            update(fresh)
            .where(
                fresh.c.projection == source.name,
                fresh.c.held_behind.is_(None),
                live.c.projection == self.name,
                live.c.position == fresh.c.position,
                live.c.held_behind.is_(None),  # it failed before too (not only waited behind another)
            )
            .values(first_failed_at=live.c.first_failed_at, attempts=live.c.attempts + fresh.c.attempts)
        )
        self.clear(conn)
        conn.execute(update(t).where(t.c.projection == source.name).values(projection=self.name))


def _read(conn: Connection, store: PostgresEventStore, position: int) -> EventEnvelope:
    found = store.read_at(position, conn)  # read long ago: not through the settled position (docs/adr/0027)
    if found is None:  # cannot happen: the store keeps every event (triggers)
        raise LookupError(f"no event at position {position}")
    return found


def _position(event: EventEnvelope) -> int:
    if event.position is None:
        raise ValueError("an event read from the store has a position")
    return event.position


def counts(conn: Connection, table: Table, names: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Projection name -> (events that failed, events held behind them), 0 for those with none."""
    wanted = list(names)
    found = {
        name: (failed, held)
        for name, failed, held in conn.execute(
            select(
                table.c.projection,
                func.count().filter(table.c.held_behind.is_(None)),
                func.count().filter(table.c.held_behind.isnot(None)),
            )
            .where(table.c.projection.in_(wanted))
            .group_by(table.c.projection)
        ).all()
    }
    return {name: found.get(name, (0, 0)) for name in wanted}


def failures(conn: Connection, table: Table, names: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Projection name -> its failed events (oldest first), each with how many events are held behind it."""
    failed, held = table.alias("failed"), table.alias("held")
    behind = (
        select(func.count())
        .where(held.c.projection == failed.c.projection, held.c.held_behind == failed.c.position)
        .scalar_subquery()
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for row in conn.execute(
        select(
            failed.c.projection,
            failed.c.position,
            failed.c.event_id,
            failed.c.stream_id,
            failed.c.event_type,
            failed.c.kecamatan,
            failed.c.error_class,
            failed.c.error,
            failed.c.first_failed_at,
            failed.c.last_failed_at,
            failed.c.attempts,
            behind.label("held"),
        )
        .where(failed.c.projection.in_(list(names)), failed.c.held_behind.is_(None))
        .order_by(failed.c.projection, failed.c.position)
    ).mappings():
        found.setdefault(row["projection"], []).append(dict(row))
    return found


def status(
    conn: Connection, checkpoints: Table, table: Table, names: Iterable[str], *, details: bool = False
) -> list[dict[str, Any]]:
    """Each of a service's subscriptions (``names``, checkpoints in ``checkpoints``, set-aside events in ``table``):
    ``name, checkpoint, head, lag`` (events the store has after its checkpoint), ``failed`` (events it could not
    apply and set aside) and ``held`` (later events of the same complaints, waiting behind them); with ``details``
    (``pengaduan projections status``), ``failures``: the failed events as :func:`failures` lists them. A
    subscription that has not run yet stands at 0."""
    from shared.eventstore.postgres import events

    wanted = list(names)
    found = dict(
        conn.execute(select(checkpoints.c.name, checkpoints.c.position).where(checkpoints.c.name.in_(wanted))).all()
    )
    # the head after the checkpoints: a checkpoint moved between the two statements moved to an event the later
    # statement sees, so no lag is read below zero
    head = conn.execute(select(func.coalesce(func.max(events.c.position), 0))).scalar_one()
    set_aside = counts(conn, table, wanted)
    listed = failures(conn, table, wanted) if details else {}
    items = []
    for name in wanted:
        failed, held = set_aside[name]
        item: dict[str, Any] = {"name": name, "checkpoint": found.get(name, 0), "head": head}
        item |= {"lag": head - item["checkpoint"], "failed": failed, "held": held}
        if details:
            item["failures"] = listed.get(name, [])
        items.append(item)
    return items


def status_reader(checkpoints: Table, table: Table, names: Sequence[str]) -> Callable[[Settings], list[dict[str, Any]]]:
    """A service's ``ProjectionAdmin.status`` (``shared.service``) for subscriptions kept in its own ``checkpoints``
    and set-aside ``table``: :func:`status` with details, on an engine of its own for the one read."""

    def read(settings: Settings) -> list[dict[str, Any]]:
        from shared.db import make_engine

        engine = make_engine(settings, pool_size=1)
        try:
            with engine.connect() as conn:
                return status(conn, checkpoints, table, names, details=True)
        finally:
            engine.dispose()

    return read


def failure_gauges(conn: Connection, table: Table, names: Iterable[str]) -> list[Gauge]:
    """``pengaduan_projection_failures`` (events a projection set aside because they failed) and
    ``pengaduan_projection_held_events`` (later events of the same complaints, waiting behind them), per
    projection (``names``: the live ones, reported at 0 when none)."""
    from shared.service import Gauge

    gauges: list[Gauge] = []
    for name, (failed, held) in counts(conn, table, names).items():
        gauges.append(
            Gauge(
                "pengaduan_projection_failures",
                "Events a projection could not apply and set aside (pengaduan projections status)",
                failed,
                {"projection": name},
            )
        )
        gauges.append(
            Gauge(
                "pengaduan_projection_held_events",
                "Events of a complaint held unapplied behind one of its events a projection set aside",
                held,
                {"projection": name},
            )
        )
    return gauges
