"""Planning: which messages an event of the workflow calls for (``plan_event``: the complainant's, a keberatan's
alert), the alerts of an overdue step (``escalate``) and the staff's news of new work in a round of events
(``NewWork``), written as delivery rows whose ids are their idempotency keys (a redelivered event plans nothing new),
then each first attempt made at once (a round's: enqueued). Whom, on which channel and saying what: domain/plan.py."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from services.notify.domain import plan as p
from services.notify.domain.delivery import CONTACT_CORRECTED, THROTTLED
from services.notify.domain.erasure import is_erased
from services.notify.domain.templates import DEFAULTS, Template, scopes_for
from services.notify.handlers.context import Context
from services.notify.handlers.reports import report
from services.notify.handlers.sending import enqueue_send, send_claimed, send_delivery
from services.notify.handlers.throttling import throttled_acknowledgments
from services.notify.unit_of_work import Row, UnitOfWork
from shared.contracts import sop
from shared.contracts.intake import Complainant
from shared.contracts.workflow import (
    ClarificationGiven,
    ComplainantDataCorrected,
    ComplaintReceived,
    ComplaintReferred,
    ComplaintRegistered,
    ComplaintReopened,
    DispositionIssued,
    DispositionRedirected,
    DocumentsReceived,
    IdentityVerified,
    LetterApproved,
    LetterArchived,
    LetterDrafted,
    LetterDuplicated,
    LetterIssued,
    LetterRequested,
    LetterReturned,
    LetterSigned,
    MarkedDuplicate,
    ObjectionRaised,
    ResponseSent,
    StepCompleted,
    StepOverdue,
    current_complainant,
)
from shared.events import EventEnvelope
from shared.tanggal import format_tanggal
from shared.tenancy import Kecamatan

log = logging.getLogger(__name__)


class Story:
    """One complaint's events up to (and including) the one being answered."""

    def __init__(self, notify: Context, envelope: EventEnvelope, stream: list[EventEnvelope] | None = None) -> None:
        self.envelope = envelope
        if stream is None:
            stream = notify.store.read_stream(envelope.stream_id)
        self.history = [e.decode() for e in stream if e.version <= envelope.version]
        self.event = self.history[-1]
        received = next((e for e in self.history if isinstance(e, ComplaintReceived)), None)
        if received is None:
            raise LookupError(f"no ComplaintReceived in {envelope.stream_id}")
        self.received: ComplaintReceived = received
        # as corrected on the complainant's request since (ComplainantDataCorrected), else as received
        self.complainant: Complainant = current_complainant(self.history) or received.complainant
        kecamatan = notify.directory.get(envelope.kecamatan)
        if kecamatan is None:
            raise LookupError(f"kecamatan {envelope.kecamatan} is not served here")
        self.kecamatan: Kecamatan = kecamatan
        self.complaint_id = UUID(envelope.stream_id.removeprefix("complaint-"))
        self.definition = sop.definition_for(self.received.sop_version, self.received.sop_overrides)

    def latest(self, kind):
        return next((e for e in reversed(self.history) if isinstance(e, kind)), None)

    def tanggal(self, at: datetime, with_time: bool = False) -> str:
        """A date (and time) as the kecamatan's people read it: in its kabupaten's time zone."""
        return p.tanggal(at, with_time, self.kecamatan.time_zone, self.kecamatan.time_zone_label)


