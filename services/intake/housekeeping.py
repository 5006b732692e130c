"""Intake housekeeping, run by the scheduler process (one active instance, by advisory lock).

Published outbox rows older than a week are removed: the outbox is a delivery buffer, not history (the
history is the event store). The SLA jobs of the workflow join the scheduler with the SOP steps.
"""
from __future__ import annotations

import logging

from sqlalchemy import Engine, delete, func, text

from services.intake.adapters.tables import outbox
from shared.subscriptions import RoundResult

log = logging.getLogger(__name__)


class Housekeeping:
    name = "scheduler.housekeeping"
    interval = 3600.0
    keep = text("interval '7 days'")

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def round(self) -> RoundResult:
        with self.engine.begin() as conn:
            removed = conn.execute(
                delete(outbox).where(outbox.c.published_at.is_not(None), outbox.c.published_at < func.now() - self.keep)
            ).rowcount
        if removed:
            log.info("outbox housekeeping", extra={"removed": removed})
        return RoundResult(handled=removed, more=False)
