"""Delivery receipts of our own outbound WhatsApp messages, as a Cloud API webhook reports them: recorded once
each in ``intake.channel_statuses`` and handed to notify through the outbox, in one transaction.

The message's id (``wamid.`` and base64 holding the recipient's phone number) is neither kept nor handed on: the row
and notify's task name it by its keyed hash (``shared.privacy.ProviderIdHashes``: the row by the current key's, the
task by every configured key's, so that notify finds a delivery hashed before a key rotation), and the row keeps
the status as Meta sent it without the id and the recipient's number (docs/adr/0017, decision 7).
"""

from __future__ import annotations

from uuid import UUID

from services.intake.adapters.retry import WriteRetry
from services.intake.domain import inbound as parse
from services.intake.handlers.context import Context, write_retry
from services.intake.unit_of_work import ChannelStatus
from shared.contracts.routing import DELIVERY_STATUS_TASK
from shared.privacy import provider_id_hashes

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


# what of Meta's status object is not kept: the message's id and the recipient's number
UNKEPT = ("id", "recipient_id")


def _record_statuses(intake: Context, statuses: list[parse.WhatsAppStatus], ids: list[UUID]) -> int:
    hashes = provider_id_hashes(intake.settings)
    new = 0
    with intake.uow() as uow:
        for s, status_id in zip(statuses, ids, strict=True):
            stored = hashes.hash(s.id)
            added = uow.statuses.add(
                ChannelStatus(
                    id=status_id,
                    provider=WHATSAPP_PROVIDER,
                    provider_message_hash=stored,
                    status=s.status,
                    biz_opaque_callback_data=s.biz_opaque_callback_data,
                    recipient_id=None,
                    timestamp=s.timestamp,
                    raw={k: v for k, v in s.raw.items() if k not in UNKEPT},
                )
            )
            if not added:
                if uow.statuses.id_of(stored, s.status) == status_id:  # ours: written with its outbox row by an
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
                    "provider_message_hashes": hashes.candidates(s.id),
                    "status": s.status,
                    "reference": s.biz_opaque_callback_data,
                    "at": s.timestamp.isoformat() if s.timestamp else None,
                    "error": s.error,
                },
            )
            new += 1
        uow.commit()
    return new