def plan_event(notify: Context, event_id: UUID, *, send_now: bool = True, inbox: str | None = None) -> int:
    """Plan the messages one event calls for and make their first attempt (``send_now``; else enqueue
    it); returns how many it planned.

    One unit of work reads the event and its history, what the plan needs (templates, staff, earlier rows), writes
    the plan's rows (an acknowledgment's first send is claimed in it too, see _write) and, given ``inbox`` (the
    task's name: the worker's ``notify.plan``), records the event in notify's inbox: one transaction for an event
    that plans nothing, where reading the event, planning and the inbox were a transaction each. The inbox row commits with the plan, so that a plan rolled back is not recorded
    (its task runs again: the relay's reconciler resends it should the broker lose it); the sends happen after the
    commit (``_dispatch``), covered from then on by the rows, the claims and the sweeps. A correction of the
    complainant's contact, planned in several steps (``_follow_correction``), is recorded after its last."""
    with notify.uow() as uow:
        stream = uow.events.stream_to(event_id)  # the event and its history, in one query
        if not stream:
            raise LookupError(f"no event {event_id}")
        envelope = stream[-1]
        # when the store recorded it: a complaint-box form typed in days later is news now
        age = notify.clock() - (envelope.recorded_at or envelope.occurred_at)
        if age > timedelta(hours=notify.settings.notify_max_event_age_hours):
            log.info("event too old to notify about", extra={"event_id": str(event_id), "type": envelope.type})
            _record(uow, inbox, event_id)
            uow.commit()
            return 0
        story = Story(notify, envelope, stream)
        correction = isinstance(story.event, ComplainantDataCorrected)
        if correction:
            whole = uow.events.stream(envelope.stream_id)  # the whole stream: a later correction may rule
        else:
            overrides = _templates(notify, story.kecamatan, uow)
            planned = _for_complainant(notify, story, overrides) + _alerts(notify, story, overrides, uow)
            throttled = throttled_acknowledgments(notify, planned, uow)
            written = _write(notify, uow, story, planned, send_now=send_now, throttled=throttled)
            # a duplicate's original (docs/adr/0021), in the same unit: its first send claimed unless one was
            claim = send_now and not any(row["state"] == "sending" for row in written.added)
            written += _joined_original(notify, uow, story, overrides, claim=claim)
            _record(uow, inbox, event_id)
        uow.commit()  # a correction's read only: a commit, where a rollback would drop the prepared statements
    if correction:
        planned_again = _follow_correction(notify, story, whole, send_now=send_now)
        if inbox is not None:
            with notify.uow() as uow:
                _record(uow, inbox, event_id)
                uow.commit()
        return planned_again
    return _dispatch(notify, written, send_now=send_now)


def _record(uow: UnitOfWork, inbox: str | None, event_id: UUID) -> None:
    """The event handled, recorded in notify's inbox under ``inbox`` (the task's name) when the unit commits."""
    if inbox is not None:
        uow.inbox.record(inbox, event_id)


def escalate(notify: Context, event_id: UUID) -> int:
    """Record the alerts of one StepOverdue event and send them to those with a contact; returns how many
    alert rows were new."""
    envelope = notify.store.read_event(event_id)
    if envelope is None or envelope.type != StepOverdue.type:
        raise LookupError(f"no StepOverdue event {event_id}")
    story = Story(notify, envelope)
    overdue = story.event
    assert isinstance(overdue, StepOverdue)  # noqa: S101
    superior = p.SUPERIOR.get(overdue.role, "camat")
    today = envelope.occurred_at.astimezone(story.kecamatan.time_zone).date()
    with notify.uow() as uow:
        # the officials, and whoever acts for one of them today (a Plh./Plt.: docs/adr/0014)
        candidates = uow.staff.active(envelope.kecamatan, {overdue.role, superior})
        candidates += uow.staff.acting(envelope.kecamatan, {overdue.role, superior}, today)
    people, seen = [], set()
    for person in candidates:
        # at a unit-bound step only the Kasi of the disposed unit answers for it
        if person["role"] == overdue.role and overdue.unit and (person["unit"] or "").casefold() != overdue.unit:
            continue
        if person["username"] in seen:
            continue
        seen.add(person["username"])
        people.append(person)
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
    with notify.uow() as uow:
        new = uow.escalations.add(rows)
        uow.commit()
    overrides = _templates(notify, story.kecamatan)
    planned = []
    for person, row in zip(people, rows):  # noqa: B905
        variables = _staff_variables(notify, story, person, overdue.step, overdue.due_at)
        variables["sebagai"] = "penanggung jawab langkah ini" if row["reason"] == "responsible" else "atasan"
        planned += _to_staff(notify, story, person, "overdue", variables, overrides)
    _store(notify, story, planned)
    return new


