"""What became of a message to the complainant, told to the workflow: a ``NotificationReport`` per end state,
written to notify's hand-off ledger so that a report the broker lost is sent again (ADR 0013, 6)."""

from __future__ import annotations

import logging

from services.notify.adapters.channels.registry import mask_recipient
from services.notify.domain.delivery import public_error, report_id
from services.notify.domain.erasure import REPORT_RECIPIENT, is_erased
from services.notify.handlers.context import Context
from shared.contracts.notify import NotificationReport
from shared.handoffs import Handoff
from shared.tasks import safe_error

log = logging.getLogger(__name__)


def report(notify: Context, row: dict) -> None:
    """Tell the workflow what became of a message to the complainant (messages to staff stay here)."""
    state = row["state"]
    sent = handoffs_of(row)
    for handoff in sent:
        notify.celery.send_task(handoff.consumer, args=[handoff.payload], queue=handoff.queue, task_id=handoff.task_id)
    with notify.uow() as uow:
        uow.handoffs.record(sent)  # notify.handoffs: sent again should the broker lose it
        uow.deliveries.update(row["id"], {"reported_state": state}, states=(state,))
        uow.commit()


def handoffs_of(row: dict) -> list[Handoff]:
    """The report of a row's state (its end state, as written), as a hand-off to the workflow; none for a message to
    staff."""
    if row["audience"] != "complainant":
        return []
    state = row["state"]
    message = NotificationReport(
        message_id=report_id(row["id"], state),
        delivery_id=row["id"],
        complaint_id=row["complaint_id"],
        kecamatan=row["kecamatan"],
        source_event_id=row["source_event_id"],
        kind=row["kind"],
        channel=row["channel"],
        recipient=mask_recipient(row["recipient"]) if row["recipient"] and not is_erased(row) else REPORT_RECIPIENT,
        state=state,
        provider=row["provider"],
        provider_message_id=row["provider_message_id"],  # None once erased; the workflow seals it
        provider_message_hash=row["provider_message_hash"],
        error=public_error(row["last_error"]) if state in ("failed", "unknown") else None,
        at=row["updated_at"],
    )
    return [
        Handoff(
            consumer=NotificationReport.TASK,
            message_id=message.message_id,
            queue=NotificationReport.QUEUE,
            task_id=f"notification-report:{message.message_id}",
            payload=message.model_dump(mode="json"),
        )
    ]


def publish_recorded(notify: Context, handoffs: list[Handoff]) -> None:
    """Publish reports already in the hand-off ledger (committed with the outcome they report): a broker that will
    not take one now leaves it to the ledger's reconciler, which publishes what the workflow's inbox lacks."""
    for handoff in handoffs:
        try:
            notify.celery.send_task(
                handoff.consumer, args=[handoff.payload], queue=handoff.queue, task_id=handoff.task_id
            )
        except Exception as exc:  # noqa: BLE001
            log.warning(
                "report not published now; the hand-off reconciler publishes it: %s",
                safe_error(exc),
                extra={"task_id": handoff.task_id},
            )
