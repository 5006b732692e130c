"""Delivery receipts of our own outbound WhatsApp messages, as a Cloud API webhook reports them: recorded once
each in ``intake.channel_statuses`` and handed to notify through the outbox, in one transaction.
"""

from __future__ import annotations

from uuid import UUID

from services.intake.adapters.retry import WriteRetry
from services.intake.domain import inbound as parse
from services.intake.handlers.context import Context, write_retry
from services.intake.unit_of_work import ChannelStatus
from shared.contracts.routing import DELIVERY_STATUS_TASK

STATUS_TASK, STATUS_QUEUE = DELIVERY_STATUS_TASK, "notify"  # the routing contract
STATUS_MESSAGE_TYPE = "intake.ChannelStatusReported"
WHATSAPP_PROVIDER = "whatsapp-cloud"


def record_statuses(intake: Context, statuses: list[parse.WhatsAppStatus], *, retry: WriteRetry | None = None) -> int:
    """Delivery receipts of our own outbound WhatsApp messages: one row per (message, status), and each new
    one handed to notify through the outbox. Returns how many were new. Written again over a database blip
    within ``retry``'s budget; the rows' ids are drawn before the first attempt, so a row met again under
    its own id (an attempt whose commit went unseen) still counts as new."""
    retry = retry or write_retry(intake, "WhatsApp statuses")
    ids = [intake.new_id() for _ in statuses]
    return retry.run(lambda: _record_statuses(intake, statuses, ids))


def _record_statuses(intake: Context, statuses: list[parse.WhatsAppStatus], ids: list[UUID]) -> int:
    new = 0
    with intake.uow() as uow:
        for s, status_id in zip(statuses, ids, strict=True):
            added = uow.statuses.add(
                ChannelStatus(
                    id=status_id,
                    provider=WHATSAPP_PROVIDER,
                    provider_message_id=s.id,
                    status=s.status,
                    biz_opaque_callback_data=s.biz_opaque_callback_data,
                    recipient_id=s.recipient_id,
                    timestamp=s.timestamp,
                    raw=s.raw,
                )
            )
            if not added:
                if uow.statuses.id_of(s.id, s.status) == status_id:  # ours: written with its outbox row by an
                    new += 1  # attempt that committed
                continue
            uow.outbox.put(
                id=status_id,
                message_type=STATUS_MESSAGE_TYPE,
                task=STATUS_TASK,
                queue=STATUS_QUEUE,
                payload={
                    "message_id": str(status_id),  # what notify's inbox and dead letters record
                    "provider": WHATSAPP_PROVIDER,
                    "provider_message_id": s.id,
                    "status": s.status,
                    "reference": s.biz_opaque_callback_data,
                    "at": s.timestamp.isoformat() if s.timestamp else None,
                    "error": s.error,
                },
            )
            new += 1
        uow.commit()
    return new
