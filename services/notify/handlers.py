"""What notify does with each message on its queue (the handler table: ``entrypoints/worker.py``) and with
each command of a person (``cli.py``), in three parts.

**Planning** (``plan_event``, ``escalate``): which messages each event of the workflow calls for.

To the complainant (on their own channel, see domain/plan.py): the acknowledgment with the tracking
code and the receipt link (``ComplaintReceived``), the request for documents (step 2), the referral
notice (step 4), the signed letter (step 12: ``ResponseDispatched``; by e-mail with the PDF attached,
by SMS and WhatsApp with its verification link), and the closure as incomplete, rejected or withdrawn.

To staff: the new work waiting on their role, for those who asked for it (``notify_new_work``), and
overdue alerts (``StepOverdue``) to the responsible role and its superior, always: recorded in
``notify.escalations`` (one row per event and user) and sent to those with a contact.

Planning writes the delivery rows (one per message: a redelivered event adds nothing) and makes each
first attempt at once; retries go through the queue. The sending part makes every send happen once.

**Sending** (``send_delivery``, ``record_outcome``, ``record_status``): one message exactly once over
at-least-once delivery.

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

**A person's commands** (``pengaduan deliveries ...``, ``pengaduan templates ...``): the messages notify could
not settle (list them, send one again, or record that one did arrive, after asking the complainant); the
message templates, edited for a kabupaten's every kecamatan (``*``) or for one kecamatan (checked before they
are stored: it renders with the kind's variables, an e-mail one has a subject; a warning says when an SMS
would no longer fit one segment).
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar
from uuid import UUID

from sqlalchemy import Engine, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
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
from services.notify.adapters.tables import deliveries, escalations, handoffs, templates
from services.notify.bootstrap import Notify
from services.notify.domain import plan as p
from services.notify.domain.templates import DEFAULTS, VARIABLES, Template, validate
from shared.contracts import sop
from shared.contracts.notify import NotificationReport
from shared.contracts.workflow import (
    ClosedIncomplete,
    ComplaintReceived,
    ComplaintReferred,
    ComplaintWithdrawn,
    DispositionIssued,
    DocumentsReceived,
    DocumentsRequested,
    IdentityRejected,
    LetterIssued,
    ResponseDispatched,
    StepCompleted,
    StepOverdue,
)
from shared.events import EventEnvelope
from shared.handoffs import Handoff, record
from shared.ratelimit import RateLimiter, RateLimitUnavailable, limiter_for, parse_limits
from shared.staff_directory import staff_directory
from shared.storage import DocumentNotFound
from shared.tasks import safe_error
from shared.tenancy import Kecamatan

log = logging.getLogger(__name__)
T = TypeVar("T")


# === planning: which messages an event calls for ===================================================================
# who answers for whom in a kecamatan office
SUPERIOR = {"staf": "sekcam", "kasi": "sekcam", "sekcam": "camat", "camat": "camat"}
COMPLAINANT_KIND = {
    ComplaintReceived: "acknowledgment",
    DocumentsRequested: "documents_requested",
    ComplaintReferred: "referred",
    ResponseDispatched: "response_letter",
    IdentityRejected: "identity_rejected",
    ClosedIncomplete: "closed_incomplete",
    ComplaintWithdrawn: "withdrawn",
}
UNIT_BOUND_STEPS = {5, 6}


class Story:
    """One complaint's events up to (and including) the one being answered."""

    def __init__(self, notify: Notify, envelope: EventEnvelope) -> None:
        self.envelope = envelope
        self.history = [
            e.decode() for e in notify.store.read_stream(envelope.stream_id) if e.version <= envelope.version
        ]
        self.event = self.history[-1]
        received = next((e for e in self.history if isinstance(e, ComplaintReceived)), None)
        if received is None:
            raise LookupError(f"no ComplaintReceived in {envelope.stream_id}")
        self.received: ComplaintReceived = received
        kecamatan = notify.directory.get(envelope.kecamatan)
        if kecamatan is None:
            raise LookupError(f"kecamatan {envelope.kecamatan} is not served here")
        self.kecamatan: Kecamatan = kecamatan
        self.complaint_id = UUID(envelope.stream_id.removeprefix("complaint-"))
        self.definition = sop.definition_for(self.received.sop_version, self.received.sop_overrides)

    def latest(self, kind):
        return next((e for e in reversed(self.history) if isinstance(e, kind)), None)