# -- the complainant ---------------------------------------------------------------------------------------
def _for_complainant(notify: Context, story: Story, overrides) -> list[p.Planned]:
    kind = p.COMPLAINANT_KIND.get(type(story.event))
    if kind is None:
        return []
    received, event, base = story.received, story.event, notify.settings.public_base_url
    variables = {
        "nama": story.complainant.name,
        "kode": received.tracking_code,
        "kecamatan": story.kecamatan.name,
        "link_lacak": notify.settings.tracking_url.format(base=base, code=received.tracking_code),
    }
    attachment = link = None
    if kind == "acknowledgment":
        variables["tanggal"] = story.tanggal(received.received_at, with_time=True)
        variables["link_tanda_terima"] = f"{base}/lacak/{received.tracking_code}/tanda-terima.pdf"  # the web app's
        variables["rahasia"] = "ya" if story.complainant.confidential else ""  # the text says it is kept so
    elif kind == "documents_requested":
        variables.update(pesan=event.message, batas=story.tanggal(event.close_after))
    elif kind == "referred":
        # a referral written before referrals were followed has no follow-up time: the old text, without it
        follow_up = story.tanggal(event.follow_up_by) if event.follow_up_by else ""
        variables.update(instansi=event.agency, alasan=event.reason, pantau_sampai=follow_up)
    elif kind in ("referral_answered", "referral_lapsed"):
        variables.update(_referral(story, kind))
    elif kind == "reopened":  # handled again: the new promise (docs/adr/0020)
        variables["batas"] = story.tanggal(event.deadline_at)
    elif kind == "objection_raised":
        variables["batas"] = story.tanggal(event.due_at)
    elif kind == "objection_answered":
        if event.decision != "upheld":  # reopened: the ComplaintReopened after it tells the complainant
            return []
        variables["tanggapan_camat"] = event.answer
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
    elif kind == "duplicate":  # nothing of the other report, nor the staff's reason (it may name its complainant)
        pass
    else:
        variables["alasan"] = event.reason
    whatsapp = kind in notify.settings.whatsapp_templates or (
        received.channel == "whatsapp" and kind == "acknowledgment"
    )
    contacts = p.complainant_contacts(
        received.channel,
        story.complainant.email,
        story.complainant.phone,
        set(notify.channels),
        letter=kind == "response_letter",
        whatsapp=whatsapp,
    )
    if not contacts:
        # staff must know at once: the letter (or the Camat's answer to a keberatan) goes by post or by hand
        if kind in ("response_letter", "objection_answered"):
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


def _joined_original(notify: Context, uow: UnitOfWork, story: Story, overrides, *, claim: bool) -> Written:
    """A complaint marked a duplicate of an earlier one (``MarkedDuplicate.original_id``, docs/adr/0021): the earlier
    one's complainant is told that another report of the same matter was joined to theirs, and nothing of it (not
    who, not its code). The message is this event's (its id the key: planned once) and the original complaint's
    (its row, its history's report, its erasure, its complainant as corrected); none where that complaint is of
    another kecamatan, anonymous or erased, or names no contact. Read and written in the plan's unit ``uow`` (the
    caller commits, then dispatches); ``claim``: its first message written claimed (``_write``)."""
    event = story.event
    if not isinstance(event, MarkedDuplicate) or event.original_id is None:
        return Written()
    envelopes = uow.events.stream(f"complaint-{event.original_id}")
    if not envelopes or envelopes[0].kecamatan != story.envelope.kecamatan:
        return Written()
    original = Story(notify, envelopes[-1], envelopes)
    original.envelope = story.envelope  # the source event this one (the delivery's key), the complaint the original
    person, received = original.complainant, original.received
    if person.anonymous:
        return Written()
    kind, base = "duplicate_joined", notify.settings.public_base_url
    variables = {
        "nama": person.name,
        "kode": received.tracking_code,
        "kecamatan": original.kecamatan.name,
        "link_lacak": notify.settings.tracking_url.format(base=base, code=received.tracking_code),
    }
    contacts = p.complainant_contacts(
        received.channel,
        person.email,
        person.phone,
        set(notify.channels),
        whatsapp=kind in notify.settings.whatsapp_templates,
    )
    planned = [
        p.plan_message(
            story.envelope.event_id,
            kind,
            "complainant",
            contact,
            _template(overrides, kind, contact.channel),
            variables,
        )
        for contact in contacts
    ]
    return _write(notify, uow, original, planned, send_now=claim)


# the kinds that tell the complainant how their complaint ended: after one, the story is told
FINAL_KINDS = frozenset(
    {
        "response_letter",
        "identity_rejected",
        "closed_incomplete",
        "withdrawn",
        "duplicate",
        "referral_answered",
        "referral_lapsed",
        "objection_answered",  # the Camat's answer to a keberatan: closed again (docs/adr/0020)
    }
)


