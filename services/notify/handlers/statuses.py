"""A provider's delivery receipts (the WhatsApp status webhook, the SMS gateways' callbacks, received by intake
and handed on through its outbox): they only move a message forward (domain/delivery.py: ``receipt_values``)."""

from __future__ import annotations

import logging
from uuid import UUID

from sqlalchemy import select, update

from services.notify.adapters.tables import deliveries
from services.notify.bootstrap import Notify
from services.notify.domain.delivery import STATUS_ORDER, receipt_values
from services.notify.handlers.reports import report

log = logging.getLogger(__name__)


def record_status(notify: Notify, status: dict) -> bool:
    """A provider's delivery receipt (e.g. the WhatsApp status webhook that intake received)."""
    kind = status.get("status")
    if kind not in STATUS_ORDER:
        return False
    try:
        by_reference = UUID(hex=status["reference"]) if status.get("reference") else None
    except ValueError:
        by_reference = None
    now = notify.clock()
    with notify.engine.begin() as conn:
        query = select(deliveries).with_for_update()
        if by_reference:
            query = query.where(deliveries.c.id == by_reference)
        else:
            query = query.where(
                deliveries.c.provider == status.get("provider"),
                deliveries.c.provider_message_id == status.get("provider_message_id"),
            )
        row = conn.execute(query).mappings().first()
        if row is None:
            log.info("delivery receipt for a message not sent here", extra={"provider": status.get("provider")})
            return False
        values = receipt_values(kind, row, status, now)
        if values is None:
            return False
        done = (
            conn.execute(
                update(deliveries).where(deliveries.c.id == row["id"]).values(**values).returning(*deliveries.c)
            )
            .mappings()
            .one()
        )
    report(notify, dict(done))
    return True
