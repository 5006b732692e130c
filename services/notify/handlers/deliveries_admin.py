"""A person's commands for the messages notify could not settle (``pengaduan deliveries list|resend|mark-sent``):
list them, send one again, or record that one did arrive (after asking the complainant). A message whose
complainant's personal data was erased is listed (without it) but never sent again (domain/erasure.py)."""

from __future__ import annotations

from uuid import UUID

from services.notify.adapters.channels.registry import mask_recipient
from services.notify.domain.erasure import ERASED_RECIPIENT, is_erased
from services.notify.handlers.context import Context
from services.notify.handlers.reports import report
from services.notify.handlers.sending import enqueue_send


def list_deliveries(
    notify: Context, state: str | None = None, complaint_id: UUID | None = None, limit: int = 100
) -> list[dict]:
    with notify.uow() as uow:
        rows = uow.deliveries.listing(state=state, complaint_id=complaint_id, limit=limit)
    return [
        {
            "id": r["id"],
            "state": r["state"],
            "kind": r["kind"],
            "channel": r["channel"],
            "recipient": _shown(r["recipient"]),
            "attempts": r["attempts"],
            "complaint_id": r["complaint_id"],
            "updated_at": r["updated_at"],
            "error": r["last_error"],
        }
        for r in rows
    ]


def _shown(recipient: str | None) -> str:
    if recipient == ERASED_RECIPIENT:
        return recipient
    return mask_recipient(recipient) if recipient else "-"


def resend(notify: Context, delivery_id: UUID) -> bool:
    """A person decided to send a ``failed`` or ``unknown`` message again: it becomes pending with fresh
    attempts, and its send is enqueued. Returns False if it was in no such state, or its complainant's personal
    data was erased (there is no one to send it to)."""
    now = notify.clock()
    with notify.uow() as uow:
        row = uow.deliveries.get(delivery_id, lock=True)
        if row is None or is_erased(row):
            return False
        done = uow.deliveries.update(
            delivery_id,
            {
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "enqueued_at": now,
                "sending_since": None,
                "last_error": None,
                "updated_at": now,
                "reported_state": None,
            },
            states=("failed", "unknown"),
        )
        uow.commit()
    if done:
        enqueue_send(notify, delivery_id, 0)
    return bool(done)


def mark_sent(notify: Context, delivery_id: UUID) -> bool:
    """An ``unknown`` message the complainant confirms having received: recorded as sent (and reported:
    for the letter, that closes step 12)."""
    now = notify.clock()
    with notify.uow() as uow:
        row = uow.deliveries.update(
            delivery_id,
            {"state": "sent", "sent_at": now, "updated_at": now, "last_error": None, "provider": "manual"},
            states=("unknown",),
        )
        uow.commit()
    if row:
        report(notify, row)
    return bool(row)
