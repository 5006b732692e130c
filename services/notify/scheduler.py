"""Notify's periodic jobs, run by the scheduler process (one active instance each, advisory lock).

Retries, lost tasks and lost reports live in PostgreSQL (``notify.deliveries``), never as broker
countdowns; these jobs find the ones that are due.
"""

from __future__ import annotations

from datetime import timedelta

from services.notify.domain.delivery import ENQUEUE_GRACE, TERMINAL
from services.notify.handlers.context import Context
from services.notify.handlers.reports import report
from services.notify.handlers.sending import enqueue_send
from shared.subscriptions import RoundResult

BATCH = 500


class DueDeliveries:
    """Pending messages whose next attempt is due (a retry after a transient failure) or whose task was
    published over ``ENQUEUE_GRACE`` ago and not taken (the broker lost it): enqueued (again)."""

    name = "notify.due-deliveries"

    def __init__(self, notify: Context, interval: float = 5.0) -> None:
        self.notify, self.interval = notify, interval

    def round(self) -> RoundResult:
        now = self.notify.clock()
        with self.notify.uow() as uow:
            rows = uow.deliveries.take_due(now, ENQUEUE_GRACE, BATCH)
            uow.commit()
        for row in rows:
            enqueue_send(self.notify, row["id"], row["attempts"])
        return RoundResult(handled=len(rows), more=len(rows) == BATCH)


class StaleSends:
    """Sends whose worker died mid-call (the lease ran out): enqueued so that a worker reconciles them."""

    name = "notify.stale-sends"

    def __init__(self, notify: Context, interval: float = 30.0) -> None:
        self.notify, self.interval = notify, interval

    def round(self) -> RoundResult:
        lease = timedelta(seconds=self.notify.settings.notify_sending_lease_seconds)
        with self.notify.uow() as uow:
            rows = uow.deliveries.stale(self.notify.clock() - lease, BATCH)
        for row in rows:
            enqueue_send(self.notify, row["id"], row["attempts"])
        return RoundResult(handled=len(rows), more=False)


class UnreportedOutcomes:
    """End states the workflow was not told of (the broker refused the report): reported again."""

    name = "notify.unreported"

    def __init__(self, notify: Context, interval: float = 30.0, settle: timedelta = timedelta(seconds=30)) -> None:
        self.notify, self.interval, self.settle = notify, interval, settle

    def round(self) -> RoundResult:
        with self.notify.uow() as uow:
            rows = uow.deliveries.unreported(TERMINAL, self.notify.clock() - self.settle, BATCH)
        for row in rows:
            report(self.notify, row)
        return RoundResult(handled=len(rows), more=len(rows) == BATCH)
