"""Notify's periodic jobs, run by the scheduler process (one active instance each, advisory lock).

Retries, lost tasks and lost reports live in PostgreSQL (``notify.deliveries``), never as broker
countdowns; these jobs find the ones that are due.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, or_, select, update

from services.notify.adapters.tables import deliveries
from services.notify.bootstrap import Notify
from services.notify.domain.delivery import ENQUEUE_GRACE, TERMINAL
from services.notify.handlers.reports import report
from services.notify.handlers.sending import enqueue_send
from shared.subscriptions import RoundResult

BATCH = 500


class DueDeliveries:
    """Pending messages whose next attempt is due (a retry after a transient failure) or whose task was
    published over ``ENQUEUE_GRACE`` ago and not taken (the broker lost it): enqueued (again)."""

    name = "notify.due-deliveries"

    def __init__(self, notify: Notify, interval: float = 5.0) -> None:
        self.notify, self.interval = notify, interval

    def round(self) -> RoundResult:
        now = self.notify.clock()
        with self.notify.engine.begin() as conn:
            due = (
                select(deliveries.c.id)
                .where(
                    deliveries.c.state == "pending",
                    deliveries.c.next_attempt_at <= now,
                    or_(deliveries.c.enqueued_at.is_(None), deliveries.c.enqueued_at < now - ENQUEUE_GRACE),
                )
                .order_by(deliveries.c.next_attempt_at)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
            rows = conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(due.scalar_subquery()))
                .values(enqueued_at=now)
                .returning(deliveries.c.id, deliveries.c.attempts)
            ).all()
        for row in rows:
            enqueue_send(self.notify, row.id, row.attempts)
        return RoundResult(handled=len(rows), more=len(rows) == BATCH)


class StaleSends:
    """Sends whose worker died mid-call (the lease ran out): enqueued so that a worker reconciles them."""

    name = "notify.stale-sends"

    def __init__(self, notify: Notify, interval: float = 30.0) -> None:
        self.notify, self.interval = notify, interval

    def round(self) -> RoundResult:
        lease = timedelta(seconds=self.notify.settings.notify_sending_lease_seconds)
        with self.notify.engine.connect() as conn:
            rows = conn.execute(
                select(deliveries.c.id, deliveries.c.attempts)
                .where(deliveries.c.state == "sending", deliveries.c.sending_since < self.notify.clock() - lease)
                .limit(BATCH)
            ).all()
        for row in rows:
            enqueue_send(self.notify, row.id, row.attempts)
        return RoundResult(handled=len(rows), more=False)


class UnreportedOutcomes:
    """End states the workflow was not told of (the broker refused the report): reported again."""

    name = "notify.unreported"

    def __init__(self, notify: Notify, interval: float = 30.0, settle: timedelta = timedelta(seconds=30)) -> None:
        self.notify, self.interval, self.settle = notify, interval, settle

    def round(self) -> RoundResult:
        with self.notify.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(deliveries)
                    .where(
                        deliveries.c.state.in_(TERMINAL),
                        and_(deliveries.c.reported_state.is_distinct_from(deliveries.c.state)),
                        deliveries.c.updated_at < self.notify.clock() - self.settle,
                    )
                    .limit(BATCH)
                )
                .mappings()
                .all()
            )
        for row in rows:
            report(self.notify, dict(row))
        return RoundResult(handled=len(rows), more=len(rows) == BATCH)
