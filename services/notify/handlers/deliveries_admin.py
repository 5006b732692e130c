"""A person's commands for the messages notify could not settle (``pengaduan deliveries list|resend|mark-sent``):
list them, send one again, or record that one did arrive (after asking the complainant)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select, update

from services.notify.adapters.channels.registry import mask_recipient
from services.notify.adapters.tables import deliveries
from services.notify.bootstrap import Notify
from services.notify.handlers.reports import report
from services.notify.handlers.sending import enqueue_send


def list_deliveries(
    notify: Notify, state: str | None = None, complaint_id: UUID | None = None, limit: int = 100
) -> list[dict]:
    query = select(deliveries).order_by(deliveries.c.updated_at.desc()).limit(limit)
    if state:
        query = query.where(deliveries.c.state == state)
    if complaint_id:
        query = query.where(deliveries.c.complaint_id == complaint_id)
    with notify.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        {
            "id": r["id"],
            "state": r["state"],
            "kind": r["kind"],
            "channel": r["channel"],
            "recipient": mask_recipient(r["recipient"]) if r["recipient"] else "-",
            "attempts": r["attempts"],
            "complaint_id": r["complaint_id"],
            "updated_at": r["updated_at"],
            "error": r["last_error"],
        }
        for r in rows
    ]


def resend(notify: Notify, delivery_id: UUID) -> bool:
    """A person decided to send a ``failed`` or ``unknown`` message again: it becomes pending with fresh
    attempts, and its send is enqueued. Returns False if it was in no such state."""
    now = notify.clock()
    with notify.engine.begin() as conn:
        done = conn.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery_id, deliveries.c.state.in_(("failed", "unknown")))
            .values(
                state="pending",
                attempts=0,
                next_attempt_at=now,
                enqueued_at=now,
                sending_since=None,
                last_error=None,
                updated_at=now,
                reported_state=None,
            )
            .returning(deliveries.c.id)
        ).first()
    if done:
        enqueue_send(notify, delivery_id, 0)
    return bool(done)


def mark_sent(notify: Notify, delivery_id: UUID) -> bool:
    """An ``unknown`` message the complainant confirms having received: recorded as sent (and reported:
    for the letter, that closes step 12)."""
    now = notify.clock()
    with notify.engine.begin() as conn:
        row = (
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id, deliveries.c.state == "unknown")
                .values(state="sent", sent_at=now, updated_at=now, last_error=None, provider="manual")
                .returning(*deliveries.c)
            )
            .mappings()
            .first()
        )
    if row:
        report(notify, dict(row))
    return bool(row)
