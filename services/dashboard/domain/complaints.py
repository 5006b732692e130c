"""How one workflow event changes a complaint's dashboard row, and which step it completes. Pure: no I/O,
no clock; the kecamatan's working calendar is passed in.

``apply(row, event, calendar) -> (row, step_times)``: ``row`` is the complaint's row as a dict (None before
``ComplaintReceived``), the result the new row (None: the event is not for this read model) and the rows of
the steps the event completed.

Which events complete which step (one row each in ``dashboard.step_times``):

* ``ComplaintReceived``: step 1, from ``received_at`` to ``entered_at`` (a complaint-box form or a call
  typed in later) or at once (web, SMS, WhatsApp, e-mail).
* every ``StepCompleted`` (``IdentityVerified`` ... ``ResponseSent``), ``LetterReturned`` included (the
  Sekcam's review happened; step 7 then runs again as a new occurrence).
* ``DocumentsRequested`` (the Kasi's look at step 2 ended with a request; the wait for the complainant is
  nobody's step time; ``DocumentsReceived`` starts step 2 again), ``IdentityRejected`` (step 2),
  ``ComplaintReferred`` (step 4).
* Closures that decide nothing about the step (withdrawn, duplicate, incomplete) complete no step.

A referral (dilimpahkan, step 4) with ``follow_up_by`` (every referral since issue #15) does not close the
complaint: it is ``referred`` (open; staff wait for the receiving office's answer, as the workflow's model has
it: current step 4, waiting role staf, due ``follow_up_by``) until ``ReferralAnswered`` or ``ReferralLapsed``
closes it as ``referred``. The wait for the other office is nobody's step time (no step row), and it is not
the kecamatan's overdue work. ``referral_state`` says where the referral stands: ``followed`` (open),
``answered``, ``lapsed``, ``ended`` (withdrawn or marked duplicate while followed) or ``unfollowed`` (a
``ComplaintReferred`` without ``follow_up_by``, written before referrals were followed: it closed the complaint
at once, and still does when an old store is replayed).

``PersonalDataErased`` (a complainant's personal data erased, docs/adr/0017) completes no step: the row keeps the
complaint and its course, and loses the person (``erased``): ``complainant_name`` reads ``ERASED_NAME``, the NIK,
phone, e-mail and address are empty, the receipt of the letter's send names no recipient, and the staff's free
texts about the complaint (the disposition's instructions, the clarification, the referral's reason and the
receiving office's answer) lose anything shaped like a NIK, a phone number or an e-mail address
(``shared.masking.scrub`` by pattern only: a rebuild, which reads the complainant as erased from the first event,
must come to the same row as the live projection, so nothing is masked by the values the live row still held).

A step's start is when the previous one ended (step 2: the receipt, as the workflow counts it); its due time
is the one the workflow set (the ``next_due_at`` recorded); ``within_standard`` is "done by then". Elapsed
time is counted in office minutes on the calendar, and the standard in the same unit (working days x the
calendar's office day), so medians can be compared with it.
"""

from __future__ import annotations

import json
from datetime import date, datetime, tzinfo
from functools import lru_cache
from typing import Any, Protocol
from uuid import UUID

from shared.calendar import OfficeHours
from shared.contracts import sop
from shared.contracts.intake import Complainant
from shared.contracts.workflow import (
    ERASED_NAME,
    CategorySet,
    ClarificationGiven,
    ClosedIncomplete,
    ComplainantDataCorrected,
    ComplaintReceived,
    ComplaintReferred,
    ComplaintRegistered,
    ComplaintReopened,
    ComplaintWithdrawn,
    DispositionIssued,
    DispositionRedirected,
    DocumentsReceived,
    DocumentsRequested,
    FeedbackReceived,
    IdentityRejected,
    LetterArchived,
    LetterReturned,
    LetterSigned,
    MarkedDuplicate,
    ObjectionAnswered,
    ObjectionRaised,
    PersonalDataErased,
    ReferralAnswered,
    ReferralLapsed,
    ResponseDispatched,
    ResponseSent,
    StepCompleted,
)
from shared.events import EventEnvelope
from shared.masking import scrub

