"""The bridge's commands: ``pengaduan lapor status`` (what waits, what a person must look at) and ``pengaduan lapor
retry`` (after the cause is mended: refused reports handed over again, failed follow-ups sent again, under the
same idempotency keys, so nothing doubles)."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lapor", help="the SP4N-LAPOR! bridge: status, retry")
    p.add_argument("action", choices=["status", "retry"])
    p.add_argument("--id", help="retry: only this LAPOR! tracking id (a report) or follow-up id")
    p.set_defaults(fn=run)


def run(args: argparse.Namespace) -> None:
    from shared.config import Settings
    from shared.db import make_engine

    engine = make_engine(Settings(), pool_size=1)
    try:
        if args.action == "status":
            for line in status(engine):
                print(line)
        else:
            reports, follow_ups = retry(engine, args.id)
            print(f"{reports} report(s) and {follow_ups} follow-up(s) will be tried again at the next round")
    finally:
        engine.dispose()


def status(engine) -> list[str]:
    from sqlalchemy import func, select

    from services.lapor.adapters.gauges import FOLLOWER
    from services.lapor.adapters.tables import inbox, outbox, projection_failures
    from shared.projection_failures import counts

    with engine.connect() as conn:
        [(set_aside, held)] = counts(conn, projection_failures, [FOLLOWER]).values()
        reports = dict(conn.execute(select(inbox.c.state, func.count()).group_by(inbox.c.state)).all())
        follow_ups = dict(conn.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state)).all())
        unacknowledged = conn.execute(
            select(func.count()).where(inbox.c.state == "submitted", inbox.c.acknowledged_at.is_(None))
        ).scalar_one()
        refused = conn.execute(
            select(inbox.c.tracking_id, inbox.c.kecamatan, inbox.c.attempts, inbox.c.last_error)
            .where(inbox.c.state == "refused")
            .order_by(inbox.c.received_at)
        ).all()
        failed = conn.execute(
            select(outbox.c.id, outbox.c.complaint_id, outbox.c.kind, outbox.c.attempts, outbox.c.last_error)
            .where(outbox.c.state == "failed")
            .order_by(outbox.c.created_at)
        ).all()
    lines = [
        "reports: "
        + ", ".join(f"{s} {reports.get(s, 0)}" for s in ("received", "submitted", "refused"))
        + f" (not yet acknowledged to LAPOR!: {unacknowledged})",
        "follow-ups: " + ", ".join(f"{s} {follow_ups.get(s, 0)}" for s in ("pending", "sent", "failed")),
        f"events the follower set aside: {set_aside} (and {held} held behind them; tried again at its start)",
    ]
    lines += [f"refused report {r.tracking_id} ({r.kecamatan}, {r.attempts} tries): {r.last_error}" for r in refused]
    lines += [
        f"failed follow-up {f.id} ({f.kind} of complaint {f.complaint_id}, {f.attempts} tries): {f.last_error}"
        for f in failed
    ]
    return lines


def retry(engine, only: str | None = None) -> tuple[int, int]:
    from sqlalchemy import String, cast, func, update

    from services.lapor.adapters.tables import inbox, outbox

    with engine.begin() as conn:
        reports = update(inbox).where(inbox.c.state == "refused")
        follow_ups = update(outbox).where(outbox.c.state == "failed")
        if only:
            reports = reports.where(inbox.c.tracking_id == only)
            follow_ups = follow_ups.where(cast(outbox.c.id, String) == only)
        fresh = {"attempts": 0, "next_attempt_at": func.now()}
        a = conn.execute(reports.values(state="received", **fresh)).rowcount
        b = conn.execute(follow_ups.values(state="pending", **fresh)).rowcount
    return a, b