def plan_event(notify: Notify, event_id: UUID, *, send_now: bool = True) -> int:
    """Plan the messages one event calls for and make their first attempt (``send_now``; else enqueue
    it); returns how many it planned."""
    envelope = notify.store.read_event(event_id)
    if envelope is None:
        raise LookupError(f"no event {event_id}")
    # when the store recorded it: a complaint-box form typed in days later is news now
    age = notify.clock() - (envelope.recorded_at or envelope.occurred_at)
    if age > timedelta(hours=notify.settings.notify_max_event_age_hours):
        log.info("event too old to notify about", extra={"event_id": str(event_id), "type": envelope.type})
        return 0
    story = Story(notify, envelope)
    overrides = _templates(notify, story.kecamatan.slug)
    planned = _for_complainant(notify, story, overrides) + _new_work(notify, story, overrides)
    return _store(notify, story, planned, send_now=send_now, throttled=_throttled(notify, planned))


THROTTLED = "tidak dikirim: terlalu banyak pesan tanda terima ke penerima ini dalam waktu singkat"
_limiters: dict[str, RateLimiter] = {}


def _throttled(notify: Notify, planned: list[p.Planned]) -> set[UUID]:
    """The acknowledgments that would exceed ``PENGADUAN_RATE_LIMIT_ACKNOWLEDGMENTS_PER_RECIPIENT``: anyone
    can file a complaint with anyone's number, so the form must not become a free SMS (or e-mail) cannon.
    Only the acknowledgment is limited: every later message follows a person's action at the kecamatan.
    A message planned before (a redelivered task) is not counted again. Counters unreachable: sent."""
    acks = [m for m in planned if m.kind == "acknowledgment" and m.audience == "complainant" and m.channel != "none"]
    if not acks:
        return set()
    with notify.engine.connect() as conn:
        known = set(conn.execute(select(deliveries.c.id).where(deliveries.c.id.in_([m.id for m in acks]))).scalars())
    settings = notify.settings
    limiter = _limiters.get(settings.effective_cache_url)
    if limiter is None:
        limiter = _limiters[settings.effective_cache_url] = limiter_for(settings)
    limits = parse_limits(settings.rate_limit_acknowledgments_per_recipient)
    throttled: set[UUID] = set()
    for m in acks:
        if m.id in known:
            continue
        recipient = hashlib.sha256(_mailbox(m.recipient).encode()).hexdigest()[:32]  # no address in Redis
        try:
            if not limiter.hit(limits, "ack-recipient", recipient).allowed:
                throttled.add(m.id)
        except RateLimitUnavailable:
            log.warning("acknowledgment not throttled: counters unreachable")
    if throttled:
        log.warning("acknowledgments throttled per recipient", extra={"count": len(throttled)})
    return throttled


def escalate(notify: Notify, event_id: UUID) -> int:
    """Record the alerts of one StepOverdue event and send them to those with a contact; returns how many
    alert rows were new."""
    envelope = notify.store.read_event(event_id)
    if envelope is None or envelope.type != StepOverdue.type:
        raise LookupError(f"no StepOverdue event {event_id}")
    story = Story(notify, envelope)
    overdue = story.event
    assert isinstance(overdue, StepOverdue)  # noqa: S101
    superior = SUPERIOR.get(overdue.role, "camat")
    with notify.engine.connect() as conn:
        people = [
            person
            for person in conn.execute(
                select(staff_directory).where(
                    staff_directory.c.kecamatan == envelope.kecamatan,
                    staff_directory.c.active.is_(True),
                    staff_directory.c.role.in_({overdue.role, superior}),
                )
            )
            .mappings()
            .all()
            # at a unit-bound step only the Kasi of the disposed unit answers for it
            if not (
                person["role"] == overdue.role and overdue.unit and (person["unit"] or "").casefold() != overdue.unit
            )
        ]
    if not people:
        log.warning(
            "no one to alert for an overdue step", extra={"kecamatan": envelope.kecamatan, "step": overdue.step}
        )
        return 0
    rows = [
        {
            "event_id": event_id,
            "username": person["username"],
            "reason": "responsible" if person["role"] == overdue.role else "superior",
            "kecamatan": envelope.kecamatan,
            "complaint_id": story.complaint_id,
            "step": overdue.step,
            "due_at": overdue.due_at,
        }
        for person in people
    ]
    with notify.engine.begin() as conn:
        new = conn.execute(insert(escalations).values(rows).on_conflict_do_nothing()).rowcount
    overrides = _templates(notify, story.kecamatan.slug)
    planned = []
    for person, row in zip(people, rows):  # noqa: B905
        variables = _staff_variables(notify, story, person, overdue.step, overdue.due_at)
        variables["sebagai"] = "penanggung jawab langkah ini" if row["reason"] == "responsible" else "atasan"
        planned += _to_staff(notify, story, person, "overdue", variables, overrides)
    _store(notify, story, planned)
    return new