CLOSING = {
    IdentityRejected.type: "identity_rejected",
    ClosedIncomplete.type: "incomplete",
    ComplaintReferred.type: "referred",
    ResponseSent.type: "resolved",
    ComplaintWithdrawn.type: "withdrawn",
    MarkedDuplicate.type: "duplicate",
    # a followed referral ends with the receiving office's answer or when the kecamatan stops waiting for it
    ReferralAnswered.type: "referred",
    ReferralLapsed.type: "referred",
}
REFERRAL_ENDS = {ReferralAnswered.type: "answered", ReferralLapsed.type: "lapsed"}
REFERRAL_FOLLOW_UP_ROLE = "staf"  # who records the office's answer (the workflow's model says the same)
UNIT_BOUND_STEPS = (5, 6)  # the Kasi of the disposed unit acts (as the workflow's model)

STREAM_PREFIX = "complaint-"


class Calendar(Protocol):
    hours: OfficeHours

    @property
    def tz(self) -> tzinfo: ...
    def add_office_minutes(self, start: datetime, minutes: int) -> datetime: ...
    def office_minutes_between(self, a: datetime, b: datetime) -> int: ...


def _subclasses(cls: type[Any]) -> list[type[Any]]:
    return [c for sub in cls.__subclasses__() for c in (sub, *_subclasses(sub))]


STEP_COMPLETIONS = frozenset(c.type for c in _subclasses(StepCompleted) if "type" in c.__dict__)


@lru_cache(maxsize=256)
def _definition(version: str, overrides_json: str) -> sop.SopDefinition:
    return sop.definition_for(version, json.loads(overrides_json) if overrides_json else None)


def definition_of(row: dict[str, Any]) -> sop.SopDefinition:
    """The SOP definition the complaint recorded when it was received."""
    overrides = row.get("sop_overrides")
    return _definition(row["sop_version"], json.dumps(overrides, sort_keys=True) if overrides else "")


def standard_minutes(step: sop.Step, calendar: Calendar) -> int:
    if step.unit == "minutes":
        return step.standard_time
    return step.standard_time * calendar.hours.standard_day_minutes()


def local_date(at: datetime, calendar: Calendar) -> date:
    return at.astimezone(calendar.tz).date()


def complaint_id_of(event: EventEnvelope) -> UUID | None:
    if not event.stream_id.startswith(STREAM_PREFIX):
        return None
    try:
        return UUID(event.stream_id[len(STREAM_PREFIX) :])
    except ValueError:
        return None


HANDLED = (
    frozenset(
        {
            ComplaintReceived.type,
            DocumentsRequested.type,
            DocumentsReceived.type,
            ResponseDispatched.type,
            PersonalDataErased.type,
            ComplainantDataCorrected.type,
            CategorySet.type,
            FeedbackReceived.type,
            ComplaintReopened.type,
            ObjectionRaised.type,
            ObjectionAnswered.type,
            *CLOSING,
        }
    )
    | STEP_COMPLETIONS
)


def handles(type_name: str) -> bool:
    """Whether the read model changes on events of this type (the rest, e.g. notifications, are skipped
    without decoding)."""
    return type_name in HANDLED


