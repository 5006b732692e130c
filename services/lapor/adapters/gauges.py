"""The bridge's scrape-time gauges, from its own tables: reports waiting for intake or refused, follow-ups waiting
for LAPOR! or failed (each a person's work when it is not zero for long); the follower's lag behind the event store
and the events it set aside.

The lag is reported once the follower has a checkpoint (it has run: the bridge is or was on). The gauges are read by
whichever process serves /metrics, which need not have the bridge's settings, so they cannot ask whether it is on: a
deployment that never turned it on shows no lag rather than the whole store, and one that turned it off shows what
the follower will catch up with when it is turned on again."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from services.lapor.adapters.tables import checkpoints, inbox, outbox, projection_failures
from shared.projection_failures import failure_gauges
from shared.service import Gauge
from shared.subscriptions import lag_gauges

FOLLOWER = "lapor.follow-ups"  # the follower's checkpoint name (follower.FollowUps.name)


def gauges(conn: Connection) -> list[Gauge]:
    reports = dict(conn.execute(select(inbox.c.state, func.count()).group_by(inbox.c.state)).all())
    follow_ups = dict(conn.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state)).all())
    return [
        *(
            Gauge(
                "pengaduan_lapor_reports",
                "LAPOR! reports in the bridge's inbox, by state",
                reports.get(s, 0),
                {"state": s},
            )
            for s in ("received", "submitted", "refused")
        ),
        *(
            Gauge(
                "pengaduan_lapor_follow_ups",
                "Follow-ups to LAPOR! in the bridge's outbox, by state",
                follow_ups.get(s, 0),
                {"state": s},
            )
            for s in ("pending", "sent", "failed")
        ),
        *lag_gauges(conn, checkpoints, []),  # the follower's row, once it has one (above)
        *failure_gauges(conn, projection_failures, [FOLLOWER]),
    ]
