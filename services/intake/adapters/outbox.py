"""Publishes intake's outbox to the broker: at least once, in creation order, retried until it goes out.

With the broker down the rows simply wait (intake still answers 202); they go out when it returns.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime

from celery import Celery
from kombu.exceptions import KombuError, OperationalError as KombuOperationalError
from redis.exceptions import RedisError
from sqlalchemy import Engine, select, update

from services.intake.adapters.tables import outbox
from shared.subscriptions import RoundResult

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "pengaduan_intake_outbox"
BROKER_ERRORS = (KombuError, KombuOperationalError, RedisError, ConnectionError, OSError)


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
            rows = conn.execute(
                select(outbox.c.id, outbox.c.task, outbox.c.queue, outbox.c.payload)
                .where(outbox.c.published_at.is_(None))
                .order_by(outbox.c.created_at)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            ).all()
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
                    conn.execute(
                        update(outbox).where(outbox.c.id == row.id).values(published_at=datetime.now(UTC))
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
        if failure is not None:  # after the commit: what went out stays marked, the runner backs off
            raise BrokerUnavailable(str(failure)) from failure
        return RoundResult(handled=published, more=len(rows) == self.batch_size)


class BrokerUnavailable(Exception):
    pass