def _follow_correction(notify: Context, story: Story, envelopes: list[EventEnvelope], *, send_now: bool) -> int:
    """The complainant's phone or e-mail corrected on their request (``ComplainantDataCorrected``, docs/adr/0017).

    The complainant is taken as the whole stream has them now, and only the stream's latest correction acts: one
    handled late, or again, after a later one must not send to the contact that one replaced. The messages still
    waiting to be sent (``pending``, a first attempt or a retry) to another contact are stopped, so the mistyped
    number, someone else's, is not tried again; those given up stay on record as they are. Then, to the corrected
    contact: while the complaint is being handled, the acknowledgment (its tracking code opens the whole story; the
    mistyped number may have had it) and the latest message, whatever became of them before; once it has ended
    (a final message: the letter, a rejection, a withdrawal, a referral's end), only that final message, and only
    if it reached nobody and was not handed over by the office (step 12 recorded). A message in between would
    arrive stale ("send your documents by ...", long past). A message stopped by an earlier correction is waiting
    again when its contact is the right one after all. One being sent at this moment ends as its attempt does.
    ``envelopes``: the whole stream, read in the plan's unit. How many messages were planned."""
    event = story.event
    assert isinstance(event, ComplainantDataCorrected)  # noqa: S101
    if not {"phone", "email"} & set(event.corrected):
        return 0
    whole = [e.decode() for e in envelopes]
    corrections = [e for e in whole if isinstance(e, ComplainantDataCorrected)]
    if corrections and corrections[-1].request_id != event.request_id:
        log.info("a later correction of the complainant rules", extra={"event_id": str(story.envelope.event_id)})
        return 0
    person = current_complainant(whole) or story.complainant
    current = {"email": person.email, "sms": person.phone, "whatsapp": person.phone}
    now = notify.clock()
    with notify.uow() as uow:
        rows = uow.deliveries.of_complaint(story.complaint_id, lock=True)
        stopped = [
            found
            for row in rows
            if row["audience"] == "complainant"
            and row["state"] == "pending"
            and row["recipient"] != current.get(row["channel"])
            and not is_erased(row)
            and (
                found := uow.deliveries.update(
                    row["id"],
                    {"state": "failed", "last_error": CONTACT_CORRECTED, "updated_at": now},
                    states=("pending",),
                )
            )
        ]
        uow.commit()
    for row in stopped:
        report(notify, row)  # the history shows it was not sent, and why
    told = [e for e in envelopes if e.type in _COMPLAINANT_TYPES]
    if not told:
        return 0
    latest = told[-1]
    if p.COMPLAINANT_KIND[type(latest.decode())] in FINAL_KINDS:
        reached = {"sent", "delivered"}
        handed_over = any(isinstance(e, ResponseSent) for e in whole)
        of_latest = [r for r in rows if r["audience"] == "complainant" and r["source_event_id"] == latest.event_id]
        sources = [] if handed_over or any(r["state"] in reached for r in of_latest) else [latest]
    else:
        sources = [e for e in told if e.type == ComplaintReceived.type and e is not latest] + [latest]
    overrides = _templates(notify, story.kecamatan)
    planned = 0
    for source in sources:
        earlier = Story(notify, source, envelopes)  # its history: the stream up to it
        earlier.complainant = person  # as corrected now, not as they were when the event happened
        messages = _for_complainant(notify, earlier, overrides)
        _wake(notify, [m.id for m in messages])
        planned += _store(notify, earlier, messages, send_now=send_now)
    log.info(
        "messages to the complainant planned again after a correction of their contact",
        extra={"event_id": str(story.envelope.event_id), "stopped": len(stopped), "planned": planned},
    )
    return planned


_COMPLAINANT_TYPES = frozenset(kind.type for kind in p.COMPLAINANT_KIND)


def _wake(notify: Context, ids: list[UUID]) -> None:
    """Messages an earlier correction stopped, to a contact that is the right one again: waiting once more."""
    now = notify.clock()
    with notify.uow() as uow:
        for row in uow.deliveries.many(ids):
            if row["state"] == "failed" and row["last_error"] == CONTACT_CORRECTED:
                uow.deliveries.update(
                    row["id"],
                    {"state": "pending", "last_error": None, "next_attempt_at": now, "updated_at": now},
                    states=("failed",),
                )
        uow.commit()


