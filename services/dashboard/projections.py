"""The dashboard's projections: catch-up subscriptions on the event store, and their rebuild.

**A round** (``Subscription.round``) claims the projection's checkpoint (its row stays locked until the
transaction ends), reads the events after it (``read_all`` inside the same connection), applies them to the
projection's tables and moves the checkpoint, all in ONE transaction: a crash redoes the batch, never half of
it. One instance per projection is active (``shared.subscriptions.Runner``: leader lock by name; standbys
wait); the row lock makes even an overlapping round of a leader that just lost its lock wait its turn.

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

``lag`` is the last position in the store minus the projection's checkpoint.

Wiring (the CLI): ``run_projections(settings)`` runs every dashboard projection until SIGTERM/SIGINT (or
``stop`` is set); ``rebuild(settings_or_engine, name)``; ``status(engine)``.
"""
from __future__ import annotations

import gc
import logging
import queue
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import orjson
from sqlalchemy import Engine, Table, delete, func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateTable

from services.dashboard.adapters import tables as t
from services.dashboard.domain import complaints as model
from services.dashboard.domain import service_requests as requests_model
from shared.calendar import WorkingCalendar
from shared.config import Settings
from shared.events import EventEnvelope
from shared.eventstore.postgres import NOTIFY_CHANNEL, PostgresEventStore
from shared.subscriptions import Checkpoints, RoundResult, Runner, lock_key, run_all
from shared.tenancy import KecamatanDirectory

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

    def apply_batch(self, conn: Connection, tables: Mapping[str, Table], events: Sequence[EventEnvelope],
                    held: dict | None = None) -> None: ...

    def flush(self, conn: Connection, tables: Mapping[str, Table], held: dict) -> None: ...


class Calendars:
    """Each kecamatan's working calendar (office hours, its own holidays), rebuilt when its settings change;
    the default calendar for a kecamatan the directory does not know (any more)."""

    def __init__(self, directory: KecamatanDirectory) -> None:
        self.directory = directory
        self._cache: dict[str, tuple[object, WorkingCalendar]] = {}
        self._default = WorkingCalendar()

    def for_kecamatan(self, slug: str) -> WorkingCalendar:
        kecamatan = self.directory.get(slug)
        if kecamatan is None:
            return self._default
        key = repr(sorted((k, repr(v)) for k, v in kecamatan.settings.items() if k in ("office_hours", "extra_holidays")))
        cached = self._cache.get(slug)
        if cached is None or cached[0] != key:
            cached = (key, kecamatan.calendar())
            self._cache[slug] = cached
        return cached[1]


class ComplaintsProjection:
    """``dashboard.complaints`` (one row per complaint) and ``dashboard.step_times`` (one row per completed
    step occurrence); the rules are in ``domain/complaints.py``."""

    name = "dashboard.complaints"
    table_names = ("complaints", "step_times")
    types = model.HANDLED

    def __init__(self, calendars: Calendars) -> None:
        self.calendars = calendars

    def apply_batch(self, conn: Connection, tables: Mapping[str, Table], events: Sequence[EventEnvelope],
                    held: dict | None = None) -> None:
        """Applies ``events`` to the tables. ``held`` (a rebuild's copies only): the open complaints' rows, kept
        in memory from batch to batch instead of being read back and written again with every batch they
        appear in (about five times each); a row is written when its complaint closes, the rest by ``flush``.
        A complaint not held (closed earlier, or never seen) is read from the table as usual."""
        complaints, step_times = tables["complaints"], tables["step_times"]
        relevant = [(model.complaint_id_of(e), e) for e in events if model.handles(e.type)]
        ids = sorted({cid for cid, _ in relevant if cid is not None})
        if not ids:
            return
        rows = {cid: held[cid] for cid in ids if cid in held} if held is not None else {}
        missing = [cid for cid in ids if cid not in rows]
        if missing:
            rows.update(
                (r["complaint_id"], dict(r))
                for r in conn.execute(select(complaints).where(complaints.c.complaint_id.in_(missing))).mappings()
            )
        changed: set = set()
        new_steps: list[dict] = []
        for cid, event in relevant:
            if cid is None:
                continue
            row, steps = model.apply(rows.get(cid), event, self.calendars.for_kecamatan(event.kecamatan))
            if row is None or row is rows.get(cid):
                continue
            rows[cid] = row
            changed.add(cid)
            new_steps.extend(steps)
        if held is None:
            write = changed
        else:
            write = {cid for cid in changed if rows[cid]["status"] == "closed"}
            for cid in changed:
                if cid in write:
                    held.pop(cid, None)
                else:
                    held[cid] = rows[cid]
        if write:
            _upsert(conn, complaints, [rows[cid] for cid in sorted(write)], key=("complaint_id",))
        if new_steps:
            _upsert(conn, step_times, new_steps, key=("complaint_id", "step", "occurrence"), update=False)

    def flush(self, conn: Connection, tables: Mapping[str, Table], held: dict) -> None:
        """Writes the rows ``apply_batch`` held (the complaints still open at the end of a rebuild's catch-up)."""
        if held:
            _upsert(conn, tables["complaints"], [held[cid] for cid in sorted(held)], key=("complaint_id",))
        held.clear()


