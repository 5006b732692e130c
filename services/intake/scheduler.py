"""Intake's periodic jobs, run by the scheduler process (one active instance each, by advisory lock).

- ``OutboxReconciler``: a message the broker accepted can still be lost (a Redis crash within its fsync
  window, a crash between kombu's BRPOP and its unacked record). Intake sees the effect it expects, the
  complaint in its tracking projection; a complaint published over the grace period ago
  (``PENGADUAN_RECONCILE_GRACE_SECONDS``, 30 s) and still not there is published again. The workflow's
  inbox makes that harmless when the first copy did arrive (the projection was merely late).
- ``outbox_handoffs``: every other message (a complainant's reply, a provider's delivery status) has no
  effect intake can see, so the outbox is read as a hand-off ledger (shared/handoffs.py) against its
  consumer's inbox and dead letters, which the composition root passes in by queue: not there after the
  grace, published again (the grace doubling each time); there, removed from the outbox.
- ``OutboxCleanup``: published rows whose complaint reached the workflow are removed after a week; other
  messages a week after they were published when no reconciler follows their queue (a reconciled one is
  removed once consumed, and kept, sent again now and then, until then). The outbox is a delivery buffer,
  not history (the history is the event store).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping

from sqlalchemy import Engine, String, Table, and_, cast, delete, exists, func, or_, select, text, update

from services.intake.adapters.outbox import OutboxLedger, wake_publisher
from services.intake.adapters.tables import outbox, submissions, tracking
from shared.contracts.intake import ComplaintSubmitted
from shared.handoffs import Consumers, HandoffReconciler, waited
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

    def __init__(
        self, engine: Engine, grace_seconds: float = 30.0, interval: float = 10.0, dead_letters: Table | None = None
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.grace_seconds = float(grace_seconds)
        # the workflow's dead letters (the composition root passes them): a complaint kept there never reaches
        # the tracking projection, and is a person's to replay, not the reconciler's to resend every 10 minutes
        self.dead_letters = dead_letters

    def round(self) -> RoundResult:
        with self.engine.begin() as conn:
            again = conn.execute(
                update(outbox)
                .where(
                    and_(
                        outbox.c.published_at.is_not(None),
                        # the same doubling wait as the hand-off ledgers, its exponent capped (no overflow
                        # after a thousand republishes of a complaint that never arrives)
                        waited(
                            outbox.c.published_at, outbox.c.republished + 1, self.grace_seconds, self.MAX_GRACE_SECONDS
                        ),
                        outbox.c.message_type == ComplaintSubmitted.type,
                        ~_arrived(),
                        *self._not_dead_lettered(),
                    )
                )
                .values(
                    published_at=None,
                    republished=outbox.c.republished + 1,
                    last_error="published again: not in the workflow after the grace period",
                )
            ).rowcount
            if again:
                wake_publisher(conn)
        if again:
            log.warning("outbox messages published again", extra={"count": again})
        return RoundResult(handled=again, more=False)

    def _not_dead_lettered(self) -> list:
        if self.dead_letters is None:
            return []
        kept = self.dead_letters
        return [
            ~exists(
                select(1)
                .select_from(kept)
                .where(
                    kept.c.payload["submission_id"].astext == cast(outbox.c.id, String), kept.c.replayed_at.is_(None)
                )
            )
        ]


def outbox_handoffs(
    engine: Engine,
    consumers: Mapping[str, Consumers],
    grace_seconds: float = 30.0,
    interval: float = 10.0,
    backlog: Callable[[str], int | None] | None = None,
) -> HandoffReconciler:
    """Intake's messages other than the complaint, reconciled against their consumers (by queue: the tables
    the consumers of that queue keep; a queue left out is not followed). Waits as ``OutboxReconciler``."""
    return HandoffReconciler(
        "scheduler.outbox-handoffs",
        engine,
        OutboxLedger(),
        consumers,
        grace=grace_seconds,
        interval=interval,
        max_wait=OutboxReconciler.MAX_GRACE_SECONDS,
        backlog=backlog,
    )


class OutboxCleanup:
    """Removes published rows a week on: a complaint once it reached the workflow; another message only when
    its queue is not in ``reconciled`` (those ``outbox_handoffs`` removes once consumed)."""

    name = "scheduler.outbox-cleanup"
    interval = 3600.0

    def __init__(self, engine: Engine, reconciled: Collection[str] = ()) -> None:
        self.engine = engine
        self.reconciled = list(reconciled)

    def round(self) -> RoundResult:
        complaint = outbox.c.message_type == ComplaintSubmitted.type
        with self.engine.begin() as conn:
            removed = conn.execute(
                delete(outbox).where(
                    outbox.c.published_at.is_not(None),
                    outbox.c.published_at < func.now() - text("interval '7 days'"),
                    or_(and_(complaint, _arrived()), and_(~complaint, outbox.c.queue.not_in(self.reconciled))),
                )
            ).rowcount
        if removed:
            log.info("published outbox rows removed", extra={"count": removed})
        return RoundResult(handled=removed, more=False)