def apply(
    row: dict[str, Any] | None, event: EventEnvelope, calendar: Calendar
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    if event.type == ComplaintReceived.type:
        if row is not None:
            return row, []  # seen already
        return _received(event, calendar)
    if row is None or not handles(event.type) or (event.position is not None and event.position <= row["position"]):
        return row, []
    decoded = event.decode()
    at = event.occurred_at
    new = dict(row)
    new["position"] = event.position
    steps: list[dict[str, Any]] = []
    definition = definition_of(row)

    def complete(step: int) -> None:
        occurrences = dict(new["step_occurrences"])
        occurrence = occurrences.get(str(step), 0) + 1
        occurrences[str(step)] = occurrence
        new["step_occurrences"] = occurrences
        started = row["step_started_at"] or at
        steps.append(
            _step_row(row, definition.step(step), occurrence, started, at, row["step_due_at"], event, calendar)
        )

    if isinstance(decoded, PersonalDataErased):
        new.update(erased(row))
    elif isinstance(decoded, CategorySet):  # set or corrected at step 3 or 4 (issue #18 item 2)
        new["category"] = decoded.category
    elif isinstance(decoded, FeedbackReceived):  # the complainant's answer after the response (docs/adr/0020)
        new.update(
            feedback_satisfied=decoded.satisfied,
            feedback_rating=decoded.rating,
            feedback_at=decoded.given_at,
            feedback_unit=row["disposition_unit"],  # the unit whose response it judged
        )
    elif isinstance(decoded, ComplaintReopened):  # step 5 again; the 12-day figure stays the first response's
        new.update(
            status="in_progress",
            outcome=None,
            current_step=decoded.next_step,
            waiting_role=definition.step(decoded.next_step).role,
            step_started_at=at,
            step_due_at=decoded.next_due_at,
            deadline_at=decoded.deadline_at,  # the new promise (the within_sla figure keeps the first)
            disposition_unit=decoded.unit or row["disposition_unit"],
            closed_at=None,
            reopened=decoded.reopening,
            reopened_unit=row.get("reopened_unit") or row["disposition_unit"],  # whose response was not enough
        )
    elif isinstance(decoded, ObjectionRaised):  # a keberatan waits on the Camat
        new.update(
            status="objection",
            outcome=None,
            current_step=None,
            waiting_role=decoded.role,
            step_started_at=at,
            step_due_at=decoded.due_at,
            closed_at=None,
            objection_at=at,
            objection_state="open",
        )
    elif isinstance(decoded, ObjectionAnswered):
        new["objection_state"] = "answered"
        if decoded.decision == "upheld":  # the response stands: closed again (a reopening follows otherwise)
            _close(new, "resolved", at)
    elif isinstance(decoded, ComplainantDataCorrected):  # as corrected on the complainant's request (reads as erased
        new.update(_person(decoded.complainant))  # once their data is: the event is sealed under the same key)
    elif isinstance(decoded, DocumentsRequested):
        complete(2)
        new.update(status="awaiting_documents", step_started_at=None, step_due_at=None)
    elif isinstance(decoded, DocumentsReceived):
        new.update(status="in_progress", step_started_at=at, step_due_at=decoded.next_due_at)
    elif isinstance(decoded, ResponseDispatched):
        new["dispatched_at"] = at
    elif isinstance(decoded, ComplaintReferred):
        complete(decoded.step)
        new.update(
            referred_to=decoded.agency,
            agency_kind=decoded.agency_kind,
            referral_reason=decoded.reason,
            referred_at=at,
            referral_letter_number=decoded.letter_number,
            referral_follow_up_by=decoded.follow_up_by,
        )
        if decoded.follow_up_by is None:  # written before referrals were followed: it closed the complaint
            new["referral_state"] = "unfollowed"
            _close(new, "referred", at)
        else:
            new.update(
                status="referred",
                referral_state="followed",
                waiting_role=REFERRAL_FOLLOW_UP_ROLE,
                step_started_at=at,
                step_due_at=decoded.follow_up_by,
                within_sla=_within_sla(new, at),
            )
    elif event.type in CLOSING:
        if isinstance(decoded, (IdentityRejected, ResponseSent)):
            complete(decoded.step)
        if isinstance(decoded, ResponseSent):
            new.update(sent_at=at, sent_channel=decoded.channel, receipt=decoded.receipt)
        if isinstance(decoded, ReferralAnswered):
            new.update(
                referral_answer=decoded.answer,
                referral_answered_on=decoded.answered_on,
                referral_reference=decoded.reference,
            )
        if event.type in REFERRAL_ENDS:
            new.update(referral_state=REFERRAL_ENDS[event.type], referral_ended_at=at)
        elif row.get("referral_state") == "followed":  # withdrawn, or a duplicate, while the referral was followed
            new.update(referral_state="ended", referral_ended_at=at)
        _close(new, CLOSING[event.type], at)
    elif isinstance(decoded, DispositionRedirected):  # step 5 starts again, for another unit
        new.update(
            disposition_unit=decoded.unit,
            disposition_instructions=decoded.instructions,
            step_started_at=at,
            step_due_at=decoded.next_due_at,
        )
    elif isinstance(decoded, StepCompleted):
        complete(decoded.step)
        next_step = decoded.next_step
        new.update(
            current_step=next_step,
            waiting_role=definition.step(next_step).role if next_step else None,
            step_started_at=at,
            step_due_at=decoded.next_due_at,
        )
        if isinstance(decoded, ComplaintRegistered):
            new.update(register_number=decoded.register_number, register_year=decoded.register_year)
        elif isinstance(decoded, DispositionIssued):
            new.update(disposition_unit=decoded.unit, disposition_instructions=decoded.instructions, disposed_at=at)
        elif isinstance(decoded, ClarificationGiven):
            new.update(follow_up=decoded.explanation, followed_up_at=at)
        elif isinstance(decoded, LetterSigned):
            new.update(letter_number=decoded.letter_number or row["letter_number"], letter_signed_at=at)
        elif isinstance(decoded, LetterArchived):
            new["letter_number"] = decoded.letter_number or row["letter_number"]
        elif isinstance(decoded, LetterReturned):
            pass
    else:
        return row, []
    return new, steps


# the staff's free texts about the complaint, which may quote the complainant's contacts
FREE_TEXTS = ("disposition_instructions", "follow_up", "referral_reason", "referral_answer")


def erased(row: dict[str, Any]) -> dict[str, Any]:
    """The columns of a complaint's row once its complainant's personal data was erased (the module's docstring)."""
    values: dict[str, Any] = {
        "complainant_name": ERASED_NAME,
        "complainant_nik": None,
        "complainant_phone": None,
        "complainant_email": None,
        "complainant_address": None,
        "receipt": _receipt_without_recipient(row["receipt"], row["sent_channel"]),
    }
    values.update({name: scrub(row[name]) if row[name] else row[name] for name in FREE_TEXTS})
    return values


def _receipt_without_recipient(receipt: str | None, channel: str | None) -> str | None:
    """The letter's delivery receipt without its recipient. As the workflow writes it from notify's report,
    ``"<channel> <masked recipient>[, <provider> ref <16 hex digits>]"``, it becomes ``"<channel> -[, ...]"``: the
    reference is the start of the keyed hash of the provider's message id and names no one (the id itself, which for
    WhatsApp holds the number, is in no receipt: ``shared.contracts.workflow.provider_reference``, migration 0025);
    one a person wrote is masked by pattern (``scrub``)."""
    if not receipt or not channel or not receipt.startswith(f"{channel} "):
        return scrub(receipt) if receipt else receipt
    _, comma, rest = receipt.partition(", ")
    return f"{channel} -{comma}{rest}"


def _within_sla(row: dict[str, Any], at: datetime) -> bool | None:
    """Whether the kecamatan did its part by the 12-working-day deadline. A referred complaint is judged at the
    referral: the kecamatan's part ended when it referred, whenever the receiving office answers (or the
    follow-up lapses, or the complaint is withdrawn meanwhile)."""
    deadline: datetime | None = row["deadline_at"]
    if deadline is None:
        return None
    judged: datetime = row.get("referred_at") or at
    return judged <= deadline


def _close(row: dict[str, Any], outcome: str, at: datetime) -> None:
    """Closed. The 12-working-day figure is the first response's: a complaint closed again after a reopening or a
    keberatan keeps the one it had (docs/adr/0020)."""
    first = not row.get("reopened") and not row.get("objection_at")
    row.update(
        status="closed",
        outcome=outcome,
        current_step=None,
        waiting_role=None,
        step_started_at=None,
        step_due_at=None,
        closed_at=at,
        within_sla=_within_sla(row, at) if first else row["within_sla"],
    )


def _person(person: Complainant) -> dict[str, Any]:
    return {
        "complainant_name": person.name,
        "complainant_nik": person.nik,
        "complainant_phone": person.phone,
        "complainant_email": str(person.email) if person.email else None,
        "complainant_address": person.address,
        "complainant_confidential": person.confidential,
    }


def _received(event: EventEnvelope, calendar: Calendar) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    received = event.decode()
    assert isinstance(received, ComplaintReceived)  # noqa: S101
    person = received.complainant
    row: dict[str, Any] = {
        "complaint_id": received.complaint_id,
        "kecamatan": event.kecamatan,
        "tracking_code": received.tracking_code,
        "register_number": None,
        "register_year": None,
        "received_at": received.received_at,
        "received_date": local_date(received.received_at, calendar),
        **_person(person),
        "channel": received.channel,
        "subject": received.subject,
        "status": "in_progress",
        "outcome": None,
        "current_step": received.next_step,
        "waiting_role": None,
        "step_started_at": received.received_at,
        "step_due_at": received.next_due_at,
        "deadline_at": received.deadline_at,
        "disposition_unit": None,
        "disposition_instructions": None,
        "disposed_at": None,
        "follow_up": None,
        "followed_up_at": None,
        "referred_to": None,
        "agency_kind": None,
        "referral_reason": None,
        "referred_at": None,
        "letter_number": None,
        "letter_signed_at": None,
        "dispatched_at": None,
        "sent_at": None,
        "sent_channel": None,
        "receipt": None,
        "closed_at": None,
        "within_sla": None,
        "sop_version": received.sop_version,
        "sop_overrides": received.sop_overrides,
        "category": received.category,
        "step_occurrences": {"1": 1},
        "position": event.position or 0,
        "referral_state": None,
        "referral_follow_up_by": None,
        "referral_letter_number": None,
        "referral_answer": None,
        "referral_answered_on": None,
        "referral_reference": None,
        "referral_ended_at": None,
        "feedback_satisfied": None,
        "feedback_rating": None,
        "feedback_at": None,
        "reopened": 0,
        "objection_at": None,
        "objection_state": None,
        "feedback_unit": None,
        "reopened_unit": None,
    }
    definition = definition_of(row)
    row["waiting_role"] = definition.step(received.next_step).role
    step1 = definition.step(1)
    done = max(received.received_at, received.entered_at or received.received_at)
    due = calendar.add_office_minutes(received.received_at, step1.standard_time) if step1.unit == "minutes" else None
    return row, [_step_row(row, step1, 1, received.received_at, done, due, event, calendar)]


def _step_row(
    row: dict[str, Any],
    step: sop.Step,
    occurrence: int,
    started: datetime,
    completed: datetime,
    due: datetime | None,
    event: EventEnvelope,
    calendar: Calendar,
) -> dict[str, Any]:
    elapsed = calendar.office_minutes_between(started, completed)
    standard = standard_minutes(step, calendar)
    return {
        "complaint_id": row["complaint_id"],
        "step": step.number,
        "occurrence": occurrence,
        "kecamatan": row["kecamatan"],
        "role": step.role,
        "started_at": started,
        "completed_at": completed,
        "completed_date": local_date(completed, calendar),
        "due_at": due,
        "elapsed_minutes": elapsed,
        "wall_minutes": max(0, int((completed - started).total_seconds() // 60)),
        "standard_minutes": standard,
        "within_standard": completed <= due if due is not None else elapsed <= standard,
        "position": event.position or 0,
    }
