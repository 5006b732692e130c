"""Sending one message exactly once over at-least-once delivery.

Each message is a row in ``notify.deliveries`` whose id is its idempotency key (source event, kind,
channel, recipient). A send goes through these states::

    pending --claim--> sending --provider accepted--> sent --delivery receipt--> delivered
                          |--transient error--> pending (next_attempt_at: backoff with jitter) ... failed
                          |--permanent error--> failed
                          '--worker died--> (lease runs out) reconcile: ask the provider by our reference
                                              found: sent | never got it: pending | cannot tell: unknown

- the claim (``pending`` to ``sending``) is one UPDATE under the row lock: of five copies of a task
  running at once, one sends and four see ``sending`` and stop;
- the provider call happens outside any transaction; its outcome is written only if our claim still
  holds (``sending_since`` unchanged), so a late worker cannot overwrite a reconciliation;
- once the provider has answered, only the write is retried (a database blip must not turn a message the
  provider took into ``unknown``): for ``notify_outcome_write_seconds`` at most (within the task's time
  limit), then the answer is handed on as a ``notify.record_outcome`` task that a worker writes when the
  database is back (and logged with the provider's reference); an answer that lands after a
  reconciliation left the row ``unknown`` still settles it;
- a ``sending`` row whose lease ran out is never sent again blindly: the provider is asked first
  (``Channel.lookup``), and a provider that cannot tell leaves it ``unknown`` for a person to decide;
- transient failures come back after ``base * 2^(attempt-1)`` seconds (capped, times 0.5-1.5 jitter);
  after ``notify_max_attempts`` the message is ``failed``. The scheduler's sweeps re-enqueue due rows,
  rows whose task was lost, and reports the broker did not take;
- every end state of a message to the complainant is reported to the workflow (``NotificationReport``,
  one id per delivery and state), which puts it on the complaint's history.
"""
from __future__ import annotations

import logging
import random
import re
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import OperationalError

from services.notify.adapters.channels.base import (
    NOT_FOUND,
    Attachment,
    OutboundMessage,
    OutcomeUnknownError,
    PermanentSendError,
    SendResult,
    TransientSendError,
)
from services.notify.adapters.channels.registry import mask_recipient
from services.notify.adapters.tables import deliveries, handoffs
from services.notify.bootstrap import Notify
from services.notify.domain.templates import VARIABLES
from shared.contracts.notify import NotificationReport
from shared.handoffs import Handoff, record
from shared.storage import DocumentNotFound
from shared.tasks import TRANSIENT, safe_error

log = logging.getLogger(__name__)
T = TypeVar("T")

SEND_TASK = "notify.send"
OUTCOME_TASK = "notify.record_outcome"
TERMINAL = ("sent", "delivered", "failed", "unknown")
REPORT_NAMESPACE = uuid.UUID("72657075-7274-2d6e-6f74-696679000000")
ENQUEUE_GRACE = timedelta(seconds=60)  # a row enqueued but not yet claimed is enqueued again after this


def enqueue_send(notify: Notify, delivery_id: UUID, attempt: int) -> None:
    notify.celery.send_task(
        SEND_TASK, args=[{"delivery_id": str(delivery_id)}], queue="notify", task_id=f"notify-send:{delivery_id}:{attempt}"
    )


def backoff(notify: Notify, attempts: int) -> timedelta:
    s = notify.settings
    pause = min(s.notify_retry_max_seconds, s.notify_retry_base_seconds * 2 ** max(0, attempts - 1))
    return timedelta(seconds=pause * (0.5 + random.random()))


def send_delivery(notify: Notify, delivery_id: UUID) -> str:
    """Send one message if it is still to be sent; returns the state it is left in."""
    now = notify.clock()
    lease = timedelta(seconds=notify.settings.notify_sending_lease_seconds)
    with notify.engine.begin() as conn:
        row = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id).with_for_update()).mappings().first()
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
            conn.execute(
                update(deliveries).where(deliveries.c.id == delivery_id).values(
                    state="sending", sending_since=now, updated_at=now,
                    attempts=row["attempts"] if reconcile else row["attempts"] + 1,
                )
            )
    if row["state"] in TERMINAL:
        if unreported:
            report(notify, dict(row))
        return row["state"]
    claim = {**row, "state": "sending", "sending_since": now, "attempts": row["attempts"] + (0 if reconcile else 1)}
    if reconcile:
        return _reconcile(notify, claim)
    return _send(notify, claim)