# -- the complainant ---------------------------------------------------------------------------------------
def _for_complainant(notify: Notify, story: Story, overrides) -> list[p.Planned]:
    kind = COMPLAINANT_KIND.get(type(story.event))
    if kind is None:
        return []
    received, event, base = story.received, story.event, notify.settings.public_base_url
    variables = {
        "nama": received.complainant.name,
        "kode": received.tracking_code,
        "kecamatan": story.kecamatan.name,
        "link_lacak": notify.settings.tracking_url.format(base=base, code=received.tracking_code),
    }
    attachment = link = None
    if kind == "acknowledgment":
        variables["tanggal"] = p.tanggal(received.received_at, with_time=True)
        variables["link_tanda_terima"] = f"{base}/lacak/{received.tracking_code}/tanda-terima.pdf"  # the web app's
    elif kind == "documents_requested":
        variables.update(pesan=event.message, batas=p.tanggal(event.close_after))
    elif kind == "referred":
        variables.update(instansi=event.agency, alasan=event.reason)
    elif kind == "response_letter":
        issued = story.latest(LetterIssued)
        if issued is None:
            raise LookupError("the response letter was dispatched before it was issued")
        variables.update(nomor_surat=issued.letter_number, link_surat=issued.verify_url)
        attachment = {
            "sha256": issued.sha256,
            "content_type": "application/pdf",
            "filename": f"surat-tanggapan-{received.tracking_code}.pdf",
        }
        link = issued.verify_url
    else:
        variables["alasan"] = event.reason
    whatsapp = kind in notify.settings.whatsapp_templates or (
        received.channel == "whatsapp" and kind == "acknowledgment"
    )
    contacts = p.complainant_contacts(
        received.channel,
        received.complainant.email,
        received.complainant.phone,
        set(notify.channels),
        letter=kind == "response_letter",
        whatsapp=whatsapp,
    )
    if not contacts:
        if kind == "response_letter":  # staff must know at once: the letter goes by post or by hand
            return [
                p.nowhere(
                    story.envelope.event_id,
                    kind,
                    "pengadu tidak memiliki kontak yang dapat dihubungi oleh saluran yang tersedia",
                )
            ]
        return []
    return [
        p.plan_message(
            story.envelope.event_id,
            kind,
            "complainant",
            contact,
            _template(overrides, kind, contact.channel),
            variables,
            attachment=attachment,
            link=link,
        )
        for contact in contacts
    ]


# -- staff -------------------------------------------------------------------------------------------------
def _new_work(notify: Notify, story: Story, overrides) -> list[p.Planned]:
    event = story.event
    if isinstance(event, (ComplaintReceived, DocumentsReceived)):
        step, due = 2, event.next_due_at
    elif isinstance(event, StepCompleted) and event.next_step:
        step, due = event.next_step, event.next_due_at
    else:
        return []
    role = story.definition.step(step).role
    unit = None
    if step in UNIT_BOUND_STEPS and role == "kasi":
        disposition = story.latest(DispositionIssued)
        unit = disposition.unit if disposition else None
    with notify.engine.connect() as conn:
        people = (
            conn.execute(
                select(staff_directory).where(
                    staff_directory.c.kecamatan == story.kecamatan.slug,
                    staff_directory.c.active.is_(True),
                    staff_directory.c.role == role,
                    staff_directory.c.notify_new_work.is_(True),
                )
            )
            .mappings()
            .all()
        )
    planned = []
    for person in people:
        if unit and (person["unit"] or "").casefold() != unit:
            continue
        planned += _to_staff(
            notify, story, person, "new_work", _staff_variables(notify, story, person, step, due), overrides
        )
    return planned