class ServiceRequestsProjection:
    """``dashboard.service_requests``: each complaint as Open311's reads show it (``domain/service_requests.py``).
    It reads every event of the workflow's contract, so that ``updated_at`` follows notifications and alerts
    too: a projection of its own, so that the complaints projection (and its rebuild) keeps skipping them."""

    name = "dashboard.service_requests"
    table_names = ("service_requests",)
    types = requests_model.TYPES

    def apply_batch(self, conn: Connection, tables: Mapping[str, Table], events: Sequence[EventEnvelope],
                    held: dict | None = None) -> None:
        """As ``ComplaintsProjection.apply_batch``: with ``held`` (a rebuild's copies), open complaints' rows stay
        in memory until they close or ``flush``."""
        table = tables["service_requests"]
        relevant = [(cid, e) for e in events if (cid := requests_model.complaint_id_of(e)) is not None]
        ids = sorted({cid for cid, _ in relevant})
        if not ids:
            return
        rows = {cid: held[cid] for cid in ids if cid in held} if held is not None else {}
        missing = [cid for cid in ids if cid not in rows]
        if missing:
            rows.update((r["complaint_id"], dict(r))
                        for r in conn.execute(select(table).where(table.c.complaint_id.in_(missing))).mappings())
        changed: set = set()
        for cid, event in relevant:
            row = requests_model.apply(rows.get(cid), event)
            if row is not None and row is not rows.get(cid):
                rows[cid] = row
                changed.add(cid)
        if held is None:
            write = changed
        else:
            write = {cid for cid in changed if rows[cid]["status"] == "closed"}
            for cid in changed:
                if cid in write:
                    held.pop(cid, None)
                else:
                    held[cid] = rows[cid]
        if write:
            _upsert(conn, table, [rows[cid] for cid in sorted(write)], key=("complaint_id",))

    def flush(self, conn: Connection, tables: Mapping[str, Table], held: dict) -> None:
        if held:
            _upsert(conn, tables["service_requests"], [held[cid] for cid in sorted(held)], key=("complaint_id",))
        held.clear()


def _upsert(conn: Connection, table: Table, rows: list[dict], *, key: tuple[str, ...], update: bool = True) -> None:
    """All of a batch's rows in ONE statement: the rows travel as one JSON array that PostgreSQL turns into
    records of the table's own type (``jsonb_populate_recordset``). An executemany of row-by-row upserts cost
    a round of the pipeline per row: about half of a rebuild's time (bench/README.md, dashboard)."""
    name = f'{t.SCHEMA}."{table.name}"'
    columns = [c.name for c in table.columns]
    listed = ", ".join(f'"{c}"' for c in columns)
    if update:
        assignments = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns if c not in key)
        conflict = f"DO UPDATE SET {assignments}"
    else:
        conflict = "DO NOTHING"
    conn.execute(
        text(f"INSERT INTO {name} ({listed}) SELECT {listed} FROM jsonb_populate_recordset(NULL::{name}, CAST(:rows AS jsonb)) "
             f"ON CONFLICT ({', '.join(key)}) {conflict}"),
        {"rows": orjson.dumps(rows, option=orjson.OPT_NON_STR_KEYS).decode()},  # UUIDs, dates and aware datetimes (RFC 3339) natively
    )


