"""Intake's scrape-time gauges (``shared.metrics.OperationsCollector``): the outbox's backlog and the
tracking projection's lag."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from services.intake.adapters.tables import checkpoints, outbox
from services.intake.adapters.tracking import TrackingProjection
from shared.service import Gauge
from shared.subscriptions import lag_gauges


def gauges(conn: Connection) -> list[Gauge]:
    waiting, oldest = conn.execute(
        select(func.count(), func.extract("epoch", func.now() - func.min(outbox.c.created_at))).where(
            outbox.c.published_at.is_(None)
        )
    ).one()
    return [
        *lag_gauges(conn, checkpoints, [TrackingProjection.name]),
        Gauge("pengaduan_intake_outbox_waiting", "Intake outbox messages not yet published", waiting),
        Gauge(
            "pengaduan_intake_outbox_oldest_waiting_seconds",
            "Age of the oldest unpublished outbox message (0 when none waits)",
            float(oldest or 0),
        ),
    ]