def _referral(story: Story, kind: str) -> dict[str, str]:
    """The variables of the two ends of a followed referral: the office's answer, or the end of the follow-up
    time without one. The office and the letter are the referral's, earlier in the stream."""
    referred = story.latest(ComplaintReferred)
    if referred is None:
        raise LookupError(f"{story.event.type} without a ComplaintReferred in {story.envelope.stream_id}")
    event = story.event
    if kind == "referral_answered":
        return {
            "instansi": referred.agency,
            "tanggapan": event.answer,
            "tanggal_tanggapan": format_tanggal(event.answered_on) if event.answered_on else "",
            "rujukan": event.reference or "",
        }
    # the follow-up time it was referred with (the scheduler lapses it a moment after, at most a round later)
    follow_up_by = referred.follow_up_by or story.envelope.occurred_at
    return {
        "instansi": referred.agency,
        "alamat_instansi": referred.agency_address or "",
        "surat_pelimpahan": referred.letter_number or "",
        "pantau_sampai": story.tanggal(follow_up_by),
    }


# -- staff -------------------------------------------------------------------------------------------------
def _alerts(notify: Context, story: Story, overrides, uow: UnitOfWork) -> list[p.Planned]:
    """A keberatan (``ObjectionRaised``) to the Camat and whoever acts for the Camat today, whether they asked for
    news or not, as an overdue step's alert (docs/adr/0020). Staff's news of new work is planned in rounds
    (``NewWork``)."""
    event = story.event
    if not isinstance(event, ObjectionRaised):
        return []
    today = story.envelope.occurred_at.astimezone(story.kecamatan.time_zone).date()
    people = uow.staff.active(story.kecamatan.slug, {event.role}) + uow.staff.acting(
        story.kecamatan.slug, {event.role}, today
    )
    return _to_people(notify, story, people, "objection", event.due_at, overrides)


# the events that give a role new work (``_new_work``): every completed step but the last, documents received, a
# disposition redirected to another unit, a reopening
NEW_WORK_EVENTS = (
    ComplaintReceived,
    IdentityVerified,
    DocumentsReceived,
    ComplaintRegistered,
    DispositionIssued,
    DispositionRedirected,
    ClarificationGiven,
    LetterRequested,
    LetterDrafted,
    LetterApproved,
    LetterReturned,
    LetterDuplicated,
    LetterSigned,
    LetterArchived,
    ComplaintReopened,
)
NEW_WORK_TYPES = frozenset(kind.type for kind in NEW_WORK_EVENTS)


class NewWork:
    """The news of new work in a round of the workflow's events (``services/notify/new_work.py``): to each active
    member of staff who asked to hear of it (``notify_new_work``), when a step waits for their role (at a step a
    Kasi answers for only in the disposed unit, the Kasi of that unit).

    Planned in the round's unit of work ``uow`` (the round commits it with its checkpoint), one instance per round:
    who asked is read once per kecamatan in the round and the kecamatan's templates once, so an event of a kecamatan
    where nobody asked (most: the news is a wish, not the procedure) costs nothing but being read. The messages are
    enqueued after the commit (``enqueue``); a round that dies before leaves them ``pending``, enqueued by the
    scheduler's sweep (``DueDeliveries``). Their ids are their idempotency keys, as a plan's: an event planned again
    (a round done again, the events an older deployment's ``notify.plan`` planned) adds nothing."""

    def __init__(self, notify: Context, uow: UnitOfWork) -> None:
        self.notify, self.uow = notify, uow
        self._asked: dict[str, list[Row]] = {}
        self._overrides: dict[str, dict] = {}
        self.added: list[Row] = []  # the rows written, to enqueue after the commit
        self.too_old = 0

    def plan(self, events: Sequence[EventEnvelope]) -> None:
        """Plan the messages ``events`` (in position order) call for, in the round's unit."""
        oldest = self.notify.clock() - timedelta(hours=self.notify.settings.notify_max_event_age_hours)
        for envelope in events:
            if envelope.type not in NEW_WORK_TYPES:
                continue
            if (envelope.recorded_at or envelope.occurred_at) < oldest:
                self.too_old += 1  # news of work long begun (a round catching up after an outage): none
                continue
            asked = self._asked.get(envelope.kecamatan)
            if asked is None:
                asked = self._asked[envelope.kecamatan] = self.uow.staff.active(
                    envelope.kecamatan, STAFF_ROLES, new_work=True
                )
            if not asked:
                continue
            story = Story(self.notify, envelope, self.uow.events.stream_to(envelope.event_id))
            overrides = self._overrides.get(story.kecamatan.slug)
            if overrides is None:
                overrides = self._overrides[story.kecamatan.slug] = _templates(self.notify, story.kecamatan, self.uow)
            planned = _new_work(self.notify, story, overrides, asked)
            self.added += _write(self.notify, self.uow, story, planned, send_now=False).added

    def enqueue(self) -> int:
        """After the round's commit: each message written handed to the notify queue; returns how many."""
        for row in self.added:
            enqueue_send(self.notify, row["id"], row["attempts"])
        return len(self.added)


