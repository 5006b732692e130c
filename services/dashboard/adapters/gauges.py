"""The dashboard's scrape-time gauges (``shared.metrics.OperationsCollector``): each projection's lag, as
``pengaduan_subscription_lag_events`` (the family of the relay's subscriptions and intake's tracking projection,
so one alert watches every reader of the store), and the events each one set aside
(``pengaduan_projection_failures``, ``pengaduan_projection_held_events``: shared.projection_failures)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from services.dashboard.adapters import tables as t
from services.dashboard.adapters.projections import ComplaintsProjection, ServiceRequestsProjection
from shared.projection_failures import failure_gauges
from shared.service import Gauge
from shared.subscriptions import lag_gauges

PROJECTIONS = (ComplaintsProjection.name, ServiceRequestsProjection.name)

# the live projections' checkpoints only: a rebuild's copies (``<name>__next``) climb from 0 while it runs and
# one left by a failed rebuild never moves; as subscriptions they would look far behind (``pengaduan projections
# rebuild`` reports a rebuild's progress)
_LIVE = select(t.checkpoints.c.name, t.checkpoints.c.position).where(t.checkpoints.c.name.in_(PROJECTIONS)).subquery()


def gauges(conn: Connection) -> list[Gauge]:
    return [*lag_gauges(conn, _LIVE, PROJECTIONS), *failure_gauges(conn, t.projection_failures, PROJECTIONS)]
