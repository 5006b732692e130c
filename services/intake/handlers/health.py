"""The outbox's health: how far its publisher is behind (the API's ``/healthz``)."""

from __future__ import annotations

from sqlalchemy import func, select

from services.intake.adapters.tables import outbox
from services.intake.bootstrap import Intake

OUTBOX_STUCK_AFTER_S = 60


def outbox_health(intake: Intake) -> dict:
    """How far the outbox is behind: unpublished messages and the age of the oldest. A message waiting
    over a minute means the relay or the broker is not doing its job."""
    with intake.engine.connect() as conn:
        row = conn.execute(
            select(func.count(), func.extract("epoch", func.now() - func.min(outbox.c.created_at))).where(
                outbox.c.published_at.is_(None)
            )
        ).one()
    waiting, oldest = row[0], float(row[1] or 0)
    return {"ok": oldest < OUTBOX_STUCK_AFTER_S, "waiting": waiting, "oldest_seconds": round(oldest, 1)}