STAFF_ROLES = frozenset(p.SUPERIOR)  # staf, kasi, sekcam, camat


def _new_work(notify: Context, story: Story, overrides, asked: list[Row]) -> list[p.Planned]:
    """The news of the work ``story.event`` gives a role, to those of ``asked`` (the kecamatan's active staff who
    asked for it) who hold that role (and unit)."""
    event = story.event
    if isinstance(event, ComplaintReceived) and story.complainant.anonymous:
        return []  # nobody to verify: step 2 was done with it (IdentityVerified), whose own new work is step 3's
    if isinstance(event, (ComplaintReceived, DocumentsReceived)):
        step, due = 2, event.next_due_at
    elif isinstance(event, DispositionRedirected):  # new work for the Kasi of the unit it now names
        step, due = 5, event.next_due_at
    elif isinstance(event, ComplaintReopened) or (isinstance(event, StepCompleted) and event.next_step):
        step, due = event.next_step, event.next_due_at  # a reopening: step 5 again, for its unit (docs/adr/0020)
    else:
        return []
    role = story.definition.step(step).role
    unit = None
    if step in p.UNIT_BOUND_STEPS and role == "kasi":
        disposition = story.latest((DispositionIssued, DispositionRedirected, ComplaintReopened))
        unit = disposition.unit if disposition else None
    people = [person for person in asked if person["role"] == role]
    return _to_people(notify, story, people, "new_work", due, overrides, unit=unit, step=step)


def _to_people(
    notify: Context,
    story: Story,
    people: list[Row],
    kind: str,
    due,
    overrides,
    *,
    unit: str | None = None,
    step: int = 0,
) -> list[p.Planned]:
    """A message of ``kind`` to each of ``people`` (of ``unit``, if named), once each."""
    planned, seen = [], set()
    for person in people:
        if unit and (person["unit"] or "").casefold() != unit:
            continue
        if person["username"] in seen:
            continue
        seen.add(person["username"])
        variables = _staff_variables(notify, story, person, step, due)
        if kind != "new_work":
            variables = {k: v for k, v in variables.items() if k not in ("langkah", "nama_langkah")}
        planned += _to_staff(notify, story, person, kind, variables, overrides)
    return planned


def _staff_variables(notify: Context, story: Story, person, step: int, due) -> dict[str, str]:
    return {
        "petugas": person["full_name"],
        # a pelapor rahasia's code opens their receipt, which names them: a message travels, so never in it
        "kode": "(pelapor rahasia)" if story.complainant.confidential else story.received.tracking_code,
        "kecamatan": story.kecamatan.name,
        "langkah": str(step),
        "nama_langkah": story.definition.step(step).name if step else "",
        "batas": story.tanggal(due, with_time=True) if due else "-",
        "perihal": story.received.subject[:80],
        "link": notify.settings.staff_complaint_url.format(
            base=notify.settings.public_base_url, complaint_id=story.complaint_id
        ),
    }


def _to_staff(notify: Context, story: Story, person, kind: str, variables: dict, overrides) -> list[p.Planned]:
    contact = p.staff_contact(person["notify_channel"], person["email"], person["phone"], set(notify.channels))
    if contact is None:
        return []
    return [
        p.plan_message(
            story.envelope.event_id,
            kind,
            "staff",
            contact,
            _template(overrides, kind, contact.channel),
            variables,
            username=person["username"],
        )
    ]


# -- templates and storing ---------------------------------------------------------------------------------
def _reading(notify: Context, uow: UnitOfWork | None) -> AbstractContextManager[UnitOfWork]:
    """The caller's open unit of work (left open: the caller commits or ends it), else a unit of its own."""
    return nullcontext(uow) if uow is not None else notify.uow()


