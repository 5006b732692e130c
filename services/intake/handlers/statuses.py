"""Delivery receipts of our own outbound WhatsApp messages, as a Cloud API webhook reports them: recorded once
each in ``intake.channel_statuses`` and handed to notify through the outbox, in one transaction.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from services.intake.adapters.outbox import put
from services.intake.adapters.retry import WriteRetry
from services.intake.adapters.tables import channel_statuses
from services.intake.bootstrap import Intake
from services.intake.domain import inbound as parse
from services.intake.handlers.submissions import write_retry
from shared.contracts.routing import DELIVERY_STATUS_TASK

STATUS_TASK, STATUS_QUEUE = DELIVERY_STATUS_TASK, "notify"  # the routing contract
STATUS_MESSAGE_TYPE = "intake.ChannelStatusReported"
WHATSAPP_PROVIDER = "whatsapp-cloud"


def record_statuses(intake: Intake, statuses: list[parse.WhatsAppStatus], *, retry: WriteRetry | None = None) -> int:
    """Delivery receipts of our own outbound WhatsApp messages: one row per (message, status), and each new
    one handed to notify through the outbox. Returns how many were new. Written again over a database blip
    within ``retry``'s budget; the rows' ids are drawn before the first attempt, so a row met again under
    its own id (an attempt whose commit went unseen) still counts as new."""
    retry = retry or write_retry(intake, "WhatsApp statuses")
    ids = [intake.new_id() for _ in statuses]
    return retry.run(lambda: _record_statuses(intake, statuses, ids))


def _record_statuses(intake: Intake, statuses: list[parse.WhatsAppStatus], ids: list[UUID]) -> int:
    new = 0
    with intake.engine.begin() as conn:
        for s, status_id in zip(statuses, ids, strict=True):
            inserted = conn.execute(
                insert(channel_statuses)
                .values(
                    id=status_id,
                    provider=WHATSAPP_PROVIDER,
                    provider_message_id=s.id,
                    status=s.status,
                    biz_opaque_callback_data=s.biz_opaque_callback_data,
                    recipient_id=s.recipient_id,
                    timestamp=s.timestamp,
                    raw=s.raw,
                )
                .on_conflict_do_nothing(index_elements=["provider_message_id", "status"])
                .returning(channel_statuses.c.id)
            ).first()
            if inserted is None:
                existing = conn.execute(
                    select(channel_statuses.c.id).where(
                        channel_statuses.c.provider_message_id == s.id, channel_statuses.c.status == s.status
                    )
                ).scalar()
                if existing == status_id:  # ours: written with its outbox row by an attempt that committed
                    new += 1
                continue
            put(
                conn,
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
    return new
