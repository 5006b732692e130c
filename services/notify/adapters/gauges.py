"""Notify's scrape-time gauges (``shared.metrics.OperationsCollector``): its messages by state."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from services.notify.adapters.tables import deliveries
from shared.service import Gauge

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
        Gauge("pengaduan_notify_deliveries", "Notify's messages by state", n, {"state": state})
        for state, n in states.items()
    ]
