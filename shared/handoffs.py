"""Hand-offs between services made recoverable: the producer's ledger, the consumer's inbox, the reconciler.

The broker can lose a message it accepted: kombu's Redis transport takes a message with BRPOP and records
it as unacknowledged with a separate HSET (a crash between the two drops it), and a Redis crash inside its
fsync window loses what it had just accepted. So whatever a service hands another through the broker is
also written to the producer's ledger in PostgreSQL (``<schema>.handoffs``: the consuming task, the
message id its inbox records, the queue, the task id and the payload, which carries ids only), in the same
transaction as the producer's own progress where it has one (the relay's checkpoint). Intake's outbox is
a ledger too (``services/intake/adapters/outbox.py`` ``OutboxLedger``): its rows already hold all of that,
with the whole message as payload, and intake's own publisher sends a row again.

The consumer records each message it handled in its inbox (``<schema>.inbox``: consumer, message id), or
keeps it as a dead letter. The scheduler's ``HandoffReconciler`` looks at the ledger rows older than the
grace period: a consumed one is removed; any other is published again (same task, task id and payload)
and looked at again after twice the grace, then four times, up to ``max_wait`` (a queue that is merely
long is not flooded with copies). Every consumer is idempotent by its inbox or its own unique keys, so a
copy of a message that was only slow has no second effect.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Protocol
from uuid import UUID

from celery import Celery
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    MetaData,
    SmallInteger,
    Table,
    Text,
    and_,
    delete,
    func,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, Insert, insert
from sqlalchemy.dialects.postgresql import UUID as PgUUID  # noqa: N811
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from shared.subscriptions import RoundResult

log = logging.getLogger(__name__)


def handoff_table(metadata: MetaData) -> Table:
    """A producer's ledger: messages it handed to the broker whose consumption is not yet confirmed."""
    return Table(
        "handoffs",
        metadata,
        Column("consumer", Text, primary_key=True),
        Column("message_id", PgUUID(as_uuid=True), primary_key=True),
        Column("queue", Text, nullable=False),
        Column("task_id", Text, nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("attempts", SmallInteger, nullable=False, server_default="1"),
    )


def inbox_table(metadata: MetaData) -> Table:
    """A consumer's inbox: one row per message it handled (``consumer`` = the task's name)."""
    return Table(
        "inbox",
        metadata,
        Column("consumer", Text, primary_key=True),
        Column("message_id", PgUUID(as_uuid=True), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


@dataclass(frozen=True)
class Handoff:
    consumer: str  # the task's name, which is also the consumer named in its inbox
    message_id: UUID  # what the consumer's inbox records for this message
    queue: str
    task_id: str
    payload: dict  # the task's one argument: ids and positions, never personal data


def record(conn: Connection, ledger: Table, handoffs: Iterable[Handoff]) -> None:
    """Write hand-offs to the ledger in the caller's transaction (one already there stays as it is)."""
    rows = [
        {
            "consumer": h.consumer,
            "message_id": h.message_id,
            "queue": h.queue,
            "task_id": h.task_id,
            "payload": h.payload,
        }
        for h in handoffs
    ]
    if rows:
        conn.execute(_ledger_insert(ledger), rows)


def publish(celery: Celery, conn: Connection, ledger: Table, handoff: Handoff) -> None:
    """Hand a message to the broker and write it to the ledger (commit the caller's transaction after)."""
    celery.send_task(handoff.consumer, args=[handoff.payload], queue=handoff.queue, task_id=handoff.task_id)
    record(conn, ledger, [handoff])


def mark_consumed(engine: Engine, inbox: Table, consumer: str, message_id: UUID) -> None:
    """The consumer handled the message (or kept it as a dead letter): the reconciler will not resend it."""
    with engine.begin() as conn:
        record_consumed(conn, inbox, consumer, message_id)


def record_consumed(conn: Connection, inbox: Table, consumer: str, message_id: UUID) -> None:
    """``mark_consumed`` in the caller's transaction: a handler that records its message with the work it commits
    (``shared.service.Consumer.records_inbox``). One recorded before stays as it is."""
    conn.execute(_inbox_insert(inbox), {"consumer": consumer, "message_id": message_id})


# a ledger's and an inbox's insert, built once per table (the rows passed at execution: a statement carrying its
# values is built and its cache key computed again for each call, about 0.18 ms of CPU for a dozen columns)
@functools.cache
def _ledger_insert(ledger: Table) -> Insert:
    return insert(ledger).on_conflict_do_nothing(index_elements=["consumer", "message_id"])


@functools.cache
def _inbox_insert(inbox: Table) -> Insert:
    return insert(inbox).on_conflict_do_nothing()


@dataclass(frozen=True)
class Consumers:
    """Where the consumers of one queue say what they handled: their inbox and their dead letters."""

    inbox: Table
    dead_letters: Table


def waited(published_at: ColumnElement, attempts: ColumnElement, grace: float, max_wait: float) -> ColumnElement:
    """Published more than ``grace`` ago, and more than ``grace`` doubled per earlier publish (``attempts``
    counts them, 1 the first time), at most ``max_wait``: a queue that is merely long is not flooded."""
    wait = func.least(literal(grace) * func.power(2, func.least(attempts - 1, 30)), literal(max_wait))
    return and_(
        published_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, literal(grace)),
        published_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, wait),
    )


class Ledger(Protocol):
    """Where a producer keeps what it handed to the broker until its consumer confirms it."""

    def due(self, conn: Connection, queues: list[str], grace: float, max_wait: float, limit: int) -> Sequence[Mapping]:
        """Rows past their wait (``waited``) for these queues, oldest first, locked (skipping locked ones);
        each has at least ``consumer``, ``message_id`` and ``queue``."""

    def confirm(self, conn: Connection, keys: list[tuple[str, UUID]]) -> None:
        """The consumer handled these (consumer, message id) or kept them as dead letters: never resent."""

    def publish_again(self, conn: Connection, rows: Sequence[Mapping]) -> None:
        """Hand these to the broker once more and start their next, doubled, wait."""


@dataclass(frozen=True)
class HandoffLedger:
    """A ledger made by ``handoff_table``: a confirmed row is removed, a lost one sent again from here."""

    table: Table
    celery: Celery

    def due(self, conn: Connection, queues: list[str], grace: float, max_wait: float, limit: int) -> Sequence[Mapping]:
        t = self.table
        return (
            conn.execute(
                select(t)
                .where(t.c.queue.in_(queues), waited(t.c.published_at, t.c.attempts, grace, max_wait))
                .order_by(t.c.published_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            .mappings()
            .all()
        )

    def confirm(self, conn: Connection, keys: list[tuple[str, UUID]]) -> None:
        conn.execute(delete(self.table).where(tuple_(self.table.c.consumer, self.table.c.message_id).in_(keys)))

    def publish_again(self, conn: Connection, rows: Sequence[Mapping]) -> None:
        t = self.table
        for r in rows:
            self.celery.send_task(r["consumer"], args=[r["payload"]], queue=r["queue"], task_id=r["task_id"])
        conn.execute(
            update(t)
            .where(tuple_(t.c.consumer, t.c.message_id).in_([(r["consumer"], r["message_id"]) for r in rows]))
            .values(published_at=func.now(), attempts=func.least(t.c.attempts + 1, 32))
        )


class HandoffReconciler:
    """Publishes again what a producer handed off and its consumer never handled (see the module's text).

    ``ledger`` is the producer's record (``HandoffLedger`` for a ``handoff_table``; intake's outbox is one
    too). ``consumers`` maps each queue to the tables its consumers keep; rows for any other queue are left
    alone.
    """

    def __init__(
        self,
        name: str,
        engine: Engine,
        ledger: Ledger,
        consumers: Mapping[str, Consumers],
        *,
        grace: float,
        interval: float,
        max_wait: float = 600.0,
        batch: int = 1000,
        backlog: Callable[[str], int | None] | None = None,
    ) -> None:
        self.name, self.engine, self.ledger, self.consumers = name, engine, ledger, consumers
        self.grace, self.interval, self.max_wait, self.batch = grace, interval, max(max_wait, grace), batch
        # how many messages wait in a queue (``broker_backlog``): while its consumers are behind, a message not
        # yet consumed is most likely still waiting its turn, and copies would only lengthen the queue (the
        # chaos suite saw 2,076 copies in 9 minutes pushed into a notify queue 758 long); it is sent again once
        # the queue has drained. Unknown (None, the broker unreadable): sent again as usual.
        self.backlog = backlog

    def round(self) -> RoundResult:
        with self.engine.begin() as conn:
            rows = self.ledger.due(conn, list(self.consumers), self.grace, self.max_wait, self.batch)
            if not rows:
                return RoundResult(handled=0, more=False)
            done: set[tuple[str, UUID]] = set()
            for (queue, consumer), group in groupby(
                sorted(rows, key=lambda r: (r["queue"], r["consumer"])), key=lambda r: (r["queue"], r["consumer"])
            ):
                done |= {
                    (consumer, m)
                    for m in self._consumed(conn, self.consumers[queue], consumer, [r["message_id"] for r in group])
                }
            if done:
                self.ledger.confirm(conn, sorted(done))
            lost = [r for r in rows if (r["consumer"], r["message_id"]) not in done]
            behind = self._queues_behind({r["queue"] for r in lost})
            lost = [r for r in lost if r["queue"] not in behind]
            if lost:
                self.ledger.publish_again(conn, lost)
        if lost:
            log.warning(
                "hand-offs not consumed after the grace period published again",
                extra={"count": len(lost), "ledger": self.name, "consumers": sorted({r["consumer"] for r in lost})},
            )
        # a full batch means more are due, unless a queue held its copies back: then the next round, not at once
        return RoundResult(handled=len(lost), more=len(rows) == self.batch and not behind)

    def _queues_behind(self, queues: set[str]) -> set[str]:
        if self.backlog is None:
            return set()
        behind = {q for q in queues if (self.backlog(q) or 0) > 0}
        if behind:
            log.info(
                "hand-offs not consumed yet, their queue still busy: not published again this round",
                extra={"ledger": self.name, "queues": sorted(behind)},
            )
        return behind

    @staticmethod
    def _consumed(conn: Connection, where: Consumers, consumer: str, ids: list[UUID]) -> set[UUID]:
        inbox, dead = where.inbox, where.dead_letters
        found = set(
            conn.execute(
                select(inbox.c.message_id).where(inbox.c.consumer == consumer, inbox.c.message_id.in_(ids))
            ).scalars()
        )
        keys = [str(i) for i in ids if i not in found]
        if keys:  # kept as a dead letter: a person decides (replaying it there), the reconciler does not
            found |= {
                UUID(k)
                for k in conn.execute(
                    select(func.coalesce(dead.c.payload["message_id"].astext, dead.c.payload["event_id"].astext)).where(
                        dead.c.task == consumer,
                        or_(
                            dead.c.payload["message_id"].astext.in_(keys),
                            and_(
                                dead.c.payload["message_id"].astext.is_(None),
                                dead.c.payload["event_id"].astext.in_(keys),
                            ),
                        ),
                    )
                ).scalars()
                if k in keys
            }
        return found


def broker_backlog(celery: Celery) -> Callable[[str], int | None]:
    """Messages waiting in a queue, asked of the broker (a passive declare: Redis's list length, RabbitMQ's
    ready count); 0 for a queue the broker does not have yet, None when the broker cannot be asked."""
    from amqp.exceptions import NotFound
    from kombu.exceptions import ChannelError

    def depth(queue: str) -> int | None:
        try:
            with celery.connection_for_read() as conn:
                channel = conn.channel()
                try:
                    return channel.queue_declare(queue, passive=True).message_count
                finally:
                    with contextlib.suppress(Exception):
                        channel.close()
        except (NotFound, ChannelError):  # never declared: nothing waits
            return 0
        except Exception as exc:  # the broker away: decide without it  # noqa: BLE001
            log.info("queue depth unreadable: %s", type(exc).__name__)
            return None

    return depth