def _staff_variables(notify: Notify, story: Story, person, step: int, due) -> dict[str, str]:
    return {
        "petugas": person["full_name"],
        "kode": story.received.tracking_code,
        "kecamatan": story.kecamatan.name,
        "langkah": str(step),
        "nama_langkah": story.definition.step(step).name,
        "batas": p.tanggal(due, with_time=True) if due else "-",
        "perihal": story.received.subject[:80],
        "link": notify.settings.staff_complaint_url.format(
            base=notify.settings.public_base_url, complaint_id=story.complaint_id
        ),
    }


def _to_staff(notify: Notify, story: Story, person, kind: str, variables: dict, overrides) -> list[p.Planned]:
    wanted = person["notify_channel"] or "email"
    address = person["email"] if wanted == "email" else person["phone"]
    if not address or wanted not in notify.channels:
        wanted, address = "email", person["email"]
    if not address or wanted not in notify.channels:
        return []
    contact = p.Contact(wanted, address)
    return [
        p.plan_message(
            story.envelope.event_id,
            kind,
            "staff",
            contact,
            _template(overrides, kind, wanted),
            variables,
            username=person["username"],
        )
    ]


# -- templates and storing ---------------------------------------------------------------------------------
def _templates(notify: Notify, kecamatan: str) -> dict:
    """The edited templates that apply here: the kecamatan's own before the deployment's (``*``)."""
    with notify.engine.connect() as conn:
        rows = (
            conn.execute(select(templates).where(or_(templates.c.kecamatan == kecamatan, templates.c.kecamatan == "*")))
            .mappings()
            .all()
        )
    found: dict = {}
    for row in sorted(rows, key=lambda r: r["kecamatan"] != "*"):  # '*' first, the kecamatan's own override it
        found[(row["kind"], row["channel"])] = Template(body=row["body"], subject=row["subject"])
    return found


def _template(overrides: dict, kind: str, channel: str) -> Template:
    return overrides.get((kind, channel)) or DEFAULTS[(kind, channel)]


