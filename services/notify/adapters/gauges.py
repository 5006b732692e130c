"""Notify's scrape-time gauges (``shared.metrics.OperationsCollector``): its messages by state; the news of new work's
lag behind the event store and the events it set aside."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from services.notify.adapters.tables import checkpoints, deliveries, projection_failures
from shared.projection_failures import failure_gauges
from shared.service import Gauge
from shared.subscriptions import lag_gauges

NEW_WORK = "notify.new-work"  # the round's checkpoint name (services/notify/new_work.py: NewWorkRounds.name)

DELIVERY_STATES = (
    "pending",
    "sending",
    "sent",
    "delivered",
    "failed",
    "unknown",
)  # services/notify/domain/delivery.py: STATES


def gauges(conn: Connection) -> list[Gauge]:
    states = dict.fromkeys(DELIVERY_STATES, 0) | dict(
        conn.execute(select(deliveries.c.state, func.count()).group_by(deliveries.c.state)).all()
    )
    return [
        *(
            Gauge("pengaduan_notify_deliveries", "Notify's messages by state", n, {"state": state})
            for state, n in states.items()
        ),
        *lag_gauges(conn, checkpoints, [NEW_WORK]),
        *failure_gauges(conn, projection_failures, [NEW_WORK]),
    ]
