"""A provider's delivery receipts (the WhatsApp status webhook, the SMS gateways' callbacks, received by intake
and handed on through its outbox): they only move a message forward (domain/delivery.py: ``receipt_values``)."""

from __future__ import annotations

import logging
from uuid import UUID

from services.notify.domain.delivery import STATUS_ORDER, receipt_values
from services.notify.handlers.context import Context
from services.notify.handlers.reports import report

log = logging.getLogger(__name__)


def record_status(notify: Context, status: dict) -> bool:
    """A provider's delivery receipt (e.g. the WhatsApp status webhook that intake received)."""
    kind = status.get("status")
    if kind not in STATUS_ORDER:
        return False
    try:
        by_reference = UUID(hex=status["reference"]) if status.get("reference") else None
    except ValueError:
        by_reference = None
    now = notify.clock()
    with notify.uow() as uow:
        if by_reference:
            row = uow.deliveries.get(by_reference, lock=True)
        else:
            row = uow.deliveries.by_provider(status.get("provider"), status.get("provider_message_id"), lock=True)
        if row is None:
            log.info("delivery receipt for a message not sent here", extra={"provider": status.get("provider")})
            return False
        values = receipt_values(kind, row, status, now)
        if values is None:
            return False
        done = uow.deliveries.update(row["id"], values)
        uow.commit()
    if done is None:  # the row is locked: it cannot have gone
        raise LookupError(f"delivery {row['id']} vanished while locked")
    report(notify, done)
    return True