class Subscription:
    """A projection bound to a set of tables and a checkpoint: the live ones (``suffix=""``) or fresh copies
    being rebuilt (``suffix="__next"``)."""

    def __init__(self, engine: Engine, store: PostgresEventStore, projection: Projection, *, suffix: str = "",
                 batch_size: int = 500) -> None:
        self.engine = engine
        self.store = store
        self.projection = projection
        self.suffix = suffix
        self.batch_size = batch_size
        self.checkpoint_name = projection.name + suffix
        self.checkpoints = Checkpoints(t.checkpoints)
        if suffix:
            self.tables = t.copies(projection.table_names, suffix)
        else:
            self.tables = {name: t.metadata.tables[f"{t.SCHEMA}.{name}"] for name in projection.table_names}

    @property
    def name(self) -> str:
        return self.checkpoint_name

    def round(self) -> RoundResult:
        with self.engine.begin() as conn:
            handled = self.round_in(conn)
        return RoundResult(handled=handled, more=handled == self.batch_size)

    def round_in(self, conn: Connection) -> int:
        """One batch inside ``conn``'s transaction; returns how many events it read."""
        after = self.checkpoints.claim(conn, self.checkpoint_name)
        batch, last, read = self.store.read_all_of_types(after, self.batch_size, self.projection.types, conn)
        if batch:
            self.projection.apply_batch(conn, self.tables, batch)
        if read:
            self.checkpoints.set(conn, self.checkpoint_name, last)
        return read

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
        assert self.suffix, "the live subscription reads inside its round's transaction"
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
            except BaseException as exc:  # handed to the applying thread, which raises it
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
                    with self.engine.begin() as conn:
                        # a copy's batch may be lost in a crash (the rebuild starts over): no wait for the WAL flush
                        conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
                        self.checkpoints.claim(conn, self.checkpoint_name)
                        if batch:
                            self.projection.apply_batch(conn, self.tables, batch, held)
                        if done:
                            self.projection.flush(conn, self.tables, held)
                        if read:
                            self.checkpoints.set(conn, self.checkpoint_name, last)
                total += read
                if done:
                    return total
        finally:
            if collecting:
                gc.enable()
            stop.set()
            thread.join(timeout=30)

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
        assert self.suffix, "the live tables belong to the migrations"
        with self.engine.begin() as conn:
            for table in self.tables.values():
                conn.execute(text(f'DROP TABLE IF EXISTS {t.SCHEMA}."{table.name}"'))
            for table in self.tables.values():
                conn.execute(CreateTable(table))
            self.checkpoints.set(conn, self.checkpoint_name, 0)

    def create_indexes(self) -> None:
        assert self.suffix, "the live tables belong to the migrations"
        with self.engine.begin() as conn:
            for table in self.tables.values():
                for index in sorted(table.indexes, key=lambda i: i.name or ""):
                    index.create(conn)

    def drop_tables(self) -> None:
        assert self.suffix, "the live tables belong to the migrations"
        with self.engine.begin() as conn:
            for table in self.tables.values():
                conn.execute(text(f'DROP TABLE IF EXISTS {t.SCHEMA}."{table.name}"'))
            conn.execute(delete(t.checkpoints).where(t.checkpoints.c.name == self.checkpoint_name))


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


def rebuild_projection(engine: Engine, store: PostgresEventStore, projection: Projection, *, batch_size: int = REBUILD_BATCH,
                       on_caught_up: Callable[[], None] | None = None) -> RebuildReport:
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
            with engine.begin() as conn:
                in_swap = _swap(conn, fresh, projection)
            swap_ms = (time.perf_counter() - swap_started) * 1000
        finally:
            guard.execute(select(func.pg_advisory_unlock(key)))
            guard.commit()
    report = RebuildReport(
        name=projection.name, position=in_swap[1], events=events + in_swap[0], caught_up_in_swap=in_swap[0],
        seconds=round(time.perf_counter() - started, 3), swap_ms=round(swap_ms, 1),
    )
    # "name" is a reserved LogRecord attribute: the report goes into the record under its own keys
    log.info("rebuild %s done", projection.name,
             extra={f"rebuild_{k}": v for k, v in report.as_dict().items() if k != "name"})
    return report


