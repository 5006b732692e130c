"""What notify does with the workflow's events: which messages each one calls for.

To the complainant (on their own channel, see domain/plan.py): the acknowledgment with the tracking
code and the receipt link (``ComplaintReceived``), the request for documents (step 2), the referral
notice (step 4), the signed letter (step 12: ``ResponseDispatched``; by e-mail with the PDF attached,
by SMS and WhatsApp with its verification link), and the closure as incomplete, rejected or withdrawn.

To staff: the new work waiting on their role, for those who asked for it (``notify_new_work``), and
overdue alerts (``StepOverdue``) to the responsible role and its superior, always: recorded in
``notify.escalations`` (one row per event and user) and sent to those with a contact.

Planning writes the delivery rows (one per message: a redelivered event adds nothing) and makes each
first attempt at once; retries go through the queue. dispatch.py makes every send happen once.
"""
from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from uuid import UUID

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert

from services.notify.adapters.tables import deliveries, escalations, templates
from services.notify.bootstrap import Notify
from services.notify.dispatch import enqueue_send, report, send_delivery
from services.notify.domain import plan as p
from services.notify.domain.templates import DEFAULTS, Template
from shared.contracts import sop
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
from shared.ratelimit import RateLimitUnavailable, RateLimiter, limiter_for, parse_limits
from shared.staff_directory import staff_directory
from shared.tenancy import Kecamatan

log = logging.getLogger(__name__)

# who answers for whom in a kecamatan office
SUPERIOR = {"staf": "sekcam", "kasi": "sekcam", "sekcam": "camat", "camat": "camat"}
COMPLAINANT_KIND = {
    ComplaintReceived: "acknowledgment", DocumentsRequested: "documents_requested", ComplaintReferred: "referred",
    ResponseDispatched: "response_letter", IdentityRejected: "identity_rejected", ClosedIncomplete: "closed_incomplete",
    ComplaintWithdrawn: "withdrawn",
}
UNIT_BOUND_STEPS = {5, 6}


class Story:
    """One complaint's events up to (and including) the one being answered."""

    def __init__(self, notify: Notify, envelope: EventEnvelope) -> None:
        self.envelope = envelope
        self.history = [e.decode() for e in notify.store.read_stream(envelope.stream_id) if e.version <= envelope.version]
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
    assert isinstance(overdue, StepOverdue)
    superior = SUPERIOR.get(overdue.role, "camat")
    with notify.engine.connect() as conn:
        people = [
            person for person in conn.execute(
                select(staff_directory).where(
                    staff_directory.c.kecamatan == envelope.kecamatan, staff_directory.c.active.is_(True),
                    staff_directory.c.role.in_({overdue.role, superior}),
                )
            ).mappings().all()
            # at a unit-bound step only the Kasi of the disposed unit answers for it
            if not (person["role"] == overdue.role and overdue.unit and (person["unit"] or "").casefold() != overdue.unit)
        ]
    if not people:
        log.warning("no one to alert for an overdue step", extra={"kecamatan": envelope.kecamatan, "step": overdue.step})
        return 0
    rows = [
        {
            "event_id": event_id, "username": person["username"],
            "reason": "responsible" if person["role"] == overdue.role else "superior",
            "kecamatan": envelope.kecamatan, "complaint_id": story.complaint_id, "step": overdue.step, "due_at": overdue.due_at,
        }
        for person in people
    ]
    with notify.engine.begin() as conn:
        new = conn.execute(insert(escalations).values(rows).on_conflict_do_nothing()).rowcount
    overrides = _templates(notify, story.kecamatan.slug)
    planned = []
    for person, row in zip(people, rows):
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
        "nama": received.complainant.name, "kode": received.tracking_code, "kecamatan": story.kecamatan.name,
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
        attachment = {"sha256": issued.sha256, "content_type": "application/pdf",
                      "filename": f"surat-tanggapan-{received.tracking_code}.pdf"}
        link = issued.verify_url
    else:
        variables["alasan"] = event.reason
    whatsapp = kind in notify.settings.whatsapp_templates or (received.channel == "whatsapp" and kind == "acknowledgment")
    contacts = p.complainant_contacts(received.channel, received.complainant.email, received.complainant.phone,
                                      set(notify.channels), letter=kind == "response_letter", whatsapp=whatsapp)
    if not contacts:
        if kind == "response_letter":  # staff must know at once: the letter goes by post or by hand
            return [p.nowhere(story.envelope.event_id, kind, "pengadu tidak memiliki kontak yang dapat dihubungi oleh saluran yang tersedia")]
        return []
    return [
        p.plan_message(story.envelope.event_id, kind, "complainant", contact, _template(overrides, kind, contact.channel),
                       variables, attachment=attachment, link=link)
        for contact in contacts
    ]


