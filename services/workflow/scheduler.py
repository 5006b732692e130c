"""The workflow's periodic jobs, run by the scheduler process (one active instance each, advisory lock).

Deadlines live in PostgreSQL (``workflow.complaints.step_due_at``, ``documents_close_after``), never as
broker countdowns; these jobs look for the ones that passed. The hand-off reconcilers publish again what
the relay (or letters, or notify) handed to the broker and its consumer never handled (shared/handoffs.py).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import ModuleType

from celery import Celery
from sqlalchemy import Engine

from services.workflow import handlers
from shared.handoffs import Consumers, HandoffLedger, HandoffReconciler, broker_backlog
from shared.subscriptions import RoundResult


def _now() -> datetime:
    return datetime.now(UTC)


class OverdueSteps:
    """Appends ``StepOverdue`` once per overdue step; the relay hands it to the notify queue, which tells
    the responsible role and its superior."""

    name = "scheduler.overdue-steps"
    interval = 60.0

    def __init__(self, ctx: handlers.Context, clock: Callable[[], datetime] = _now) -> None:
        self.ctx, self.clock = ctx, clock

    def round(self) -> RoundResult:
        flagged = handlers.flag_overdue_steps(self.ctx, self.clock())
        return RoundResult(handled=flagged, more=flagged >= 200)


class ExpiredDocumentRequests:
    """Closes as incomplete the complaints whose complainant did not send the requested documents."""

    name = "scheduler.expired-document-requests"
    interval = 300.0

    def __init__(self, ctx: handlers.Context, clock: Callable[[], datetime] = _now) -> None:
        self.ctx, self.clock = ctx, clock

    def round(self) -> RoundResult:
        closed = handlers.close_expired_document_requests(self.ctx, self.clock())
        return RoundResult(handled=closed, more=closed >= 200)


def handoff_reconcilers(engine: Engine, celery: Celery, services: Mapping[str, ModuleType], grace: float,
                        interval: float) -> list[HandoffReconciler]:
    """One reconciler per producer's ledger (the relay's ``workflow.handoffs``, ``letters.handoffs``,
    ``notify.handoffs``), each checked against the inbox and dead letters of the queue's consumer.
    ``services`` maps each queue to the tables module of the service that consumes it (the composition
    root passes them: the workflow imports no other service); each has ``handoffs``, ``inbox`` and
    ``dead_letters``. A queue whose consumers are behind gets no copies until it drains (``broker_backlog``)."""
    consumers = {queue: Consumers(t.inbox, t.dead_letters) for queue, t in services.items()}
    backlog = broker_backlog(celery)
    return [
        HandoffReconciler(f"scheduler.handoffs.{producer}", engine, HandoffLedger(t.handoffs, celery), consumers,
                          grace=grace, interval=interval, backlog=backlog)
        for producer, t in services.items()
    ]
