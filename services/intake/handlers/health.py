"""The outbox's health: how far its publisher is behind (the API's ``/healthz``)."""

from __future__ import annotations

from services.intake.handlers.context import Context

OUTBOX_STUCK_AFTER_S = 60


def outbox_health(intake: Context) -> dict:
    """How far the outbox is behind: unpublished messages and the age of the oldest. A message waiting
    over a minute means the relay or the broker is not doing its job."""
    with intake.uow() as uow:
        waiting, oldest = uow.outbox.backlog()
    return {"ok": oldest < OUTBOX_STUCK_AFTER_S, "waiting": waiting, "oldest_seconds": round(oldest, 1)}