def _send(notify: Notify, row: dict) -> str:
    channel = notify.channels.get(row["channel"])
    if channel is None:
        return _finish(notify, row, "failed", error=f"saluran {row['channel']} tidak dikonfigurasi di layanan ini")
    try:
        message = _outbound(notify, row)
    except DocumentNotFound:
        return _finish(notify, row, "failed", error="dokumen lampiran tidak ditemukan di penyimpanan")
    except Exception as exc:  # the document store is away or broken: nothing was sent, try later (bounded)
        return _retry_later(notify, row, safe_error(exc))
    try:
        result = channel.send(message)
    except TransientSendError as exc:
        return _retry_later(notify, row, str(exc))
    except OutcomeUnknownError as exc:  # it may have gone out: ask the provider before anything else
        return _reconcile(notify, row, lost=str(exc))
    except PermanentSendError as exc:
        return _finish(notify, row, "failed", error=str(exc), provider=exc.provider)
    except Exception as exc:  # we cannot know whether the provider took it: not sent again blindly
        log.exception("unexpected failure during a send", extra={"delivery_id": str(row["id"])})
        return _finish(notify, row, "unknown", error=safe_error(exc))
    return _finish(notify, row, "sent", provider=result.provider, provider_message_id=result.provider_message_id)


def _reconcile(notify: Notify, row: dict, lost: str | None = None) -> str:
    """The outcome of a send was lost (its worker died during the call, or the answer never came): ask the
    provider, never just send again."""
    channel = notify.channels.get(row["channel"])
    found: SendResult | None = None
    if channel is not None:
        try:
            found = channel.lookup(row["id"].hex)
        except Exception as exc:
            log.warning("lookup failed during reconciliation: %s", safe_error(exc))
    log.warning("reconciling a send whose outcome was lost", extra={"delivery_id": str(row["id"]), "found": bool(found)})
    if found is None:
        why = lost or "proses terhenti saat mengirim"
        return _finish(notify, row, "unknown", error=f"hasil pengiriman tidak diketahui ({why}); periksa sebelum mengirim ulang")
    if found.detail == NOT_FOUND:  # the provider never got it: sending again is the first send
        return _send(notify, row) if lost is None else _retry_later(notify, row, lost)
    return _finish(notify, row, "sent", provider=found.provider, provider_message_id=found.provider_message_id)


def _retry_later(notify: Notify, row: dict, error: str) -> str:
    if row["attempts"] >= notify.settings.notify_max_attempts:
        return _finish(notify, row, "failed", error=f"gagal setelah {row['attempts']} percobaan: {error}")
    now = notify.clock()
    values = dict(state="pending", next_attempt_at=now + backoff(notify, row["attempts"]), last_error=error[:500],
                  sending_since=None, enqueued_at=None, updated_at=now)

    def write(conn) -> None:
        conn.execute(update(deliveries).where(*_our_claim(row)).values(**values))

    _write_retried(notify, write)
    log.info("transient send failure; retried later", extra={"delivery_id": str(row["id"]), "attempts": row["attempts"]})
    return "pending"


def _our_claim(row: dict):
    return deliveries.c.id == row["id"], deliveries.c.state == "sending", deliveries.c.sending_since == row["sending_since"]


def _write_window(notify: Notify) -> float:
    """How long a write after the provider's answer is retried: the setting, but never more than a quarter
    of the task's soft time limit (the provider call and the rest of the task need the remainder)."""
    soft_limit = max(1, int(notify.settings.task_time_limit * 0.75))
    return min(notify.settings.notify_outcome_write_seconds, soft_limit / 4)


