"""Publishes intake's outbox to the broker: at least once, in creation order, retried until it goes out.

With the broker down the rows simply wait (intake still answers 202); they go out when it returns. The
outbox is also the ledger of what intake handed to other services (``OutboxLedger``, shared/handoffs.py):
a published message its consumer never handled is made unpublished again, and this publisher resends it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from uuid import UUID

from amqp.exceptions import AMQPError, MessageNacked
from celery import Celery
from kombu.exceptions import KombuError
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError
from sqlalchemy import Engine, Integer, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.engine import Connection

from services.intake.adapters.tables import outbox
from shared.contracts.intake import ComplaintSubmitted
from shared.handoffs import waited
from shared.subscriptions import RoundResult

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "pengaduan_intake_outbox"
# Redis or RabbitMQ away, a channel closed by RabbitMQ, a publish it refused (nack, with confirms on): the rows
# wait for a later round
BROKER_ERRORS = (KombuError, KombuOperationalError, RedisError, AMQPError, MessageNacked, ConnectionError, OSError)


def wake_publisher(conn: Connection) -> None:
    """NOTIFY the publisher (delivered at commit, once per transaction however often it is called)."""
    conn.execute(select(func.pg_notify(NOTIFY_CHANNEL, "")))


# a round's statements, built once (every round, and an idle publisher polls every second): the next rows not yet
# published, locked (another publisher skips them), and those that went out marked
_UNPUBLISHED = (
    select(outbox.c.id, outbox.c.task, outbox.c.queue, outbox.c.payload)
    .where(outbox.c.published_at.is_(None))
    .order_by(outbox.c.created_at)
    .limit(bindparam("limit", type_=Integer))
    .with_for_update(skip_locked=True)
)
_PUBLISHED = (
    update(outbox)
    .where(outbox.c.id == any_(bindparam("ids", type_=ARRAY(PG_UUID(as_uuid=True)))))
    .values(published_at=bindparam("at"))
)


class OutboxPublisher:
    name = "intake.outbox"

    def __init__(self, engine: Engine, celery: Celery, batch_size: int = 500) -> None:
        self.engine = engine
        self.celery = celery
        self.batch_size = batch_size

    def round(self) -> RoundResult:
        published = 0
        failure: Exception | None = None
        with self.engine.begin() as conn:
            rows = conn.execute(_UNPUBLISHED, {"limit": self.batch_size}).all()
            try:
                for row in rows:
                    self.celery.send_task(
                        row.task,
                        args=[row.payload],
                        queue=row.queue,
                        task_id=str(row.id),
                        argsrepr="(<personal data hidden>)",
                        retry=True,
                        retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2},
                    )
                    published += 1
            except BROKER_ERRORS as exc:
                # the rows not yet marked stay unpublished and go out on a later round
                log.warning("broker unavailable, %d outbox rows wait: %s", len(rows) - published, exc)
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id.in_([r.id for r in rows[published:]]))
                    .values(attempts=outbox.c.attempts + 1, last_error=str(exc)[:500])
                )
                failure = exc
            if published:  # one statement for the rows that went out (the broker has them), in the rows' lock
                conn.execute(_PUBLISHED, {"ids": [r.id for r in rows[:published]], "at": datetime.now(UTC)})
        if failure is not None:  # after the commit: what went out stays marked, the runner backs off
            raise BrokerUnavailable(str(failure)) from failure
        return RoundResult(handled=published, more=len(rows) == self.batch_size)


class BrokerUnavailable(Exception):
    pass


class OutboxLedger:
    """The outbox read as a hand-off ledger (``shared.handoffs.Ledger``) for every message but the complaint
    itself, which ``scheduler.OutboxReconciler`` follows by its effect (the tracking projection).

    A row's consumer is its task, its message id the row's id (what the consumer's inbox must record: the
    workflow records a reply's ``message_id``, which is that id), and ``republished`` counts the times it
    was sent again. Confirmed rows are removed: a reply stays in ``inbound_messages`` and the workflow's
    history, a delivery status in ``channel_statuses``. A lost one is made unpublished again, so this
    module's publisher sends it once more, with its task id, its hidden arguments and its broker-down
    handling.
    """

    def due(self, conn: Connection, queues: list[str], grace: float, max_wait: float, limit: int) -> Sequence[Mapping]:
        return (
            conn.execute(
                select(outbox.c.task.label("consumer"), outbox.c.id.label("message_id"), outbox.c.queue)
                .where(
                    outbox.c.message_type != ComplaintSubmitted.type,
                    outbox.c.published_at.is_not(None),
                    outbox.c.queue.in_(queues),
                    waited(outbox.c.published_at, outbox.c.republished + 1, grace, max_wait),
                )
                .order_by(outbox.c.published_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            .mappings()
            .all()
        )

    def confirm(self, conn: Connection, keys: list[tuple[str, UUID]]) -> None:
        conn.execute(outbox.delete().where(outbox.c.id.in_([message_id for _, message_id in keys])))

    def publish_again(self, conn: Connection, rows: Sequence[Mapping]) -> None:
        conn.execute(
            update(outbox)
            .where(outbox.c.id.in_([r["message_id"] for r in rows]))
            .values(
                published_at=None,
                republished=outbox.c.republished + 1,
                last_error="published again: not consumed after the grace period",
            )
        )
        wake_publisher(conn)