def _templates(notify: Context, kecamatan: Kecamatan, uow: UnitOfWork | None = None) -> dict:
    """The edited templates that apply here: the kecamatan's own before its kabupaten's, its kabupaten's before the
    deployment's (``*``): another kabupaten served here never words this one's messages."""
    scopes = scopes_for(kecamatan.slug, kecamatan.kabupaten_slug)
    with _reading(notify, uow) as uow:
        rows = uow.templates.applying(kecamatan.slug, kecamatan.kabupaten_slug)
    found: dict = {}
    for row in sorted(rows, key=lambda r: scopes.index(r["kecamatan"])):  # the widest first, the narrower override it
        found[(row["kind"], row["channel"])] = Template(body=row["body"], subject=row["subject"])
    return found


def _template(overrides: dict, kind: str, channel: str) -> Template:
    return overrides.get((kind, channel)) or DEFAULTS[(kind, channel)]


@dataclass
class Written:
    """What ``_write`` left for ``_dispatch``: the rows it added (as stored) and the rows planned before."""

    added: list[Row] = field(default_factory=list)
    earlier: list[Row] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.added) + len(self.earlier)

    def __add__(self, other: Written) -> Written:
        return Written(added=self.added + other.added, earlier=self.earlier + other.earlier)


def _store(
    notify: Context,
    story: Story,
    planned: list[p.Planned],
    *,
    send_now: bool = True,
    throttled: set[UUID] = frozenset(),
) -> int:
    """Write the rows of ``planned`` in a unit of their own, then send, enqueue or report each."""
    if not planned:
        return 0
    with notify.uow() as uow:
        written = _write(notify, uow, story, planned, send_now=send_now, throttled=throttled)
        uow.commit()
    return _dispatch(notify, written, send_now=send_now)


def _write(
    notify: Context,
    uow: UnitOfWork,
    story: Story,
    planned: list[p.Planned],
    *,
    send_now: bool = True,
    throttled: set[UUID] = frozenset(),
) -> Written:
    """The rows of ``planned``, added in ``uow`` (the caller commits). A row planned before is left as it is (a
    redelivered event plans nothing new) and read back for ``_dispatch``.

    With ``send_now``, the first new row to be sent is written claimed (``sending``, attempt 1, its
    ``sending_since``): the claim that ``send_delivery`` would take in a transaction of its own a moment later,
    taken in the plan's. It is ours alone from the commit on (the row did not exist before), and a worker that dies
    between the commit and the provider's call leaves it as one that dies just after a claim does: ``sending``
    until its lease runs out, then reconciled (ADR 0013, 4). Only the first: the others are claimed one by one
    just before their own call, so that a worker dying during the first call leaves them ``pending``, sent by the
    redelivered plan task, not ``unknown``."""
    if not planned:
        return Written()
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
            "attempts": 0,
            "sending_since": None,
        }
        for m in planned
    ]
    if any(m.audience == "complainant" for m in planned) and not uow.hold_personal_data(story.complaint_id):
        # erased since the story was read (perhaps under a key cached a moment longer): nothing of the
        # complainant is written; the staff's messages name no one (docs/adr/0017)
        rows = [row for row in rows if row["audience"] != "complainant"]
        log.info(
            "complainant's message not planned: their personal data was erased",
            extra={"event_id": str(story.envelope.event_id), "kecamatan": story.kecamatan.slug},
        )
    first = next((row for row in rows if row["state"] == "pending"), None) if send_now else None
    if first is not None:
        first.update(state="sending", sending_since=now, attempts=1)
    added = uow.deliveries.add(rows)
    new = {row["id"] for row in added}
    earlier = [row["id"] for row in rows if row["id"] not in new]
    return Written(added=added, earlier=uow.deliveries.many(earlier) if earlier else [])


def _dispatch(notify: Context, written: Written, *, send_now: bool = True) -> int:
    """After the plan's commit: each row sent here and now (``send_now``: no second trip through the broker for
    the first attempt; the claim still guards it, and a worker that dies here is covered by the redelivered plan
    task and the sweeps), or enqueued, or its failure reported. Returns how many rows the plan has."""
    now = notify.clock()
    for row in [*written.added, *written.earlier]:
        if row["state"] == "sending" and any(row is r for r in written.added):
            send_claimed(notify, row)  # new, so claimed as it was written (_write): ours
        elif row["state"] == "pending" and row["attempts"] == 0 and send_now:
            send_delivery(notify, row["id"])
        elif row["state"] == "pending" and (row["attempts"] == 0 or row["next_attempt_at"] <= now):
            # (one waiting out a backoff is the sweep's)
            enqueue_send(notify, row["id"], row["attempts"])
        elif row["state"] == "failed" and row["reported_state"] != "failed":
            report(notify, row)
    return written.count
