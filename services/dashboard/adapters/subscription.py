"""How the dashboard's projections run: a projection bound to its tables and checkpoint (``Subscription``), its
rounds on the live tables, and its rebuild into fresh copies swapped in without a gap (``rebuild_projection``).
The projections themselves (how events change their tables) are ``adapters/projections.py``; which ones run,
and the operator's rebuild and status, ``entrypoints/projections.py``.

**A round** (``Subscription.round``) claims the projection's checkpoint (its row stays locked until the
transaction ends), reads the events after it (``read_all`` inside the same connection), applies them to the
projection's tables and moves the checkpoint, all in ONE transaction: a crash redoes the batch, never half of
it. The live projections run together (``LiveRounds``, docs/adr/0029): one round claims both checkpoints, reads
the store once and applies each projection's events as ``Subscription.round`` would; one instance is active
(``shared.subscriptions.Runner``: leader lock ``dashboard.projections``; standbys wait); the checkpoint's claim makes
even an overlapping round of a leader that just lost its lock wait its turn.

**A rebuild** (``rebuild_projection``), while the system runs, without a gap and without readers ever seeing
an empty or half-built table:

1. one rebuild per projection at a time (a session advisory lock ``<name>:rebuild``);
2. fresh copies of the projection's tables (``<table>__next``, from the definitions in
   ``adapters/tables.py``) with their own checkpoint ``<name>__next`` at 0;
3. rounds into the copies until they reach the head of the store (the live projection keeps running),
   reading ahead on a second connection, with only the primary keys in place;
4. the copies' other indexes, then ``ANALYZE`` of the copies (the planner has statistics from the first query on);
5. one short transaction: claim the live checkpoint (the live runner's next round waits on that row),
   ``LOCK TABLE`` the live tables (readers wait a moment, they never see a missing table), apply the last
   events that arrived meanwhile to the copies, drop the live tables, rename the copies (and their indexes)
   into their place, set the live checkpoint to the copies' position and remove theirs. Appends are never
   blocked; whatever commits after this point has a higher position (commit-ordered store) and the live
   runner applies it next.

**An event a round cannot apply** (``shared.projection_failures``): the batch is applied without a SAVEPOINT; when it
fails with an error that blames the data (not a lost connection, a serialization failure or a timeout: those fail the
round as before, and the runner retries it), the round is rolled back and done again at once, carefully: that
projection's events one by one, each in a SAVEPOINT, and the one that fails is set aside in
``dashboard.projection_failures`` with its complaint's later events held behind it, in the transaction that moves the
checkpoint past them; every other complaint goes on. The first round of each process (``pengaduan projections run``,
after a deploy or a restart) applies the set-aside events again, in order; a rebuild replays them with everything else
and keeps, in place of the live projection's, only the failures it met again (each one's first failure kept, the
attempts added up). docs/adr/0015-projection-poison-events.md.

``lag`` is the last position in the store minus the projection's checkpoint.
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine, Table, Text, any_, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateTable

from services.dashboard.adapters import tables as t
from shared.events import EventEnvelope
from shared.eventstore.postgres import PostgresEventStore
from shared.projection_failures import Retried, SetAside, claim, transaction
from shared.subscriptions import Checkpoints, RoundResult, lock_key

log = logging.getLogger(__name__)

NEXT = "__next"
GC_EVERY = 40  # batches between full garbage collections while a rebuild catches up
REBUILD_BATCH = 5000  # events per transaction while rebuilding (2000: 12-18% slower; 10,000: about the same)


class Projection(Protocol):
    """What a projection is: a name (its checkpoint and leader lock), the tables it owns (names in
    ``adapters.tables.BUILDERS``) and how a batch of events changes them."""

    name: str
    table_names: tuple[str, ...]
    types: frozenset[str]  # the event types it reads; the others only move its checkpoint

    def apply_batch(
        self, conn: Connection, tables: Mapping[str, Table], events: Sequence[EventEnvelope], held: dict | None = None
    ) -> None: ...

    def flush(self, conn: Connection, tables: Mapping[str, Table], held: dict) -> None: ...


class Subscription:
    """A projection bound to a set of tables and a checkpoint: the live ones (``suffix=""``) or fresh copies
    being rebuilt (``suffix="__next"``)."""

    def __init__(
        self,
        engine: Engine,
        store: PostgresEventStore,
        projection: Projection,
        *,
        suffix: str = "",
        batch_size: int = 500,
    ) -> None:
        self.engine = engine
        self.store = store
        self.projection = projection
        self.suffix = suffix
        self.batch_size = batch_size
        self.checkpoint_name = projection.name + suffix
        self.checkpoints = Checkpoints(t.checkpoints)
        self.set_aside = SetAside(t.projection_failures, self.checkpoint_name)
        # the live projection's first round (in each process) applies its set-aside events again: a deploy of
        # the fix, or a restart after a data fix, brings their complaints up to date
        self.retry_pending = not suffix
        if suffix:
            self.tables = t.copies(projection.table_names, suffix)
        else:
            self.tables = {name: t.metadata.tables[f"{t.SCHEMA}.{name}"] for name in projection.table_names}

    @property
    def name(self) -> str:
        return self.checkpoint_name

    def round(self) -> RoundResult:
        handled = transaction(self.engine, lambda conn: self.round_in(conn, retry=self.retry_pending))
        self.retry_pending = False  # committed (a failed round retries them again)
        return RoundResult(handled=handled, more=handled == self.batch_size)

    def round_in(self, conn: Connection, *, retry: bool = False) -> int:
        """One batch inside ``conn``'s transaction (``retry``: after applying the set-aside events again); returns
        how many events it read. An event it cannot apply is set aside (the module's docstring)."""
        after, parked = self.set_aside.claim(conn, self.checkpoints)  # its parked streams in the same statement
        # read before anything is written: a round holding a transaction id reads only what was settled without it
        batch, last, read = self.store.read_all_of_types(after, self.batch_size, self.projection.types, conn)
        if retry:
            self.retry_set_aside(conn)
        if batch:
            self.set_aside.apply(
                conn,
                batch,
                lambda events: self.projection.apply_batch(conn, self.tables, events),
                parked=None if retry else parked,  # the retry changed them: read again
            )
        if read:
            self.checkpoints.set(conn, self.checkpoint_name, last)
        return read

    def retry_set_aside(self, conn: Connection) -> Retried:
        """The set-aside events applied again, each complaint's in order, inside ``conn``'s transaction (which has
        claimed the checkpoint: the runner's rounds wait)."""
        return self.set_aside.retry(conn, self.store, lambda e: self.projection.apply_batch(conn, self.tables, e))

    def catch_up(self, until: Callable[[], bool] = lambda: False) -> int:
        """Rounds until the head of the store (or ``until()``); returns the events read."""
        total = 0
        while True:
            result = self.round()
            total += result.handled
            if not result.more or until():
                return total

    def catch_up_read_ahead(self) -> int:
        """``catch_up`` for a rebuild's copies: a reader thread (its own connection) fetches and decodes the
        next batch while this thread applies the current one and commits it with its checkpoint, so reading
        in PostgreSQL overlaps applying in Python. Only for copies: the rebuild lock makes this the one
        writer of their checkpoint, so reading ahead of it is safe. Returns the events read."""
        assert self.suffix, "the live subscription reads inside its round's transaction"  # noqa: S101
        batches: queue.Queue = queue.Queue(maxsize=2)
        stop = threading.Event()
        start = self.position()

        def put(item: object) -> None:
            while not stop.is_set():
                try:
                    batches.put(item, timeout=0.2)
                    return
                except queue.Full:
                    continue

        def reader() -> None:
            after = start
            try:
                while not stop.is_set():
                    with self.engine.connect() as conn:
                        page = self.store.read_all_of_types(after, self.batch_size, self.projection.types, conn)
                    put(page)
                    if page[2] < self.batch_size:
                        return
                    after = page[1]
            except BaseException as exc:  # handed to the applying thread, which raises it  # noqa: BLE001
                put(exc)

        thread = threading.Thread(target=reader, name=f"{self.checkpoint_name}-reader", daemon=True)
        thread.start()
        total = 0
        held: dict = {}  # open complaints' rows, written at the end (apply_batch): the copies match their
        # checkpoint only once this returns, which is all a rebuild needs (a failed rebuild starts over from 0)
        # Python's cyclic garbage collector, left on, spent about a fifth of the rebuild's CPU walking the
        # batches' young objects again and again (measured: bench/README.md §6); off during the catch-up, with
        # a full collection every GC_EVERY batches so that cyclic garbage stays bounded
        collecting = gc.isenabled()
        gc.disable()
        batches_done = 0
        try:
            while True:
                batches_done += 1
                if batches_done % GC_EVERY == 0:
                    gc.collect()
                item = batches.get()
                if isinstance(item, BaseException):
                    raise item
                batch, last, read = item
                done = read < self.batch_size
                if read or done:
                    transaction(self.engine, self._write_batch(batch, last, read, done, held))
                total += read
                if done:
                    return total
        finally:
            if collecting:
                gc.enable()
            stop.set()
            thread.join(timeout=30)

    def _write_batch(
        self, batch: list[EventEnvelope], last: int, read: int, done: bool, held: dict
    ) -> Callable[[Connection], None]:
        """A rebuild's batch into the copies with its checkpoint, as a body for ``transaction``. A batch that fails
        may have changed ``held`` before it raised: when the transaction is done again (carefully), ``held`` goes
        back to its state before the batch first."""
        before = dict(held)  # rows are replaced, never changed in place (domain/): a shallow copy is the state
        attempts = 0

        def write(conn: Connection) -> None:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                held.clear()
                held.update(before)
            # a copy's batch may be lost in a crash (the rebuild starts over): no wait for the WAL flush
            conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
            _, parked = self.set_aside.claim(conn, self.checkpoints)
            if batch:
                self._apply_holding(conn, batch, held, parked)
            if done:
                self.projection.flush(conn, self.tables, held)
            if read:
                self.checkpoints.set(conn, self.checkpoint_name, last)

        return write

    def _apply_holding(
        self, conn: Connection, batch: list[EventEnvelope], held: dict, parked: Mapping[str, int]
    ) -> None:
        """A rebuild's batch, open complaints' rows kept in ``held``, with its failing events set aside. In a careful
        round (a batch that failed, done again: ``_write_batch`` put ``held`` back as it was before the batch) the
        rows held are written to the copies first, and the batch's events are applied one by one on the rows in the
        tables."""
        one_by_one = False

        def apply(events: Sequence[EventEnvelope]) -> None:
            self.projection.apply_batch(conn, self.tables, events, None if one_by_one else held)

        def write_held() -> None:
            nonlocal one_by_one
            self.projection.flush(conn, self.tables, held)
            one_by_one = True

        self.set_aside.apply(conn, batch, apply, parked=parked, before_one_by_one=write_held)

    def position(self, conn: Connection | None = None) -> int:
        if conn is not None:
            return self.checkpoints.get(conn, self.checkpoint_name)
        with self.engine.connect() as own:
            return self.checkpoints.get(own, self.checkpoint_name)

    def lag(self) -> int:
        return self.store.last_position() - self.position()

    # -- copies ---------------------------------------------------------------------------------------
    def create_tables(self) -> None:
        """(Re)creates this subscription's copies, empty, with the checkpoint at 0: the tables and their
        primary keys only (the upserts need them); ``create_indexes`` adds the rest once they are filled, as a
        bulk load should (one sort per index instead of an index update per row)."""
        assert self.suffix, "the live tables belong to the migrations"  # noqa: S101
        with self.engine.begin() as conn:
            for table in self.tables.values():
                conn.execute(text(f'DROP TABLE IF EXISTS {t.SCHEMA}."{table.name}"'))
            for table in self.tables.values():
                conn.execute(CreateTable(table))
            self.checkpoints.set(conn, self.checkpoint_name, 0)
            self.set_aside.clear(conn)  # what a failed rebuild before this one set aside

    def create_indexes(self) -> None:
        assert self.suffix, "the live tables belong to the migrations"  # noqa: S101
        with self.engine.begin() as conn:
            for table in self.tables.values():
                for index in sorted(table.indexes, key=lambda i: i.name or ""):
                    index.create(conn)

    def drop_tables(self) -> None:
        assert self.suffix, "the live tables belong to the migrations"  # noqa: S101
        with self.engine.begin() as conn:
            for table in self.tables.values():
                conn.execute(text(f'DROP TABLE IF EXISTS {t.SCHEMA}."{table.name}"'))
            conn.execute(delete(t.checkpoints).where(t.checkpoints.c.name == self.checkpoint_name))
            self.set_aside.clear(conn)


class RebuildInProgress(Exception):
    pass


@dataclass
class RebuildReport:
    name: str
    position: int  # where the swapped-in tables stand
    events: int  # events read in all
    caught_up_in_swap: int  # events applied inside the swap transaction
    seconds: float
    swap_ms: float

    def as_dict(self) -> dict:
        return self.__dict__.copy()


# LiveRounds' checkpoints moved to where its round read, built once (every round runs it)
_MOVE_CHECKPOINTS = (
    update(t.checkpoints)
    .where(t.checkpoints.c.name == any_(bindparam("names", type_=ARRAY(Text))))
    .values(position=bindparam("position"), updated_at=func.now())
)


class LiveRounds:
    """The live projections in ONE round: one claim of their checkpoints (``shared.projection_failures.claim``: in a
    stable order, their parked streams read with them), one read of the store from the lowest of them (the events of any
    of their types), each projection's events after its own checkpoint applied as ``Subscription.round_in`` applies them
    (set aside when they fail, the round done again carefully for it: ADR 0015; its set-aside events retried on the
    process's first round), the checkpoints moved by one UPDATE, one commit. One leader for them all (``name``).
    docs/adr/0029.

    Two runners, one per projection, each woken by every append's NOTIFY, made two transactions per event, each
    claiming, settling the store's horizon and reading the same positions (the walk benchmark: the projections
    process, issue #20 item 3). A projection behind the other (after its rebuild swapped in, or a new one) is read
    from its own checkpoint: the other filters what it passed. A rebuild's swap claims the live checkpoint it
    replaces, so it waits for the round, and the round for it, as with a runner per projection."""

    name = "dashboard.projections"

    def __init__(self, subscriptions: Sequence[Subscription]) -> None:
        assert subscriptions and not any(s.suffix for s in subscriptions)  # noqa: S101 (the live tables only)
        self.subscriptions = list(subscriptions)
        self.engine = subscriptions[0].engine
        self.store = subscriptions[0].store
        self.batch_size = max(s.batch_size for s in subscriptions)
        self.checkpoints = Checkpoints(t.checkpoints)
        self.types = frozenset().union(*(s.projection.types for s in subscriptions))

    def round(self) -> RoundResult:
        read = transaction(self.engine, self.round_in)
        for sub in self.subscriptions:
            sub.retry_pending = False  # committed (a failed round retries them again)
        return RoundResult(handled=read, more=read == self.batch_size)

    def round_in(self, conn: Connection) -> int:
        """One round inside ``conn``'s transaction; returns how many events it read."""
        # their checkpoints and their parked streams, in one statement
        claimed = claim(conn, self.checkpoints, [s.set_aside for s in self.subscriptions])
        # read before anything is written (as Subscription.round_in): one read for every projection
        start = min(c.position for c in claimed.values())
        batch, last, read = self.store.read_all_of_types(start, self.batch_size, self.types, conn)
        moved = []
        for sub in self.subscriptions:
            after, parked = claimed[sub.checkpoint_name]
            if sub.retry_pending:
                sub.retry_set_aside(conn)
            mine = [e for e in batch if _position_of(e) > after and e.type in sub.projection.types]
            if mine:
                sub.set_aside.apply(
                    conn,
                    mine,
                    lambda events, sub=sub: sub.projection.apply_batch(conn, sub.tables, events),
                    parked=None if sub.retry_pending else parked,  # the retry changed them: read again
                )
            if read and last > after:
                moved.append(sub.checkpoint_name)
        if moved:  # every checkpoint the batch moves, in one statement (the claim made their rows)
            conn.execute(_MOVE_CHECKPOINTS, {"names": moved, "position": last})
        return read


def _position_of(event: EventEnvelope) -> int:
    assert event.position is not None  # noqa: S101 (read from the store)
    return event.position


def rebuild_projection(
    engine: Engine,
    store: PostgresEventStore,
    projection: Projection,
    *,
    batch_size: int = REBUILD_BATCH,
    on_caught_up: Callable[[], None] | None = None,
) -> RebuildReport:
    """Rebuild ``projection`` from position 0 while everything runs (see the module's docstring).
    ``on_caught_up`` is called between step 4 and the swap (tests use it to squeeze appends in)."""
    started = time.perf_counter()
    with engine.connect() as guard:
        key = lock_key(f"{projection.name}:rebuild")
        got = guard.execute(select(func.pg_try_advisory_lock(key))).scalar_one()
        guard.commit()
        if not got:
            raise RebuildInProgress(f"a rebuild of {projection.name} is already running")
        try:
            fresh = Subscription(engine, store, projection, suffix=NEXT, batch_size=batch_size)
            fresh.create_tables()
            events = fresh.catch_up_read_ahead()
            fresh.create_indexes()
            with engine.begin() as conn:
                for table in fresh.tables.values():
                    conn.execute(text(f'ANALYZE {t.SCHEMA}."{table.name}"'))
            log.info("rebuild %s: copies at the head (%d events), swapping", projection.name, events)
            if on_caught_up is not None:
                on_caught_up()
            swap_started = time.perf_counter()
            # a batch of the swap that fails rolls the swap back: done again, that batch one event at a time
            in_swap = transaction(engine, lambda conn: _swap(conn, fresh, projection))
            swap_ms = (time.perf_counter() - swap_started) * 1000
        finally:
            guard.execute(select(func.pg_advisory_unlock(key)))
            guard.commit()
    report = RebuildReport(
        name=projection.name,
        position=in_swap[1],
        events=events + in_swap[0],
        caught_up_in_swap=in_swap[0],
        seconds=round(time.perf_counter() - started, 3),
        swap_ms=round(swap_ms, 1),
    )
    # "name" is a reserved LogRecord attribute: the report goes into the record under its own keys
    log.info(
        "rebuild %s done",
        projection.name,
        extra={f"rebuild_{k}": v for k, v in report.as_dict().items() if k != "name"},
    )
    return report


def _swap(conn: Connection, fresh: Subscription, projection: Projection) -> tuple[int, int]:
    checkpoints = fresh.checkpoints
    checkpoints.claim(conn, projection.name)  # the live runner's rounds wait on this row from now on
    live = [
        name
        for name in projection.table_names
        if conn.execute(text("SELECT to_regclass(:n)"), {"n": f"{t.SCHEMA}.{name}"}).scalar() is not None
    ]
    if live:
        conn.execute(text(f"LOCK TABLE {', '.join(f'{t.SCHEMA}.{n}' for n in live)} IN ACCESS EXCLUSIVE MODE"))
    applied = 0
    while True:
        n = fresh.round_in(conn)
        applied += n
        if n < fresh.batch_size:
            break
    position = checkpoints.get(conn, fresh.checkpoint_name)
    for name in projection.table_names:
        copy = fresh.tables[name].name
        conn.execute(text(f'DROP TABLE IF EXISTS {t.SCHEMA}."{name}"'))
        conn.execute(text(f'ALTER TABLE {t.SCHEMA}."{copy}" RENAME TO "{name}"'))
        indexes = (
            conn.execute(
                text("SELECT indexname FROM pg_indexes WHERE schemaname = :s AND tablename = :t"),
                {"s": t.SCHEMA, "t": name},
            )
            .scalars()
            .all()
        )
        for index in indexes:
            if index.startswith(copy):
                conn.execute(text(f'ALTER INDEX {t.SCHEMA}."{index}" RENAME TO "{name + index[len(copy) :]}"'))
    checkpoints.set(conn, projection.name, position)
    conn.execute(delete(t.checkpoints).where(t.checkpoints.c.name == fresh.checkpoint_name))
    # the copies' set-aside events replace the live ones: what the rebuild applied is no longer set aside
    SetAside(t.projection_failures, projection.name).take_over(conn, fresh.set_aside)
    return applied, position