def _mailbox(recipient: str) -> str:
    """One key per mailbox, however the address is written: ``korban+1@...`` and ``korban+2@...`` (sub-
    addressing), and for Gmail ``k.o.r.b.a.n@gmail.com``, all reach one inbox and count as one recipient."""
    address = recipient.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at:
        return address  # a phone number (E.164 already)
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def _store(
    notify: Notify, story: Story, planned: list[p.Planned], *, send_now: bool = True, throttled: set[UUID] = frozenset()
) -> int:
    if not planned:
        return 0
    now = notify.clock()
    rows = [
        {
            "id": m.id,
            "source_event_id": story.envelope.event_id,
            "complaint_id": story.complaint_id,
            "kecamatan": story.kecamatan.slug,
            "kind": m.kind,
            "audience": m.audience,
            "username": m.username,
            "channel": m.channel,
            "recipient": m.recipient,
            "subject": m.subject,
            "body": m.body,
            "attachment": m.attachment,
            "link": m.link,
            "variables": m.variables,
            "state": "failed" if m.channel == "none" or m.id in throttled else "pending",
            "last_error": m.body if m.channel == "none" else THROTTLED if m.id in throttled else None,
            "next_attempt_at": now,
            "enqueued_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for m in planned
    ]
    with notify.engine.begin() as conn:
        conn.execute(insert(deliveries).values(rows).on_conflict_do_nothing(index_elements=["id"]))
        current = conn.execute(select(deliveries).where(deliveries.c.id.in_([m.id for m in planned]))).mappings().all()
    for row in current:
        if row["state"] == "pending" and row["attempts"] == 0 and send_now:
            # sent here and now: no second trip through the broker for the first attempt (the claim still
            # guards it; a worker that dies here is covered by the redelivered plan task and the sweeps)
            send_delivery(notify, row["id"])
        elif row["state"] == "pending" and (row["attempts"] == 0 or row["next_attempt_at"] <= now):
            # (one waiting out a backoff is the sweep's)
            enqueue_send(notify, row["id"], row["attempts"])
        elif row["state"] == "failed" and row["reported_state"] != "failed":
            report(notify, dict(row))
    return len(planned)


# === sending: each message once ====================================================================================
SEND_TASK = "notify.send"
OUTCOME_TASK = "notify.record_outcome"
TERMINAL = ("sent", "delivered", "failed", "unknown")
REPORT_NAMESPACE = uuid.UUID("72657075-7274-2d6e-6f74-696679000000")
ENQUEUE_GRACE = timedelta(seconds=60)  # a row enqueued but not yet claimed is enqueued again after this


def enqueue_send(notify: Notify, delivery_id: UUID, attempt: int) -> None:
    notify.celery.send_task(
        SEND_TASK,
        args=[{"delivery_id": str(delivery_id)}],
        queue="notify",
        task_id=f"notify-send:{delivery_id}:{attempt}",
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
        row = (
            conn.execute(select(deliveries).where(deliveries.c.id == delivery_id).with_for_update()).mappings().first()
        )
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
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(
                    state="sending",
                    sending_since=now,
                    updated_at=now,
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
        log.warning("message not built, tried again later", exc_info=True, extra={"delivery_id": str(row["id"])})
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
        except Exception as exc:  # noqa: BLE001
            log.warning("lookup failed during reconciliation: %s", safe_error(exc))
    log.warning(
        "reconciling a send whose outcome was lost", extra={"delivery_id": str(row["id"]), "found": bool(found)}
    )
    if found is None:
        why = lost or "proses terhenti saat mengirim"
        return _finish(
            notify, row, "unknown", error=f"hasil pengiriman tidak diketahui ({why}); periksa sebelum mengirim ulang"
        )
    if found.detail == NOT_FOUND:  # the provider never got it: sending again is the first send
        return _send(notify, row) if lost is None else _retry_later(notify, row, lost)
    return _finish(notify, row, "sent", provider=found.provider, provider_message_id=found.provider_message_id)


def _retry_later(notify: Notify, row: dict, error: str) -> str:
    if row["attempts"] >= notify.settings.notify_max_attempts:
        return _finish(notify, row, "failed", error=f"gagal setelah {row['attempts']} percobaan: {error}")
    now = notify.clock()
    values = dict(
        state="pending",
        next_attempt_at=now + backoff(notify, row["attempts"]),
        last_error=error[:500],
        sending_since=None,
        enqueued_at=None,
        updated_at=now,
    )

    def write(conn) -> None:
        conn.execute(update(deliveries).where(*_our_claim(row)).values(**values))

    _write_retried(notify, write)
    log.info(
        "transient send failure; retried later", extra={"delivery_id": str(row["id"]), "attempts": row["attempts"]}
    )
    return "pending"


def _our_claim(row: dict):
    return (
        deliveries.c.id == row["id"],
        deliveries.c.state == "sending",
        deliveries.c.sending_since == row["sending_since"],
    )


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


def _outcome_values(
    state: str, at: datetime, error: str | None, provider: str | None, provider_message_id: str | None
) -> dict:
    values = {"state": state, "updated_at": at, "sending_since": None, "last_error": error[:500] if error else None}
    if provider:
        values["provider"] = provider
    if state == "sent":
        values.update(sent_at=at, provider_message_id=provider_message_id)
    return values


def _record(conn, row: dict, state: str, values: dict) -> RowMapping | None:
    """Write an outcome if our claim still holds; None when another worker took the claim over."""
    done = (
        conn.execute(update(deliveries).where(*_our_claim(row)).values(**values).returning(*deliveries.c))
        .mappings()
        .first()
    )
    if done is None and state in ("sent", "failed"):
        # our claim was taken over (the lease ran out) and reconciled as unknown: what the provider
        # told us settles it
        done = (
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == row["id"], deliveries.c.state == "unknown")
                .values(**values)
                .returning(*deliveries.c)
            )
            .mappings()
            .first()
        )
    return done


def _finish(
    notify: Notify,
    row: dict,
    state: str,
    *,
    error: str | None = None,
    provider: str | None = None,
    provider_message_id: str | None = None,
) -> str:
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
        log.warning(
            "send outcome arrived after the claim was taken over",
            extra={"delivery_id": str(delivery_id), "state": state},
        )
        return state
    log.info(
        "notification %s",
        state,
        extra={"delivery_id": str(delivery_id), "channel": done["channel"], "kind": done["kind"]},
    )
    report(notify, dict(done))
    return state


def _hand_on(
    notify: Notify,
    row: dict,
    state: str,
    at: datetime,
    error: str | None,
    provider: str | None,
    provider_message_id: str | None,
    cause: OperationalError,
) -> None:
    """The database stayed away longer than the write window: the provider's answer goes to the queue as a
    task of its own (written when the database is back), never back through the send. If the broker will
    not take it either, the log line is what a person settles the message by."""
    ids = {
        "delivery_id": str(row["id"]),
        "state": state,
        "provider": provider,
        "provider_message_id": provider_message_id,
    }
    message = {**ids, "sending_since": row["sending_since"].isoformat(), "at": at.isoformat(), "error": error}
    try:
        notify.celery.send_task(
            OUTCOME_TASK,
            args=[message],
            queue="notify",
            task_id=f"notify-outcome:{row['id']}:{row['sending_since'].isoformat()}",
        )
    except Exception as exc:  # noqa: BLE001
        log.error(
            "provider's answer could not be recorded nor queued (database: %s; broker: %s)",
            safe_error(cause),
            safe_error(exc),
            extra=ids,
        )
        raise cause from None
    log.error("provider's answer not recorded (database: %s); queued as %s", safe_error(cause), OUTCOME_TASK, extra=ids)


def record_outcome(notify: Notify, message: dict) -> str:
    """A provider's answer that its send could not write (``_hand_on``): written now, or handed back to the
    broker by the worker's retry rules while the database is still away."""
    row = {"id": UUID(message["delivery_id"]), "sending_since": datetime.fromisoformat(message["sending_since"])}
    state = message["state"]
    values = _outcome_values(
        state,
        datetime.fromisoformat(message["at"]),
        message.get("error"),
        message.get("provider"),
        message.get("provider_message_id"),
    )
    done = _write_retried(notify, lambda conn: _record(conn, row, state, values))
    return _recorded(notify, row["id"], state, done)


def _outbound(notify: Notify, row: dict) -> OutboundMessage:
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
        template_params=tuple((row["variables"] or {}).get(name, "") for name in VARIABLES.get(row["kind"], ()))
        if template
        else (),
    )


