"""Intake's scrape-time gauges (``shared.metrics.OperationsCollector``): the outbox's backlog, the tracking
projection's lag and the events it set aside (docs/adr/0015)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from services.intake.adapters.tables import checkpoints, outbox
from services.intake.adapters.tracking import TrackingProjection, projection_failures
from shared.projection_failures import failure_gauges
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
        *failure_gauges(conn, projection_failures, [TrackingProjection.name]),
        Gauge("pengaduan_intake_outbox_waiting", "Intake outbox messages not yet published", waiting),
        Gauge(
            "pengaduan_intake_outbox_oldest_waiting_seconds",
            "Age of the oldest unpublished outbox message (0 when none waits)",
            float(oldest or 0),
        ),
    ]