def _write_retried(notify: Notify, write: Callable[..., T], window: float | None = None) -> T:
    """Run ``write(conn)`` in a transaction, again after a database blip (backoff with jitter) until
    ``window`` seconds have passed; a lock wait counts against the window too (``lock_timeout``)."""
    deadline = time.monotonic() + (_write_window(notify) if window is None else window)
    pause = 0.1
    while True:
        try:
            with notify.engine.begin() as conn:
                left_ms = int((deadline - time.monotonic()) * 1000)
                conn.execute(select(func.set_config("lock_timeout", f"{max(left_ms, 100)}ms", True)))
                return write(conn)
        except OperationalError as exc:
            wait = pause * (0.5 + random.random())
            if time.monotonic() + wait > deadline:
                raise
            log.warning("database blip while recording a send; retrying the write: %s", safe_error(exc))
            time.sleep(wait)
            pause = min(pause * 2, 2.0)


def _outcome_values(state: str, at: datetime, error: str | None, provider: str | None,
                    provider_message_id: str | None) -> dict:
    values = {"state": state, "updated_at": at, "sending_since": None, "last_error": error[:500] if error else None}
    if provider:
        values["provider"] = provider
    if state == "sent":
        values.update(sent_at=at, provider_message_id=provider_message_id)
    return values


def _record(conn, row: dict, state: str, values: dict) -> RowMapping | None:
    """Write an outcome if our claim still holds; None when another worker took the claim over."""
    done = conn.execute(update(deliveries).where(*_our_claim(row)).values(**values).returning(*deliveries.c)).mappings().first()
    if done is None and state in ("sent", "failed"):
        # our claim was taken over (the lease ran out) and reconciled as unknown: what the provider
        # told us settles it
        done = conn.execute(
            update(deliveries).where(deliveries.c.id == row["id"], deliveries.c.state == "unknown")
            .values(**values).returning(*deliveries.c)
        ).mappings().first()
    return done


def _finish(notify: Notify, row: dict, state: str, *, error: str | None = None, provider: str | None = None,
            provider_message_id: str | None = None) -> str:
    at = notify.clock()
    values = _outcome_values(state, at, error, provider, provider_message_id)
    try:
        done = _write_retried(notify, lambda conn: _record(conn, row, state, values))
    except OperationalError as exc:
        _hand_on(notify, row, state, at, error, provider, provider_message_id, exc)
        return state
    return _recorded(notify, row["id"], state, done)


def _recorded(notify: Notify, delivery_id: UUID, state: str, done: RowMapping | None) -> str:
    if done is None:  # our claim was taken over (lease ran out and another worker reconciled)
        log.warning("send outcome arrived after the claim was taken over", extra={"delivery_id": str(delivery_id), "state": state})
        return state
    log.info("notification %s", state, extra={"delivery_id": str(delivery_id), "channel": done["channel"], "kind": done["kind"]})
    report(notify, dict(done))
    return state


def _hand_on(notify: Notify, row: dict, state: str, at: datetime, error: str | None, provider: str | None,
             provider_message_id: str | None, cause: OperationalError) -> None:
    """The database stayed away longer than the write window: the provider's answer goes to the queue as a
    task of its own (written when the database is back), never back through the send. If the broker will
    not take it either, the log line is what a person settles the message by."""
    ids = {"delivery_id": str(row["id"]), "state": state, "provider": provider, "provider_message_id": provider_message_id}
    message = {**ids, "sending_since": row["sending_since"].isoformat(), "at": at.isoformat(), "error": error}
    try:
        notify.celery.send_task(OUTCOME_TASK, args=[message], queue="notify",
                                task_id=f"notify-outcome:{row['id']}:{row['sending_since'].isoformat()}")
    except Exception as exc:
        log.error("provider's answer could not be recorded nor queued (database: %s; broker: %s)",
                  safe_error(cause), safe_error(exc), extra=ids)
        raise cause from None
    log.error("provider's answer not recorded (database: %s); queued as %s", safe_error(cause), OUTCOME_TASK, extra=ids)


def record_outcome(notify: Notify, message: dict) -> str:
    """A provider's answer that its send could not write (``_hand_on``): written now, or handed back to the
    broker by the worker's retry rules while the database is still away."""
    row = {"id": UUID(message["delivery_id"]), "sending_since": datetime.fromisoformat(message["sending_since"])}
    state = message["state"]
    values = _outcome_values(state, datetime.fromisoformat(message["at"]), message.get("error"), message.get("provider"),
                             message.get("provider_message_id"))
    done = _write_retried(notify, lambda conn: _record(conn, row, state, values))
    return _recorded(notify, row["id"], state, done)