def report(notify: Notify, row: dict) -> None:
    """Tell the workflow what became of a message to the complainant (messages to staff stay here)."""
    state = row["state"]
    sent: list[Handoff] = []
    if row["audience"] == "complainant":
        message = NotificationReport(
            message_id=uuid.uuid5(REPORT_NAMESPACE, f"{row['id']}:{state}"),
            delivery_id=row["id"],
            complaint_id=row["complaint_id"],
            kecamatan=row["kecamatan"],
            source_event_id=row["source_event_id"],
            kind=row["kind"],
            channel=row["channel"],
            recipient=mask_recipient(row["recipient"]) if row["recipient"] else "-",
            state=state,
            provider=row["provider"],
            provider_message_id=row["provider_message_id"],
            error=_public_error(row["last_error"]) if state in ("failed", "unknown") else None,
            at=row["updated_at"],
        )
        sent.append(
            Handoff(
                consumer=NotificationReport.TASK,
                message_id=message.message_id,
                queue=NotificationReport.QUEUE,
                task_id=f"notification-report:{message.message_id}",
                payload=message.model_dump(mode="json"),
            )
        )
        notify.celery.send_task(sent[0].consumer, args=[sent[0].payload], queue=sent[0].queue, task_id=sent[0].task_id)
    with notify.engine.begin() as conn:
        record(conn, handoffs, sent)  # notify.handoffs: sent again should the broker lose it
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id == row["id"], deliveries.c.state == state)
            .values(reported_state=state)
        )


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
            query = query.where(
                deliveries.c.provider == status.get("provider"),
                deliveries.c.provider_message_id == status.get("provider_message_id"),
            )
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
        done = (
            conn.execute(
                update(deliveries).where(deliveries.c.id == row["id"]).values(**values).returning(*deliveries.c)
            )
            .mappings()
            .one()
        )
    report(notify, dict(done))
    return True


