"""The one masking policy (invariant 9): what a reader outside the complainant's kecamatan sees of a complaint.

**Who.** Only the staff of the complaint's own kecamatan (staf, kasi, sekcam, camat: tenancy already keeps
them to it) see personal data (``sees_personal_data``). Kabupaten users and admins read masked views, and
no document that carries personal data (ID scans and photos, receipts, drafts, signed letters) is served
to them: there is no redacted version, so the download answers 403 ``personal_data_not_available``
(``shared.auth.refuse_personal_document``, which asks ``sees_personal_data``).

**What.** A masked reader sees a view through its allow-list: each field it may see, with the rule that
says in what form. A field that is not listed (a column or an event field someone adds later) is left
out until someone decides here that it may be shown. The views, and who uses them:

* ``COMPLAINANT``: the person, each value masked (NIK ``3528********0001``, phone ``+62812****890``,
  e-mail ``s***@example.id``, name its first word ``Siti ***``, address ``***``).
* ``COMPLAINT``: the workflow API's ``GET /v1/complaints/{id}`` (and so the web app's complaint page).
* ``EVENTS`` (with ``COMMON``): each event type's payload, as the dashboard's event feed shows it;
  ``HISTORY`` is the same for a complaint's history, with the attachments' kinds and the SOP overrides the
  staff pages need. ``ACTOR``: who did it, by kind and role (no staff username).
* ``COMPLAINT_ROW``: a row of the dashboard's complaints projection, as the Buku Rekap (JSON, CSV, XLSX)
  and the overdue list read it.

Whoever holds a complaint's tracking code (the complainant; it opens their receipt and letter) reads on the
public tracking page what a receiving office answered to a referral, through ``scrub``: the complainant's own
values and anything shaped like a NIK, a phone number or an e-mail address ``[disembunyikan]``.

Never shown to a masked reader: NIK, phone, e-mail, address, the full name; the tracking code (it opens
the receipt and the response letter without signing in: ``/v1/letters/track/...``; the complaint id is the
join key instead); free text written by or about the complainant (subject, description, replies, notes,
instructions, explanations, reasons, perihal, letter bodies, hand-written receipts, providers' errors),
shown as ``[disembunyikan]`` when there was one.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from shared.contracts import sop
from shared.contracts import workflow as w
from shared.contracts.accounts import ROLES
from shared.contracts.intake import ANONYMOUS_NAME

REDACTED = "[disembunyikan]"
# what a confidential complainant (pelapor rahasia) reads as to all but the Kasi/Kasubag and the Camat
CONFIDENTIAL_NAME = "(pelapor rahasia)"
PLACEHOLDER_NAMES = frozenset({CONFIDENTIAL_NAME, w.ERASED_NAME, ANONYMOUS_NAME})
_PERSON_EVENTS = frozenset({w.ComplaintReceived.type, w.ComplainantDataCorrected.type})


class Reader(Protocol):
    """Who reads (``shared.auth.Principal``): whether they are staff of a kecamatan, in which role."""

    @property
    def is_staff(self) -> bool: ...

    @property
    def role(self) -> str: ...


# --- who ------------------------------------------------------------------------------------------


# who sees a confidential complainant (pelapor rahasia, issue #17 item 5): the officer who verifies identity (step 2
# of the SOP, "Melakukan Verifikasi Identitas Pengadu", is the Kasi/Kasubag's) and the Camat; the Staf and the Sekcam
# work on the complaint without knowing who it is. By role: a kecamatan whose SK gives step 2 to another role, or a
# Kasi of another unit, is not told apart (docs/adr/0017)
CONFIDENTIAL_READERS = frozenset({"kasi", "camat"})


def sees_personal_data(user: Reader, confidential: bool = False) -> bool:
    """Personal data only inside the kecamatan: its own staff (who can read no other kecamatan); a confidential
    complainant's only its Kasi/Kasubag (who verify identity) and Camat."""
    return user.is_staff and (not confidential or user.role in CONFIDENTIAL_READERS)


# --- rules: a value in, the value shown (or DROP) out ------------------------------------------------


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Any = _Drop()  # a rule's answer for a value that does not have the expected form: left out

Rule = Callable[[Any], Any]
Field = Rule | tuple[str, Rule]  # a rule, or (the name shown, a rule)
View = Mapping[str, Field]


