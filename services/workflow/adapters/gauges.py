"""The workflow's scrape-time gauges (``shared.metrics.OperationsCollector``): the event store's head, the
relay's lag per subscription, and overdue steps per kecamatan."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from services.workflow.adapters.tables import checkpoints, complaints
from shared.contracts.routing import SUBSCRIPTIONS
from shared.eventstore.postgres import events
from shared.service import Gauge
from shared.subscriptions import lag_gauges
from shared.tenancy import kecamatan_table


def gauges(conn: Connection) -> list[Gauge]:
    last = conn.execute(select(func.coalesce(func.max(events.c.position), 0))).scalar_one()
    overdue = dict.fromkeys(
        conn.execute(select(kecamatan_table.c.slug).where(kecamatan_table.c.active.is_(True))).scalars(), 0
    )
    overdue.update(
        conn.execute(
            select(complaints.c.kecamatan, func.count())
            .where(
                complaints.c.status != "closed",
                or_(complaints.c.overdue_flagged.is_(True), complaints.c.step_due_at < func.now()),
            )
            .group_by(complaints.c.kecamatan)
        ).all()
    )
    return [
        Gauge("pengaduan_event_store_last_position", "Position of the newest event in the store", last),
        *lag_gauges(conn, checkpoints, [f"relay.{s.name}" for s in SUBSCRIPTIONS]),
        *(
            Gauge(
                "pengaduan_overdue_steps",
                "Open complaints whose current step is past its due time",
                n,
                {"kecamatan": slug},
            )
            for slug, n in overdue.items()
        ),
    ]
