"""Intake's periodic jobs, run by the scheduler process (one active instance each, by advisory lock).

- ``OutboxReconciler``: a message the broker accepted can still be lost (a Redis crash within its fsync
  window, a crash between kombu's BRPOP and its unacked record). Intake sees the effect it expects, the
  complaint in its tracking projection; a complaint published over the grace period ago
  (``PENGADUAN_RECONCILE_GRACE_SECONDS``, 30 s) and still not there is published again. The workflow's
  inbox makes that harmless when the first copy did arrive (the projection was merely late).
- ``OutboxCleanup``: published rows whose complaint reached the workflow are removed after a week (other
  messages, replies and delivery statuses, a week after they were published); the outbox is a delivery
  buffer, not history (the history is the event store).
"""
from __future__ import annotations

import logging

from sqlalchemy import Engine, and_, delete, exists, func, literal, or_, select, text, update

from services.intake.adapters.outbox import NOTIFY_CHANNEL
from services.intake.adapters.tables import outbox, submissions, tracking
from shared.subscriptions import RoundResult

log = logging.getLogger(__name__)


def _arrived():
    return exists(
        select(1)
        .select_from(submissions.join(tracking, tracking.c.complaint_id == submissions.c.complaint_id))
        .where(submissions.c.id == outbox.c.id)
    )


class OutboxReconciler:
    """Complaints published ``grace_seconds`` ago and not yet in the tracking projection are published again
    (``PENGADUAN_RECONCILE_GRACE_SECONDS``), looked for every ``interval`` seconds
    (``PENGADUAN_RECONCILE_INTERVAL_SECONDS``). Each time a complaint is published again its grace doubles (at
    most ``MAX_GRACE_SECONDS``): a workflow or a projection that is only behind is not flooded with copies."""

    MAX_GRACE_SECONDS = 600.0

    name = "scheduler.outbox-reconciler"

    def __init__(self, engine: Engine, grace_seconds: float = 30.0, interval: float = 10.0) -> None:
        self.engine = engine
        self.interval = interval
        self.grace_seconds = float(grace_seconds)

    def round(self) -> RoundResult:
        with self.engine.begin() as conn:
            again = conn.execute(
                update(outbox)
                .where(
                    and_(
                        outbox.c.published_at.is_not(None),
                        outbox.c.published_at < func.now() - func.make_interval(
                            0, 0, 0, 0, 0, 0,
                            func.least(literal(self.grace_seconds) * func.power(2, outbox.c.republished),
                                       literal(self.MAX_GRACE_SECONDS)),
                        ),
                        outbox.c.message_type == "intake.ComplaintReceived",
                        ~_arrived(),
                    )
                )
                .values(published_at=None, republished=outbox.c.republished + 1,
                        last_error="published again: not in the workflow after the grace period")
            ).rowcount
            if again:
                conn.execute(select(func.pg_notify(NOTIFY_CHANNEL, "")))
        if again:
            log.warning("outbox messages published again", extra={"count": again})
        return RoundResult(handled=again, more=False)


class OutboxCleanup:
    name = "scheduler.outbox-cleanup"
    interval = 3600.0

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def round(self) -> RoundResult:
        with self.engine.begin() as conn:
            removed = conn.execute(
                delete(outbox).where(
                    outbox.c.published_at.is_not(None),
                    outbox.c.published_at < func.now() - text("interval '7 days'"),
                    # a complaint once it reached the workflow; replies and delivery statuses once published
                    or_(outbox.c.message_type != "intake.ComplaintReceived", _arrived()),
                )
            ).rowcount
        if removed:
            log.info("published outbox rows removed", extra={"count": removed})
        return RoundResult(handled=removed, more=False)
