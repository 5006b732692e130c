"""Sending one message exactly once (ADR 0013, 2-5): the claim under the row lock, one provider call outside
any transaction, a lost outcome reconciled by asking the provider, transient failures retried later from
PostgreSQL (never by the broker)."""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from uuid import UUID

from services.notify.adapters.channels.base import (
    NOT_FOUND,
    Attachment,
    OutboundMessage,
    OutcomeUnknownError,
    PermanentSendError,
    SendResult,
    TransientSendError,
)
from services.notify.domain.delivery import TERMINAL, backoff
from services.notify.domain.erasure import NOT_SENT, is_erased
from services.notify.domain.templates import whatsapp_parameters
from services.notify.handlers.context import Context
from services.notify.handlers.outcomes import finish, write_retried
from services.notify.handlers.reports import report
from shared.storage import DocumentNotFound
from shared.tasks import safe_error

log = logging.getLogger(__name__)

SEND_TASK = "notify.send"


def enqueue_send(notify: Context, delivery_id: UUID, attempt: int) -> None:
    notify.celery.send_task(
        SEND_TASK,
        args=[{"delivery_id": str(delivery_id)}],
        queue="notify",
        task_id=f"notify-send:{delivery_id}:{attempt}",
    )


def send_delivery(notify: Context, delivery_id: UUID) -> str:
    """Send one message if it is still to be sent; returns the state it is left in."""
    now = notify.clock()
    lease = timedelta(seconds=notify.settings.notify_sending_lease_seconds)
    with notify.uow() as uow:
        row = uow.deliveries.get(delivery_id, lock=True)
        if row is None:
            raise LookupError(f"no delivery {delivery_id}")
        if row["state"] in TERMINAL:
            unreported = row["reported_state"] != row["state"]
        elif row["state"] == "sending" and row["sending_since"] + lease > now:
            return "sending"  # another worker holds the claim
        elif row["state"] == "pending" and row["attempts"] > 0 and row["next_attempt_at"] > now:
            return "pending"  # an early copy of the task (a redelivery, a re-enqueue): the backoff holds
        else:
            reconcile = row["state"] == "sending"
            uow.deliveries.update(
                delivery_id,
                {
                    "state": "sending",
                    "sending_since": now,
                    "updated_at": now,
                    "attempts": row["attempts"] if reconcile else row["attempts"] + 1,
                },
            )
            uow.commit()
    if row["state"] in TERMINAL:
        if unreported:
            report(notify, row)
        return row["state"]
    claim = {**row, "state": "sending", "sending_since": now, "attempts": row["attempts"] + (0 if reconcile else 1)}
    if reconcile:
        return _reconcile(notify, claim)
    return _send(notify, claim)


def send_claimed(notify: Context, row: dict) -> str:
    """Send a row its caller claimed (``sending`` with its ``sending_since``, committed): planning writes an
    acknowledgment claimed in the plan's transaction (handlers/planning.py ``_write``)."""
    return _send(notify, row)


def _send(notify: Context, row: dict) -> str:
    if is_erased(row):  # claimed after its complainant's personal data was erased: no one to send it to
        return finish(notify, row, "failed", error=NOT_SENT)
    channel = notify.channels.get(row["channel"])
    if channel is None:
        return finish(notify, row, "failed", error=f"saluran {row['channel']} tidak dikonfigurasi di layanan ini")
    try:
        message = _outbound(notify, row)
    except DocumentNotFound:
        return finish(notify, row, "failed", error="dokumen lampiran tidak ditemukan di penyimpanan")
    except Exception as exc:  # the document store is away or broken: nothing was sent, try later (bounded)
        log.warning("message not built, tried again later", exc_info=True, extra={"delivery_id": str(row["id"])})
        return _retry_later(notify, row, safe_error(exc))
    try:
        result = channel.send(message)
    except TransientSendError as exc:
        return _retry_later(notify, row, str(exc))
    except OutcomeUnknownError as exc:  # it may have gone out: ask the provider before anything else
        return _reconcile(notify, row, lost=str(exc))
    except PermanentSendError as exc:
        return finish(notify, row, "failed", error=str(exc), provider=exc.provider)
    except Exception as exc:  # we cannot know whether the provider took it: not sent again blindly
        log.exception("unexpected failure during a send", extra={"delivery_id": str(row["id"])})
        return finish(notify, row, "unknown", error=safe_error(exc))
    return finish(notify, row, "sent", provider=result.provider, provider_message_id=result.provider_message_id)


def _reconcile(notify: Context, row: dict, lost: str | None = None) -> str:
    """The outcome of a send was lost (its worker died during the call, or the answer never came): ask the
    provider, never just send again."""
    channel = notify.channels.get(row["channel"])
    found: SendResult | None = None
    if channel is not None:
        try:
            found = channel.lookup(row["id"].hex)
        except Exception as exc:  # noqa: BLE001
            log.warning("lookup failed during reconciliation: %s", safe_error(exc))
    log.warning(
        "reconciling a send whose outcome was lost", extra={"delivery_id": str(row["id"]), "found": bool(found)}
    )
    if found is None:
        why = lost or "proses terhenti saat mengirim"
        return finish(
            notify, row, "unknown", error=f"hasil pengiriman tidak diketahui ({why}); periksa sebelum mengirim ulang"
        )
    if found.detail == NOT_FOUND:  # the provider never got it: sending again is the first send
        return _send(notify, row) if lost is None else _retry_later(notify, row, lost)
    return finish(notify, row, "sent", provider=found.provider, provider_message_id=found.provider_message_id)


def _retry_later(notify: Context, row: dict, error: str) -> str:
    if row["attempts"] >= notify.settings.notify_max_attempts:
        return finish(notify, row, "failed", error=f"gagal setelah {row['attempts']} percobaan: {error}")
    now = notify.clock()
    s = notify.settings
    values = dict(
        state="pending",
        next_attempt_at=now
        + backoff(row["attempts"], s.notify_retry_base_seconds, s.notify_retry_max_seconds, random.random()),
        last_error=error[:500],
        sending_since=None,
        enqueued_at=None,
        updated_at=now,
    )

    write_retried(
        notify,
        lambda uow: uow.deliveries.update(row["id"], values, states=("sending",), sending_since=row["sending_since"]),
    )
    log.info(
        "transient send failure; retried later", extra={"delivery_id": str(row["id"]), "attempts": row["attempts"]}
    )
    return "pending"


def _outbound(notify: Context, row: dict) -> OutboundMessage:
    attachment = None
    if row["attachment"]:
        a = row["attachment"]
        attachment = Attachment(a["filename"], a["content_type"], notify.documents.get(a["sha256"]))
    template = notify.settings.whatsapp_templates.get(row["kind"]) if row["channel"] == "whatsapp" else None
    return OutboundMessage(
        channel=row["channel"],
        to=row["recipient"],
        text=row["body"],
        reference=row["id"].hex,
        subject=row["subject"],
        attachment=attachment,
        attachment_url=row["link"] if row["channel"] == "whatsapp" and attachment is None else None,
        template=template,
        template_params=_template_params(row) if template else (),
    )


def _template_params(row: dict) -> tuple[str, ...]:
    """An approved template's body parameters: the kind's variables in order, on one line (the Cloud API refuses
    a parameter with a line break, a tab or more than four spaces in a row, as a typed answer or reason may
    hold), "-" for one left empty (a referral answered without a reference, an office without an address: it
    refuses an empty parameter too)."""
    variables = row["variables"] or {}
    return tuple(" ".join((variables.get(name) or "").split()) or "-" for name in whatsapp_parameters(row["kind"]))
