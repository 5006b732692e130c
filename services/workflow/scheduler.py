"""The workflow's periodic jobs, run by the scheduler process (one active instance each, advisory lock).

Deadlines live in PostgreSQL (``workflow.complaints.step_due_at``, ``documents_close_after``), never as
broker countdowns; these jobs look for the ones that passed. The hand-off reconcilers (what the relay, letters or
notify handed to the broker and its consumer never handled) are built by the composition root from every
service's declaration (pengaduan/registry.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from services.workflow import handlers
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


class LapsedReferrals:
    """Closes as referred the complaints whose receiving office did not answer by the follow-up time."""

    name = "scheduler.lapsed-referrals"
    interval = 300.0

    def __init__(self, ctx: handlers.Context, clock: Callable[[], datetime] = _now) -> None:
        self.ctx, self.clock = ctx, clock

    def round(self) -> RoundResult:
        closed = handlers.close_expired_referrals(self.ctx, self.clock())
        return RoundResult(handled=closed, more=closed >= 200)


class Retention:
    """Erases the personal data of closed complaints whose kabupaten's retention period has passed (issue #17
    item 3; ``handlers.erase_past_retention``); each erasure is on record in ``privacy.requests``. Hourly: a day
    late is within any archive schedule, and a round that finds nothing is one indexed query."""

    name = "scheduler.retention"
    interval = 3600.0

    def __init__(self, ctx: handlers.Context, clock: Callable[[], datetime] = _now) -> None:
        self.ctx, self.clock = ctx, clock

    def round(self) -> RoundResult:
        report = handlers.erase_past_retention(self.ctx, self.clock())
        return RoundResult(handled=len(report.erased), more=report.due >= 200 and bool(report.erased))