# === a person's commands: messages left failed or unknown ==========================================================
def list_deliveries(
    notify: Notify, state: str | None = None, complaint_id: UUID | None = None, limit: int = 100
) -> list[dict]:
    query = select(deliveries).order_by(deliveries.c.updated_at.desc()).limit(limit)
    if state:
        query = query.where(deliveries.c.state == state)
    if complaint_id:
        query = query.where(deliveries.c.complaint_id == complaint_id)
    with notify.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        {
            "id": r["id"],
            "state": r["state"],
            "kind": r["kind"],
            "channel": r["channel"],
            "recipient": mask_recipient(r["recipient"]) if r["recipient"] else "-",
            "attempts": r["attempts"],
            "complaint_id": r["complaint_id"],
            "updated_at": r["updated_at"],
            "error": r["last_error"],
        }
        for r in rows
    ]


def resend(notify: Notify, delivery_id: UUID) -> bool:
    """A person decided to send a ``failed`` or ``unknown`` message again: it becomes pending with fresh
    attempts, and its send is enqueued. Returns False if it was in no such state."""
    now = notify.clock()
    with notify.engine.begin() as conn:
        done = conn.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery_id, deliveries.c.state.in_(("failed", "unknown")))
            .values(
                state="pending",
                attempts=0,
                next_attempt_at=now,
                enqueued_at=now,
                sending_since=None,
                last_error=None,
                updated_at=now,
                reported_state=None,
            )
            .returning(deliveries.c.id)
        ).first()
    if done:
        enqueue_send(notify, delivery_id, 0)
    return bool(done)


def mark_sent(notify: Notify, delivery_id: UUID) -> bool:
    """An ``unknown`` message the complainant confirms having received: recorded as sent (and reported:
    for the letter, that closes step 12)."""
    now = notify.clock()
    with notify.engine.begin() as conn:
        row = (
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id, deliveries.c.state == "unknown")
                .values(state="sent", sent_at=now, updated_at=now, last_error=None, provider="manual")
                .returning(*deliveries.c)
            )
            .mappings()
            .first()
        )
    if row:
        report(notify, dict(row))
    return bool(row)


# === a person's commands: the message templates ====================================================================
def set_template(
    engine: Engine,
    kecamatan: str,
    kind: str,
    channel: str,
    body: str,
    subject: str | None = None,
    updated_by: str | None = None,
) -> list[str]:
    """Store a template; returns warnings. Raises TemplateInvalid (a ValueError)."""
    warnings = validate(kind, channel, Template(body=body, subject=subject))
    stmt = insert(templates).values(
        kecamatan=kecamatan, kind=kind, channel=channel, body=body, subject=subject, updated_by=updated_by
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["kecamatan", "kind", "channel"],
        set_={
            "body": stmt.excluded.body,
            "subject": stmt.excluded.subject,
            "updated_by": stmt.excluded.updated_by,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    with engine.begin() as conn:
        conn.execute(stmt)
    return warnings


def reset_template(engine: Engine, kecamatan: str, kind: str, channel: str) -> bool:
    with engine.begin() as conn:
        return bool(
            conn.execute(
                delete(templates).where(
                    templates.c.kecamatan == kecamatan, templates.c.kind == kind, templates.c.channel == channel
                )
            ).rowcount
        )


def list_templates(engine: Engine, kecamatan: str | None = None) -> list[dict]:
    """Every kind and channel with where its text comes from (default, ``*``, or the kecamatan)."""
    with engine.connect() as conn:
        rows = conn.execute(select(templates)).mappings().all()
    edited = {(r["kecamatan"], r["kind"], r["channel"]): r for r in rows}
    result = []
    for (kind, channel), default in DEFAULTS.items():
        source, row = "default", None
        if kecamatan and (kecamatan, kind, channel) in edited:
            source, row = kecamatan, edited[(kecamatan, kind, channel)]
        elif ("*", kind, channel) in edited:
            source, row = "*", edited[("*", kind, channel)]
        result.append(
            {
                "kind": kind,
                "channel": channel,
                "source": source,
                "variables": list(VARIABLES[kind]),
                "subject": row["subject"] if row else default.subject,
                "body": row["body"] if row else default.body,
            }
        )
    return result