def keep(value: Any) -> Any:
    """A value the system wrote that is not about a person (an id, a date, a number, a status)."""
    return value


def withheld(_value: Any) -> Any:
    """A field the shape keeps, with no value for a masked reader (the tracking code)."""
    return None


def hidden(value: Any) -> Any:
    """A free text: only whether there was one."""
    return REDACTED if value not in (None, "") else value


def integer(value: Any) -> Any:
    return value if isinstance(value, int) and not isinstance(value, bool) else DROP


def timestamp(value: Any) -> Any:
    """An ISO 8601 date-time (as pydantic writes it), shown as it is."""
    if not isinstance(value, str) or len(value) > 40:
        return DROP
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))  # noqa: FURB162  (as before: odd strings too)
    except ValueError:
        return DROP
    return value


def identifier(value: Any) -> Any:
    """A UUID (complaint, submission, document, delivery ids)."""
    try:
        return str(UUID(str(value)))
    except ValueError:
        return DROP


_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,79}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")


def code(value: Any) -> Any:
    """A machine token without spaces: a channel, a kind, a slug, a letter number, an SOP version."""
    return value if isinstance(value, str) and _CODE.fullmatch(value) else DROP


def sha256(value: Any) -> Any:
    return value if isinstance(value, str) and _HEX.fullmatch(value) else DROP


def label(max_length: int) -> Rule:
    """A short text that is not about a person: the SOP's own words, a unit, an agency."""

    def rule(value: Any) -> Any:
        if not isinstance(value, str) or len(value) > max_length or "@" in value:
            return DROP
        return value

    return rule


def one_of(*allowed: str) -> Rule:
    def rule(value: Any) -> Any:
        return value if value in allowed else DROP

    return rule


def count(value: Any) -> Any:
    return len(value) if isinstance(value, list) else DROP


def _keep_ends(value: str, head: int, tail: int, stars: int | None = None) -> str:
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (stars or len(value) - head - tail) + (value[-tail:] if tail else "")


def mask_nik(value: Any) -> Any:
    """``3528********0001``: the province and kabupaten, and the serial."""
    return _keep_ends(str(value), 4, 4) if value else value


def mask_phone(value: Any) -> Any:
    """``+62812****890``."""
    if not value:
        return value
    return _keep_ends(str(value), 6, 3, stars=4) if len(str(value)) > 9 else "****"


def mask_email(value: Any) -> Any:
    """``s***@example.id``."""
    if not value:
        return value
    local, at, domain = str(value).partition("@")
    return f"{local[:1]}***@{domain}" if at else "***"


def mask_name(value: Any) -> Any:
    """``Siti ***``: the first word (a name that is a placeholder, erased or confidential, as it is)."""
    if not value or value in PLACEHOLDER_NAMES:
        return value
    words = str(value).split()
    return f"{words[0]} ***" if words else "***"


def mask_address(value: Any) -> Any:
    return "***" if value else value


def nested(view: View) -> Rule:
    """A mapping shown through its own view."""

    def rule(value: Any) -> Any:
        return apply(view, value) if isinstance(value, Mapping) else DROP

    return rule


def each(view: View) -> Rule:
    """A list of mappings, each shown through ``view``."""

    def rule(value: Any) -> Any:
        if not isinstance(value, list):
            return DROP
        return [apply(view, v) for v in value if isinstance(v, Mapping)]

    return rule


def complainant_kinds(value: Any) -> Any:
    """Which kinds of identity and contact the complainant gave, never the values."""
    if not isinstance(value, Mapping):
        return DROP
    return {f"has_{k}": bool(value.get(k)) for k in ("nik", "phone", "email", "address")}


def sop_settings(value: Any) -> Any:
    """A kecamatan's SOP overrides (roles and standard times of steps), if they are exactly that."""
    if not isinstance(value, Mapping):
        return DROP
    try:
        sop.with_overrides(sop.DEFAULT, dict(value))
    except (ValueError, TypeError, AttributeError):
        return DROP
    steps = value.get("steps") or {}
    return {
        "steps": {
            str(k): {f: v for f, v in change.items() if f in ("role", "standard_time", "unit")}
            for k, change in steps.items()
        }
    }


