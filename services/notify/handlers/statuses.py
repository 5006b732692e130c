"""A provider's delivery receipts (the WhatsApp status webhook, the SMS gateways' callbacks, received by intake
and handed on through its outbox): they only move a message forward (domain/delivery.py: ``receipt_values``).

A receipt names its message by our reference when the provider echoes it (WhatsApp's ``biz_opaque_callback_data``),
else by the provider's id, which intake hands on only as its keyed hashes (``provider_message_hashes``: a WhatsApp
id holds the recipient's phone number; docs/adr/0017, decision 7). A receipt handed on before migration 0025 still
carries the id itself: it is hashed here and not kept."""

from __future__ import annotations

import logging
from uuid import UUID

from services.notify.domain.delivery import STATUS_ORDER, receipt_values
from services.notify.handlers.context import Context
from services.notify.handlers.reports import report
from shared.privacy import provider_id_hashes

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
    hashes = _hashes(notify, status)
    status = {**status, "provider_message_hash": hashes[0] if hashes else None}
    now = notify.clock()
    with notify.uow() as uow:
        if by_reference:
            row = uow.deliveries.get(by_reference, lock=True)
        else:
            row = uow.deliveries.by_provider(status.get("provider"), hashes, lock=True)
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


def _hashes(notify: Context, status: dict) -> list[str]:
    """The keyed hashes naming the receipt's message: as intake handed them on, or of the id a receipt handed on
    before them carried."""
    given = status.get("provider_message_hashes")
    if isinstance(given, list):
        return [h for h in given if isinstance(h, str) and h]
    raw = status.get("provider_message_id")
    return provider_id_hashes(notify.settings).candidates(raw) if isinstance(raw, str) and raw else []