def _swap(conn: Connection, fresh: Subscription, projection: Projection) -> tuple[int, int]:
    checkpoints = fresh.checkpoints
    checkpoints.claim(conn, projection.name)  # the live runner's rounds wait on this row from now on
    live = [name for name in projection.table_names
            if conn.execute(text("SELECT to_regclass(:n)"), {"n": f"{t.SCHEMA}.{name}"}).scalar() is not None]
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
        indexes = conn.execute(
            text("SELECT indexname FROM pg_indexes WHERE schemaname = :s AND tablename = :t"), {"s": t.SCHEMA, "t": name}
        ).scalars().all()
        for index in indexes:
            if index.startswith(copy):
                conn.execute(text(f'ALTER INDEX {t.SCHEMA}."{index}" RENAME TO "{name + index[len(copy):]}"'))
    checkpoints.set(conn, projection.name, position)
    conn.execute(delete(t.checkpoints).where(t.checkpoints.c.name == fresh.checkpoint_name))
    return applied, position


# -- the dashboard's projections and their wiring ------------------------------------------------------------


def projections(engine: Engine) -> dict[str, Projection]:
    """Every dashboard projection by name."""
    calendars = Calendars(KecamatanDirectory(engine))
    return {p.name: p for p in (ComplaintsProjection(calendars), ServiceRequestsProjection())}


NAMES = (ComplaintsProjection.name, ServiceRequestsProjection.name)


def resolve_name(name: str) -> str:
    """A projection's full name (``dashboard.complaints``) or its short form (``complaints``); ValueError for
    any other."""
    for full in NAMES:
        if name in (full, full.split(".", 1)[1]):
            return full
    raise ValueError(f"unknown projection {name!r}; known: {', '.join(NAMES)}")


def make_runners(engine: Engine, settings: Settings) -> list[Runner]:
    """One leader-locked runner per dashboard projection (standbys in other processes wait)."""
    store = PostgresEventStore(engine)
    batch = getattr(settings, "projection_batch_size", settings.relay_batch_size)
    return [
        Runner(engine, p.name, Subscription(engine, store, p, batch_size=batch).round, channel=NOTIFY_CHANNEL,
               poll_interval=settings.relay_poll_interval)
        for p in projections(engine).values()
    ]


def run_projections(settings: Settings | None = None, *, stop: threading.Event | None = None) -> None:
    """Runs every dashboard projection until ``stop`` is set (default: until SIGTERM or SIGINT)."""
    from services.dashboard.config import DashboardSettings
    from shared.db import make_engine

    settings = settings or DashboardSettings()
    engine = make_engine(settings, pool_size=2 + len(NAMES))
    runners = make_runners(engine, settings)
    if stop is None:
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            signal.signal(signal.SIGINT, lambda *_: stop.set())
    threads = run_all(runners)
    try:
        stop.wait()
    finally:
        for r in runners:
            r.stop()
        for thread in threads:
            thread.join(timeout=10)
        engine.dispose()


def rebuild(settings_or_engine: Settings | Engine, name: str, *, batch_size: int | None = None) -> dict:
    """Rebuilds one dashboard projection from position 0 while the system runs; returns a report
    (``name, position, events, caught_up_in_swap, seconds, swap_ms``). ValueError for an unknown name,
    ``RebuildInProgress`` when another rebuild of it runs."""
    from shared.db import make_engine

    full = resolve_name(name)
    if isinstance(settings_or_engine, Engine):
        engine, own = settings_or_engine, False
        batch = batch_size or REBUILD_BATCH
    else:
        engine, own = make_engine(settings_or_engine, pool_size=2), True
        batch = batch_size or getattr(settings_or_engine, "rebuild_batch_size", REBUILD_BATCH)
    try:
        projection = projections(engine)[full]
        return rebuild_projection(engine, PostgresEventStore(engine), projection, batch_size=batch).as_dict()
    finally:
        if own:
            engine.dispose()


def status(engine: Engine) -> list[dict]:
    """Each dashboard projection: ``name, checkpoint, head, lag`` (events the store has that it has not applied)."""
    with engine.connect() as conn:
        head = conn.execute(text("SELECT coalesce(max(position), 0) FROM workflow.events")).scalar_one()
        found = dict(conn.execute(select(t.checkpoints.c.name, t.checkpoints.c.position)
                                  .where(t.checkpoints.c.name.in_(NAMES))).all())
    return [{"name": n, "checkpoint": found.get(n, 0), "head": head, "lag": head - found.get(n, 0)} for n in NAMES]
