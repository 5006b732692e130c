"""Catch-up subscriptions: tail a source by position, with a checkpoint, under a single active leader.

Used by the relay (hand events to queues), by intake's outbox publisher and by projections. A runner
takes a session-level advisory lock so only one instance of each subscription is active; standbys retry.
It wakes on NOTIFY and also polls, so a lost notification only delays, never loses.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from sqlalchemy import BigInteger, Column, DateTime, Engine, MetaData, Table, Text, any_, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.engine import Connection

from shared import metrics
from shared.db import libpq_url
from shared.outages import describe, unreachable

if TYPE_CHECKING:
    from shared.config import Settings
    from shared.service import Gauge

log = logging.getLogger(__name__)

# retry delays of a failed round or a lost connection (seconds): doubling from the first, capped
RETRY_FIRST = 0.5
RETRY_MAX = 30.0  # a round that keeps failing for another reason (a bug, a poisoned batch): no busy loop
RETRY_MAX_UNREACHABLE = 2.0  # the database or the broker out of reach: back within seconds of its return


def checkpoint_table(metadata: MetaData) -> Table:
    """A service's own checkpoints: one row per subscription it runs (name, position)."""
    return Table(
        "checkpoints",
        metadata,
        Column("name", Text, primary_key=True),
        Column("position", BigInteger, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


# the claim's locks, in the order given (``Checkpoints.lock``)
_LOCK_ROUNDS = text(
    "SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) WITH ORDINALITY AS t(k, n) ORDER BY n"
)


def lock_key(name: str) -> int:
    return zlib.crc32(f"pengaduan:{name}".encode())


class Checkpoints:
    def __init__(self, table: Table) -> None:
        self.table = table
        upsert = insert(table)  # built once, the name and position passed at execution
        self._set = upsert.on_conflict_do_update(
            index_elements=["name"],
            set_={"position": upsert.excluded.position, "updated_at": upsert.excluded.updated_at},
        )
        pairs = (
            func.unnest(bindparam("names", type_=ARRAY(Text)), bindparam("positions", type_=ARRAY(BigInteger)))
            .table_valued("name", "position")
            .render_derived()
        )
        self._positions = select(table.c.name, table.c.position).where(
            table.c.name == any_(bindparam("names", type_=ARRAY(Text)))
        )
        many = insert(table).from_select(["name", "position"], select(pairs.c.name, pairs.c.position))
        self._set_many = many.on_conflict_do_update(
            index_elements=["name"],
            set_={"position": many.excluded.position, "updated_at": many.excluded.updated_at},
        )

    def get(self, conn: Connection, name: str) -> int:
        value = conn.execute(select(self.table.c.position).where(self.table.c.name == name)).scalar()
        return value or 0

    def claim(self, conn: Connection, name: str) -> int:
        """The position, with the checkpoint claimed until ``conn``'s transaction ends: a round that overlaps
        another instance's (a leader that lost its lock a moment ago) waits instead of interleaving with it.
        The claim is a transaction-scoped advisory lock, not a row lock: a row lock would give the round a
        transaction id while it reads the event store, and every reader waits for the transactions that hold
        one (shared/eventstore/postgres.py ``Horizon``)."""
        conn.execute(select(func.pg_advisory_xact_lock(lock_key(f"{name}:round"))))
        position = conn.execute(select(self.table.c.position).where(self.table.c.name == name)).scalar()
        if position is not None:
            return position
        conn.execute(insert(self.table).values(name=name, position=0).on_conflict_do_nothing(index_elements=["name"]))
        return 0

    def claim_many(self, conn: Connection, names: Sequence[str]) -> dict[str, int]:
        """``claim`` for several checkpoints at once (in a stable order: no two rounds wait for each other)."""
        self.lock(conn, names)
        found = dict(conn.execute(self._positions, {"names": list(names)}).all())
        self.create(conn, [n for n in names if n not in found])
        return {n: found.get(n, 0) for n in names}

    def lock(self, conn: Connection, names: Sequence[str]) -> None:
        """The claim's transaction-scoped advisory locks (``claim``), in a stable order. Read the checkpoints in a
        later statement: its snapshot then sees what the claim's last holder committed."""
        conn.execute(_LOCK_ROUNDS, {"keys": [lock_key(f"{n}:round") for n in sorted(names)]})

    def create(self, conn: Connection, names: Sequence[str]) -> None:
        """Checkpoints at 0 for ``names`` that have none (a subscription's first round)."""
        if names:
            conn.execute(
                insert(self.table)
                .values([{"name": n, "position": 0} for n in sorted(names)])
                .on_conflict_do_nothing(index_elements=["name"])
            )

    def set(self, conn: Connection, name: str, position: int) -> None:
        conn.execute(self._set, {"name": name, "position": position})

    def set_many(self, conn: Connection, positions: dict[str, int]) -> None:
        """``set`` for several checkpoints in one statement (the relay's round moves up to ten)."""
        if positions:
            conn.execute(self._set_many, {"names": list(positions), "positions": list(positions.values())})


@dataclass
class RoundResult:
    handled: int
    more: bool  # a full batch: run again at once


class Runner:
    """Runs ``round_fn`` repeatedly while it holds the leader lock ``name``.

    ``round_fn()`` does one batch and says how many it handled and whether more is waiting. Woken by a NOTIFY
    on ``channel`` (else every ``poll_interval``). After a round that handled something, the next one waits
    ``gather`` seconds: under load the events of that moment are handed on in one round instead of a round
    each (every append sends a NOTIFY; a round is a transaction and a few statements whatever it carries),
    while an event after a quiet spell is handed on at once. The wake-ups received meanwhile are taken
    together. The leader's session is checked (``SELECT 1``) when no wake-up came within ``poll_interval``:
    one that came is the proof that it lives. Errors in a
    round are logged with their cause and retried with backoff (never swallowed: the batch is redone). The
    backoff starts again from ``retry_first`` after every good round; while PostgreSQL or the broker is out
    of reach it stays under ``retry_max_unreachable``, so the runner resumes within seconds of their return.
    """

    def __init__(
        self,
        engine: Engine,
        name: str,
        round_fn: Callable[[], RoundResult],
        *,
        channel: str | None,
        poll_interval: float = 1.0,
        gather: float = 0.0,
        retry_first: float = RETRY_FIRST,
        retry_max: float = RETRY_MAX,
        retry_max_unreachable: float = RETRY_MAX_UNREACHABLE,
    ) -> None:
        self.engine = engine
        self.name = name
        self.round_fn = round_fn
        self.channel = channel
        self.poll_interval = poll_interval
        self.gather = gather
        self.retry_first = retry_first
        self.retry_max = retry_max
        self.retry_max_unreachable = retry_max_unreachable
        self.failures = 0  # failed attempts in a row; a good round (or a standby's good poll) resets it
        self.stopping = threading.Event()
        self.is_leader = threading.Event()

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        metrics.runner_leading(self.name, False)
        while not self.stopping.is_set():
            try:
                self._lead()
            except Exception as exc:  # the round failed: say why, wait, then redo it (the checkpoint did not move)
                delay = self._retry_delay(exc)
                if unreachable(exc):  # expected during an outage: one line per attempt, not a traceback
                    log.warning(
                        "subscription %s: a dependency is out of reach (%s); retrying in %.1fs",
                        self.name,
                        describe(exc),
                        delay,
                    )
                else:
                    log.exception("subscription %s failed; retrying in %.1fs", self.name, delay)
                metrics.runner_failed(self.name)
                self.is_leader.clear()
                metrics.runner_leading(self.name, False)
                self.failures += 1
                self.stopping.wait(delay)
        metrics.runner_leading(self.name, False)

    def _retry_delay(self, exc: Exception) -> float:
        """Doubles from ``retry_first`` with each failure in a row; at most ``retry_max_unreachable`` while the
        database or the broker is out of reach (a connection attempt is cheap, and the runner must be back
        within seconds of their return), ``retry_max`` for any other error."""
        cap = self.retry_max_unreachable if unreachable(exc) else self.retry_max
        return min(self.retry_first * 2 ** min(self.failures, 32), cap)

    def _lead(self) -> None:
        url = libpq_url(self.engine.url.render_as_string(hide_password=False))
        # a server that does not answer at all (not even a refusal) must not hold the runner up for minutes
        with psycopg.connect(
            url,
            autocommit=True,
            connect_timeout=5,
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
        ) as leader:
            while not self.stopping.is_set():
                if leader.execute("SELECT pg_try_advisory_lock(%s)", (lock_key(self.name),)).fetchone()[0]:
                    break
                self.failures = 0  # the database answers: a later outage starts from a short delay
                self.stopping.wait(self.poll_interval)  # a standby: another instance leads
            if self.stopping.is_set():
                return
            self.is_leader.set()
            metrics.runner_leading(self.name, True)
            log.info("subscription %s: leading", self.name)
            if self.channel:
                leader.execute(f"LISTEN {self.channel}")
            while not self.stopping.is_set():
                started = time.perf_counter()
                result = self.round_fn()
                self.failures = 0
                metrics.runner_round(self.name, result.handled, time.perf_counter() - started)
                if result.more:
                    continue
                if result.handled and self.gather > 0:
                    self.stopping.wait(self.gather)  # under load: let this moment's events gather for one round
                if self.channel:
                    if not _woken(leader, 0) and not _woken(leader, self.poll_interval):
                        leader.execute("SELECT 1")  # the leader's session (and so its lock) is still alive
                else:
                    self.stopping.wait(self.poll_interval)
                    leader.execute("SELECT 1")


def _woken(leader: psycopg.Connection, timeout: float) -> bool:
    """Whether a NOTIFY came within ``timeout`` (0: whether one is already there); all that arrived are taken
    (one round reads what they announce)."""
    woken = False
    for _ in leader.notifies(timeout=timeout, stop_after=1):
        woken = True
    if woken:
        for _ in leader.notifies(timeout=0):
            pass
    return woken


def run_all(runners: list[Runner]) -> list[threading.Thread]:
    threads = [threading.Thread(target=r.run, name=r.name, daemon=True) for r in runners]
    for t in threads:
        t.start()
    return threads


def lag_gauges(conn: Connection, table: Table, names: Iterable[str]) -> list[Gauge]:
    """``pengaduan_subscription_lag_events`` of a service's subscriptions: events in the store after each one's
    checkpoint in ``table`` (``names``: those it runs, reported at the full lag before their first round)."""
    from shared.eventstore.postgres import events
    from shared.service import Gauge

    last = conn.execute(select(func.coalesce(func.max(events.c.position), 0))).scalar_one()
    positions = dict.fromkeys(names, 0) | dict(conn.execute(select(table.c.name, table.c.position)).all())
    return [
        Gauge(
            "pengaduan_subscription_lag_events",
            "Events in the store after a subscription's checkpoint",
            max(0, last - position),
            {"subscription": name},
        )
        for name, position in positions.items()
    ]


def periodic(engine: Engine, job: Any) -> Runner:
    """A scheduler job (``name``, ``round()``, ``interval``) as a runner: one active instance, every ``interval``."""
    return Runner(engine, job.name, job.round, channel=None, poll_interval=job.interval)


def notified(
    engine: Engine, job: Any, channel: str, settings: Settings, *, projection: bool = False, gather: float | None = None
) -> Runner:
    """A subscription (``name``, ``round()``) as a runner woken by NOTIFY on ``channel``: polling every
    ``relay_poll_interval`` and, after a busy round, gathering ``relay_gather_seconds`` (a hand-off on which work
    waits: an acknowledgment, a letter) or ``projection_gather_seconds`` (``projection``: a read side, which may
    show an event a moment later and carries more of them per round), as the deployment's settings say (one
    place, so that every relay and projection of every service behaves alike); ``gather`` overrides both (a
    subscriber nobody waits on: notify's news of new work)."""
    if gather is None:
        gather = settings.projection_gather_seconds if projection else settings.relay_gather_seconds
    return Runner(
        engine, job.name, job.round, channel=channel, poll_interval=settings.relay_poll_interval, gather=gather
    )