def _outbound(notify: Notify, row: dict) -> OutboundMessage:
    attachment = None
    if row["attachment"]:
        a = row["attachment"]
        attachment = Attachment(a["filename"], a["content_type"], notify.documents.get(a["sha256"]))
    template = notify.settings.whatsapp_templates.get(row["kind"]) if row["channel"] == "whatsapp" else None
    return OutboundMessage(
        channel=row["channel"], to=row["recipient"], text=row["body"], reference=row["id"].hex, subject=row["subject"],
        attachment=attachment, attachment_url=row["link"] if row["channel"] == "whatsapp" and attachment is None else None,
        template=template,
        template_params=tuple((row["variables"] or {}).get(name, "") for name in VARIABLES.get(row["kind"], ())) if template else (),
    )


def report(notify: Notify, row: dict) -> None:
    """Tell the workflow what became of a message to the complainant (messages to staff stay here)."""
    state = row["state"]
    sent: list[Handoff] = []
    if row["audience"] == "complainant":
        message = NotificationReport(
            message_id=uuid.uuid5(REPORT_NAMESPACE, f"{row['id']}:{state}"), delivery_id=row["id"],
            complaint_id=row["complaint_id"], kecamatan=row["kecamatan"], source_event_id=row["source_event_id"],
            kind=row["kind"], channel=row["channel"], recipient=mask_recipient(row["recipient"]) if row["recipient"] else "-",
            state=state, provider=row["provider"], provider_message_id=row["provider_message_id"],
            error=_public_error(row["last_error"]) if state in ("failed", "unknown") else None, at=row["updated_at"],
        )
        sent.append(Handoff(consumer=NotificationReport.TASK, message_id=message.message_id, queue=NotificationReport.QUEUE,
                            task_id=f"notification-report:{message.message_id}", payload=message.model_dump(mode="json")))
        notify.celery.send_task(sent[0].consumer, args=[sent[0].payload], queue=sent[0].queue, task_id=sent[0].task_id)
    with notify.engine.begin() as conn:
        record(conn, handoffs, sent)  # notify.handoffs: sent again should the broker lose it
        conn.execute(update(deliveries).where(deliveries.c.id == row["id"], deliveries.c.state == state).values(reported_state=state))


_CONTACT = re.compile(r"\+?\d[\d\s-]{6,}\d|[\w.+-]+@[\w-]+(\.[\w-]+)+")


def _public_error(error: str | None) -> str | None:
    """An error as events may carry it: providers' texts can repeat the number or address."""
    return _CONTACT.sub("***", error)[:300] if error else error


STATUS_ORDER = {"sent": 1, "delivered": 2, "read": 2, "failed": 3}


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
            query = query.where(deliveries.c.provider == status.get("provider"),
                                deliveries.c.provider_message_id == status.get("provider_message_id"))
        row = conn.execute(query).mappings().first()
        if row is None:
            log.info("delivery receipt for a message not sent here", extra={"provider": status.get("provider")})
            return False
        values: dict = {"updated_at": now, "sending_since": None}
        if kind in ("delivered", "read") and row["state"] in ("sending", "sent", "unknown"):
            values.update(state="delivered", delivered_at=now)
        elif kind == "sent" and row["state"] in ("sending", "unknown"):
            values.update(state="sent", sent_at=now)
        elif kind == "failed" and row["state"] in ("sending", "sent", "unknown"):
            values.update(state="failed", last_error=(status.get("error") or "gagal terkirim menurut penyedia")[:500])
        else:
            return False
        if status.get("provider_message_id") and not row["provider_message_id"]:
            values["provider_message_id"] = status["provider_message_id"]
        values.setdefault("provider", status.get("provider") or row["provider"])
        done = conn.execute(update(deliveries).where(deliveries.c.id == row["id"]).values(**values).returning(*deliveries.c)).mappings().one()
    report(notify, dict(done))
    return True