# -- staff -------------------------------------------------------------------------------------------------
def _new_work(notify: Notify, story: Story, overrides) -> list[p.Planned]:
    event = story.event
    if isinstance(event, ComplaintReceived):
        step, due = 2, event.next_due_at
    elif isinstance(event, DocumentsReceived):
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
        people = conn.execute(
            select(staff_directory).where(
                staff_directory.c.kecamatan == story.kecamatan.slug, staff_directory.c.active.is_(True),
                staff_directory.c.role == role, staff_directory.c.notify_new_work.is_(True),
            )
        ).mappings().all()
    planned = []
    for person in people:
        if unit and (person["unit"] or "").casefold() != unit:
            continue
        planned += _to_staff(notify, story, person, "new_work", _staff_variables(notify, story, person, step, due), overrides)
    return planned


def _staff_variables(notify: Notify, story: Story, person, step: int, due) -> dict[str, str]:
    return {
        "petugas": person["full_name"], "kode": story.received.tracking_code, "kecamatan": story.kecamatan.name,
        "langkah": str(step), "nama_langkah": story.definition.step(step).name,
        "batas": p.tanggal(due, with_time=True) if due else "-", "perihal": story.received.subject[:80],
        "link": notify.settings.staff_complaint_url.format(base=notify.settings.public_base_url, complaint_id=story.complaint_id),
    }


def _to_staff(notify: Notify, story: Story, person, kind: str, variables: dict, overrides) -> list[p.Planned]:
    wanted = person["notify_channel"] or "email"
    address = person["email"] if wanted == "email" else person["phone"]
    if not address or wanted not in notify.channels:
        wanted, address = "email", person["email"]
    if not address or wanted not in notify.channels:
        return []
    contact = p.Contact(wanted, address)
    return [p.plan_message(story.envelope.event_id, kind, "staff", contact, _template(overrides, kind, wanted), variables,
                           username=person["username"])]


# -- templates and storing ---------------------------------------------------------------------------------
def _templates(notify: Notify, kecamatan: str) -> dict:
    """The edited templates that apply here: the kecamatan's own before the deployment's (``*``)."""
    with notify.engine.connect() as conn:
        rows = conn.execute(
            select(templates).where(or_(templates.c.kecamatan == kecamatan, templates.c.kecamatan == "*"))
        ).mappings().all()
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


def _store(notify: Notify, story: Story, planned: list[p.Planned], *, send_now: bool = True,
           throttled: set[UUID] = frozenset()) -> int:
    if not planned:
        return 0
    now = notify.clock()
    rows = [
        {
            "id": m.id, "source_event_id": story.envelope.event_id, "complaint_id": story.complaint_id,
            "kecamatan": story.kecamatan.slug, "kind": m.kind, "audience": m.audience, "username": m.username,
            "channel": m.channel, "recipient": m.recipient, "subject": m.subject, "body": m.body,
            "attachment": m.attachment, "link": m.link, "variables": m.variables,
            "state": "failed" if m.channel == "none" or m.id in throttled else "pending",
            "last_error": m.body if m.channel == "none" else THROTTLED if m.id in throttled else None,
            "next_attempt_at": now, "enqueued_at": now, "created_at": now, "updated_at": now,
        }
        for m in planned
    ]
    with notify.engine.begin() as conn:
        conn.execute(insert(deliveries).values(rows).on_conflict_do_nothing(index_elements=["id"]))
        current = conn.execute(
            select(deliveries).where(deliveries.c.id.in_([m.id for m in planned]))
        ).mappings().all()
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