def apply(view: View, data: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``data`` that ``view`` lets through, each in its rule's form (None stays None)."""
    result: dict[str, Any] = {}
    for name, field in view.items():
        if name not in data:
            continue
        shown, rule = field if isinstance(field, tuple) else (name, field)
        value = data[name]
        if value is None:
            result[shown] = None
            continue
        kept = rule(value)
        if kept is not DROP:
            result[shown] = kept
    return result


# --- the views --------------------------------------------------------------------------------------

COMPLAINANT: View = {
    "name": mask_name,
    "nik": mask_nik,
    "phone": mask_phone,
    "email": mask_email,
    "address": mask_address,
}

ACTOR: View = {"kind": one_of("user", "complainant", "system"), "role": one_of(*ROLES)}


def actor(value: Mapping[str, Any]) -> dict[str, Any]:
    """Who did it, by kind and role; the name only of a system process (``intake``, ``scheduler``)."""
    shown = {"kind": None, "role": None, **apply(ACTOR, value)}
    if value.get("kind") == "system" and code(value.get("user_id")) is not DROP:
        shown["user_id"] = value["user_id"]
    return shown


# every event that completes (or is) an SOP step says which step, the SOP's output, what comes next
COMMON: View = {
    "step": integer,
    "output": label(200),
    "next_step": integer,
    "next_due_at": timestamp,
}

_LETTER: View = {"letter_version": integer, "notes": hidden}
_NOTIFICATION: View = {
    "delivery_id": identifier,
    "kind": code,
    "audience": one_of("complainant", "staff"),
    "channel": code,
    "provider": code,
    # recipient (masked, still personal), provider_message_id (a WhatsApp id holds the number, an e-mail Message-ID
    # may hold an address; sealed in the store) and its keyed hash (of no use to a reader of the feed): out
}

EVENTS: dict[str, View] = {
    w.ComplaintReceived.type: {
        "complaint_id": identifier,
        "submission_id": identifier,
        "kecamatan": code,
        "channel": code,
        "complainant": complainant_kinds,
        "subject": hidden,
        "description": hidden,
        "received_at": timestamp,
        "sop_version": code,
        "deadline_at": timestamp,
        "category": code,
        "attachments": ("attachments_count", count),
        "entered_at": timestamp,
        # tracking_code, sop_overrides, entered_by (a staff username): out
    },
    w.IdentityVerified.type: {"notes": hidden},
    w.DocumentsRequested.type: {"message": hidden, "close_after": timestamp},
    w.DocumentsReceived.type: {"notes": hidden},
    w.IdentityRejected.type: {"reason": hidden},
    w.ClosedIncomplete.type: {"reason": hidden},
    w.ComplaintRegistered.type: {"register_number": integer, "register_year": integer},
    w.DispositionIssued.type: {"unit": label(64), "instructions": hidden},
    w.DispositionRedirected.type: {
        "unit": label(64),
        "previous_unit": label(64),
        "instructions": hidden,
        "reason": hidden,
        "next_due_at": timestamp,
    },
    w.ComplaintReferred.type: {
        "agency": label(200),
        "agency_kind": one_of("opd", "desa", "sp4n-lapor", "lainnya"),
        "agency_address": label(200),  # an office's address
        "reason": hidden,
        "follow_up_by": timestamp,
        "letter_number": code,
        "letter_sequence": integer,
        "letter_year": integer,
    },
    # the office's answer and its reference may quote the complainant: only whether there was one
    w.ReferralAnswered.type: {"answer": hidden, "answered_on": timestamp, "reference": hidden},
    w.ReferralLapsed.type: {"reason": hidden},
    w.ClarificationGiven.type: {"explanation": hidden},
    w.LetterRequested.type: {"notes": hidden},
    w.LetterDrafted.type: {"letter_version": integer, "perihal": hidden, "body": hidden},
    w.LetterApproved.type: _LETTER,
    w.LetterReturned.type: _LETTER,
    # the tembusan are offices, but typed by staff (a complainant could be named there): how many, like copies
    w.LetterDuplicated.type: {"copies": ("copies_count", count), "tembusan": ("tembusan_count", count)},
    w.LetterSigned.type: {
        "letter_version": integer,
        "letter_number": code,
        "letter_sequence": integer,
        "letter_year": integer,
    },
    w.LetterIssued.type: {
        "letter_version": integer,
        "letter_number": code,
        "document_id": identifier,
        "sha256": sha256,
        "size": integer,
        # verify_url: a URL, derived from document_id; out
    },
    w.LetterArchived.type: {"letter_number": code, "document_id": identifier},
    w.ResponseSent.type: {"channel": code, "receipt": hidden},
    w.ResponseDispatched.type: {"letter_number": code, "document_id": identifier},
    w.ComplaintWithdrawn.type: {"reason": hidden},
    w.MarkedDuplicate.type: {"reason": hidden},  # duplicate_of is a tracking code: out
    w.CategorySet.type: {"category": code, "previous": code},  # codes of the kabupaten's list
    # the complainant's answer after a closing (docs/adr/0020): the rating and what it led to, never their words
    w.FeedbackReceived.type: {
        "closing": integer,
        "satisfied": keep,
        "rating": integer,
        "consequence": one_of("none", "reopened", "objection"),
        "given_at": timestamp,
        "comment": hidden,
    },
    w.ComplaintReopened.type: {
        "cause": one_of("feedback", "objection"),
        "reopening": integer,
        "unit": label(64),
        "step": integer,
        "next_step": integer,
        "next_due_at": timestamp,
        "deadline_at": timestamp,
        "instructions": hidden,
    },
    w.ObjectionRaised.type: {"closing": integer, "role": one_of(*ROLES), "due_at": timestamp},
    w.ObjectionAnswered.type: {"decision": one_of("upheld", "reopened"), "answer": hidden},
    # that a complainant's data was erased may be seen; why, by whom and the request's id are the office's
    w.PersonalDataErased.type: {"reason": hidden},
    # that the complainant's data was corrected, and how many fields; never the values or why
    w.ComplainantDataCorrected.type: {"corrected": ("corrected_count", count), "reason": hidden},
    w.StepOverdue.type: {"role": one_of(*ROLES), "unit": label(64), "due_at": timestamp},
    w.NotificationSent.type: _NOTIFICATION,
    w.NotificationDelivered.type: _NOTIFICATION,
    w.NotificationFailed.type: {**_NOTIFICATION, "error": hidden},  # a provider's error may quote the address
    w.NotificationUncertain.type: {**_NOTIFICATION, "error": hidden},
    w.ComplainantReplied.type: {
        "channel": code,
        "text": hidden,
        "attachments": ("attachments_count", count),
        "received_at": timestamp,
        # sender: out  # noqa: ERA001
    },
}

# an attachment as a masked complaint page lists it: which kind of file, never its name or its digest
ATTACHMENT: View = {"kind": code, "content_type": code, "size": integer}

# a complaint's history on its page: the feed's view, plus what the page needs to draw it (the files'
# kinds instead of their count; the SOP overrides the complaint started with, for each step's standard)
HISTORY: dict[str, View] = {
    **EVENTS,
    w.ComplaintReceived.type: {
        **{k: v for k, v in EVENTS[w.ComplaintReceived.type].items() if k != "attachments"},
        "attachments": each(ATTACHMENT),
        "sop_overrides": sop_settings,
    },
    w.ComplainantReplied.type: {
        **{k: v for k, v in EVENTS[w.ComplainantReplied.type].items() if k != "attachments"},
        "attachments": each(ATTACHMENT),
    },
}


def event_payload(event_type: str, payload: Mapping[str, Any], views: Mapping[str, View] = EVENTS) -> dict[str, Any]:
    """What a masked reader sees of one event's payload (an event type nobody listed: only ``COMMON``)."""
    return apply({**COMMON, **views.get(event_type, {})}, payload)


def _history(items: Any) -> Any:
    if not isinstance(items, list):
        return DROP
    return [
        {
            **apply(HISTORY_ITEM, h),
            "actor": actor(h.get("actor") or {}),
            "payload": event_payload(h.get("type", ""), h.get("payload") or {}, HISTORY),
        }
        for h in items
        if isinstance(h, Mapping)
    ]


HISTORY_ITEM: View = {
    "position": integer,
    "version": integer,
    "type": code,
    "occurred_at": keep,
    "step": integer,
    "output": label(200),
}

COMPLAINT: View = {
    "id": keep,
    "tracking_code": withheld,
    "kecamatan": keep,
    "status": keep,
    "outcome": keep,
    "version": keep,
    "current_step": keep,
    "due_at": keep,
    "overdue": keep,
    "deadline_at": keep,
    "register_number": keep,
    "letter_number": keep,
    "unit": keep,
    "channel": keep,
    "subject": hidden,
    "description": hidden,
    "complainant": nested(COMPLAINANT),
    "received_at": keep,
    "allowed_actions": keep,
    "history": _history,
    "confidential": keep,  # that the complainant asked for it says nothing of who they are
    "category": keep,  # a code of the kabupaten's list
}

COMPLAINT_ROW: View = {
    "complaint_id": keep,
    "kecamatan": keep,
    "tracking_code": withheld,
    "register_number": keep,
    "register_year": keep,
    "received_at": keep,
    "received_date": keep,
    "complainant_name": mask_name,
    "complainant_nik": mask_nik,
    "complainant_phone": mask_phone,
    "complainant_email": mask_email,
    "complainant_address": mask_address,
    "complainant_confidential": keep,
    "category": keep,  # a code of the kabupaten's list
    "channel": keep,
    "subject": hidden,
    "status": keep,
    "outcome": keep,
    "current_step": keep,
    "waiting_role": keep,
    "step_started_at": keep,
    "step_due_at": keep,
    "deadline_at": keep,
    "disposition_unit": label(64),
    "disposition_instructions": hidden,
    "disposed_at": keep,
    "follow_up": hidden,
    "followed_up_at": keep,
    "referred_to": label(200),
    "agency_kind": keep,
    "referral_reason": hidden,
    "referred_at": keep,
    # a referral followed until the receiving office answers; its answer and reference may quote the complainant
    "referral_state": keep,
    "referral_follow_up_by": keep,
    "referral_letter_number": keep,
    "referral_answer": hidden,
    "referral_answered_on": keep,
    "referral_reference": hidden,
    "referral_ended_at": keep,
    "letter_number": keep,
    "letter_signed_at": keep,
    "dispatched_at": keep,
    "sent_at": keep,
    "sent_channel": keep,
    "receipt": hidden,
    "closed_at": keep,
    "within_sla": keep,
    "sop_version": keep,
    "sop_overrides": sop_settings,
    # step_occurrences, position: the projection's own bookkeeping, out
}


_EMAIL_LIKE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# a NIK or a number written with separators ("3528 0112 0380 0001", "3528.0112...", "(0812) 345-67890"): the
# digits are what identifies, however they are grouped
_SEP = r"[\s.\-()]{0,2}"
_NIK_LIKE = re.compile(rf"(?<!\d)\d(?:{_SEP}\d){{15}}(?!\d)")
# a mobile number (08..., +62 8...): an office's landline ("(0324) 322-111") is not about a person and stays
_PHONE_LIKE = re.compile(rf"(?<![\w+])(?:\+?62{_SEP}|\(?0)8(?:{_SEP}\d){{7,13}}(?!\d)")
# an address spelled out against harvesters: "budi [at] mail [dot] com"
_AT_WORD = re.compile(
    r"[\w.+-]+\s*[\[(]\s*(?:at|et)\s*[\])]\s*[\w-]+(?:\s*(?:\.|[\[(]\s*dot\s*[\])])\s*[\w-]+)+", re.IGNORECASE
)


def _digits_pattern(value: str) -> str | None:
    """A known NIK or phone number as a pattern matching it however its digits are grouped (None: too few)."""
    digits = re.sub(r"\D", "", value)
    if digits.startswith("62"):
        digits = "0" + digits[2:]  # +62 812 ... is 0812 ...
    if len(digits) < 8:
        return None
    head = r"\(?(?:\+?62|0)" if digits.startswith("0") else re.escape(digits[0])
    return rf"(?<!\d){head}{''.join(f'{_SEP}{d}' for d in digits[1:])}(?!\d)"


def scrub(value: str, known: Iterable[str | None] = (), names: Iterable[str | None] = ()) -> str:
    """A free text someone wrote to the complainant (the answer of an office a complaint was referred to) as a
    holder of the tracking code reads it: e-mail addresses, NIK-like numbers (16 digits), phone numbers, the
    complainant's own values (``known``: NIK, phone, e-mail, address, each as a whole) and names (``names``: whole,
    and word by word) become ``[disembunyikan]``. It cannot find every personal datum (another person's name, a
    house described in words): for the code's holder only, never for a list anyone may read."""
    text = _EMAIL_LIKE.sub(REDACTED, value)
    text = _AT_WORD.sub(REDACTED, text)
    for item in known:  # the complainant's own NIK and phone, whatever the grouping of their digits
        pattern = _digits_pattern(item) if item and re.fullmatch(r"[\d\s.+\-()]+", item) else None
        if pattern:
            text = re.sub(pattern, REDACTED, text)
    text = _NIK_LIKE.sub(REDACTED, text)
    text = _PHONE_LIKE.sub(REDACTED, text)
    words = {item.strip() for item in (*known, *names) if item and item.strip()}
    words.update(w for name in names if name for w in name.split() if len(w) >= 3)
    for word in sorted(words, key=len, reverse=True):  # a whole name before its words
        text = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", REDACTED, text, flags=re.IGNORECASE)
    return re.sub(rf"{re.escape(REDACTED)}(?:\s+{re.escape(REDACTED)})+", REDACTED, text)


def row_masked(user: Reader, row: Mapping[str, Any], *, export: bool = False) -> bool:
    """Whether a read-model row is shown to ``user`` masked: as ``sees_personal_data`` decides for its complainant;
    a confidential complainant in an export (CSV, XLSX) always (a file travels further than a page)."""
    confidential = bool(row.get("complainant_confidential"))
    return not sees_personal_data(user, confidential) or (confidential and export)


def conceal(complainant: Any) -> Any:
    """A confidential complainant as a masked reader gets them: no value at all, not even a first name (in a
    village a first name is often enough); the masked views are applied after."""
    if not isinstance(complainant, Mapping):
        return complainant
    return {"name": CONFIDENTIAL_NAME, "confidential": True}


def conceal_complaint(body: Mapping[str, Any]) -> dict[str, Any]:
    """A complaint's body (``COMPLAINT``) with its confidential complainant concealed, in the history too (the
    events that carry the person: received, corrected). Replies keep their masked views (text hidden, no sender)."""
    concealed = dict(body)
    concealed["complainant"] = conceal(body.get("complainant"))
    if isinstance(body.get("history"), list):
        concealed["history"] = [
            {**h, "payload": {**h["payload"], "complainant": conceal(h["payload"].get("complainant"))}}
            if isinstance(h, Mapping) and h.get("type") in _PERSON_EVENTS and isinstance(h.get("payload"), Mapping)
            else h
            for h in body["history"]
        ]
    return concealed


_WHO_EVENTS = frozenset(
    {
        w.ComplainantReplied.type,  # what they wrote and from where
        w.NotificationSent.type,  # to whom (masked, still theirs)
        w.NotificationDelivered.type,
        w.NotificationFailed.type,
        w.NotificationUncertain.type,
    }
)


def conceal_for_staff(body: Mapping[str, Any]) -> dict[str, Any]:
    """A pelapor rahasia's complaint as the kecamatan's staff who may not see them (the Staf, the Sekcam) read it: the
    complaint to work on (subject, description, instructions, clarifications, the letter's text: their steps need
    them), not who complains: the complainant concealed, the tracking code withheld (it opens the receipt, which
    names them), and in the history the events that carry the person concealed and those that say what they wrote or
    where they were reached shown as the masked views show them."""
    concealed = conceal_complaint(body)
    concealed["tracking_code"] = None
    history = []
    for h in concealed.get("history") or []:
        if isinstance(h, Mapping) and isinstance(h.get("payload"), Mapping):
            payload = dict(h["payload"])
            payload.pop("tracking_code", None)
            if h.get("type") in _WHO_EVENTS or h.get("type") == w.ComplainantDataCorrected.type:
                payload = event_payload(h["type"], payload, HISTORY)
            h = {**h, "payload": payload}
        history.append(h)
    concealed["history"] = history
    return concealed


def complaint_row(row: Mapping[str, Any], masked: bool) -> dict[str, Any]:
    """A row of the dashboard's complaints projection as this reader may see it (``masked``: as
    ``sees_personal_data`` decides for the reader and the row's ``complainant_confidential``); a confidential
    complainant concealed."""
    if not masked:
        return dict(row)
    if row.get("complainant_confidential"):
        row = {**row, **dict.fromkeys(CONFIDENTIAL_ROW_COLUMNS), "complainant_name": CONFIDENTIAL_NAME}
    return apply(COMPLAINT_ROW, row)


CONFIDENTIAL_ROW_COLUMNS = (
    "complainant_name",
    "complainant_nik",
    "complainant_phone",
    "complainant_email",
    "complainant_address",
)
