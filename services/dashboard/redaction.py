"""What the event feed shows of an event: an explicit allow-list per event type, never a deny-list.

A field reaches a feed reader only when it is listed here for its event type (or in ``COMMON``), and only
in the form its rule gives: a number stays a number, a free text written by or about the complainant
becomes ``"[disembunyikan]"``, a list of attachments becomes a count, the complainant becomes which kinds
of identity and contact were given. A field a newer writer adds to an event, and every field of an event
type nobody listed yet, is dropped until someone decides here that it may be shown.

Not shown on purpose: names, NIK, phone numbers, e-mail and postal addresses (the complainant's, the
sender's of a reply, the masked recipient of a notification); subjects, descriptions, notes, reasons,
instructions, letter bodies and subjects (free text may name people); tracking codes (a tracking code
opens the complainant's receipt and response letter, which carry the name: ``/v1/letters/track/...``;
the complaint id is the join key instead); usernames of staff (the actor keeps its kind and role).

Pure: no I/O, no clock.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from shared.contracts import workflow as w
from shared.events import EventEnvelope, registry

REDACTED = "[disembunyikan]"
ROLES = frozenset({"staf", "kasi", "sekcam", "camat", "kabupaten", "admin"})


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Any = _Drop()  # a rule's answer for a value that does not have the expected form: left out

Rule = Callable[[Any], Any]
Field = Rule | tuple[str, Rule]  # a rule, or (the name shown, a rule)


# --- rules ----------------------------------------------------------------------------------------


def integer(value: Any) -> Any:
    return value if isinstance(value, int) and not isinstance(value, bool) else DROP


def timestamp(value: Any) -> Any:
    """An ISO 8601 date-time (as pydantic writes it), shown as it is."""
    if not isinstance(value, str) or len(value) > 40:
        return DROP
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
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


def hidden(value: Any) -> Any:
    """A free text: only whether there was one."""
    return REDACTED if value not in (None, "") else value


def count(value: Any) -> Any:
    return len(value) if isinstance(value, list) else DROP


def complainant(value: Any) -> Any:
    """Which kinds of identity and contact the complainant gave, never the values."""
    if not isinstance(value, Mapping):
        return DROP
    return {f"has_{k}": bool(value.get(k)) for k in ("nik", "phone", "email", "address")}


# --- the allow-lists ------------------------------------------------------------------------------

# every event that completes (or is) an SOP step says which step, the SOP's output, what comes next
COMMON: dict[str, Field] = {
    "step": integer,
    "output": label(200),
    "next_step": integer,
    "next_due_at": timestamp,
}

_LETTER = {"letter_version": integer, "notes": hidden}
_NOTIFICATION: dict[str, Field] = {
    "delivery_id": identifier,
    "kind": code,
    "audience": one_of("complainant", "staff"),
    "channel": code,
    "provider": code,
    # recipient (masked, still personal) and provider_message_id (an e-mail Message-ID may hold an address): out
}

ALLOWED: dict[str, dict[str, Field]] = {
    w.ComplaintReceived.type: {
        "complaint_id": identifier,
        "submission_id": identifier,
        "kecamatan": code,
        "channel": code,
        "complainant": complainant,
        "subject": hidden,
        "description": hidden,
        "received_at": timestamp,
        "sop_version": code,
        "deadline_at": timestamp,
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
    w.ComplaintReferred.type: {
        "agency": label(200),
        "agency_kind": one_of("opd", "desa", "sp4n-lapor", "lainnya"),
        "reason": hidden,
    },
    w.ClarificationGiven.type: {"explanation": hidden},
    w.LetterRequested.type: {"notes": hidden},
    w.LetterDrafted.type: {"letter_version": integer, "perihal": hidden, "body": hidden},
    w.LetterApproved.type: _LETTER,
    w.LetterReturned.type: _LETTER,
    w.LetterDuplicated.type: {"copies": ("copies_count", count)},
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
        # sender: out
    },
}


def redact_payload(event_type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``payload`` that ``event_type``'s allow-list lets through, each in its rule's form."""
    result: dict[str, Any] = {}
    for name, field in {**COMMON, **ALLOWED.get(event_type, {})}.items():
        if name not in payload:
            continue
        shown, rule = field if isinstance(field, tuple) else (name, field)
        value = payload[name]
        if value is None:
            result[shown] = None
            continue
        kept = rule(value)
        if kept is not DROP:
            result[shown] = kept
    return result


def public_actor(actor: Mapping[str, Any]) -> dict[str, Any]:
    """Who did it, by kind and role; the name only of a system process (``intake``, ``scheduler``)."""
    kind = actor.get("kind")
    shown: dict[str, Any] = {"kind": kind if kind in ("user", "complainant", "system") else None}
    shown["role"] = actor.get("role") if actor.get("role") in ROLES else None
    if kind == "system" and code(actor.get("user_id")) is not DROP:
        shown["user_id"] = actor["user_id"]
    return shown


def current_payload(event: EventEnvelope) -> tuple[dict[str, Any], int]:
    """The payload upcast to its type's current schema (so one allow-list per type serves every stored
    version), and that schema version. An event the registry cannot decode (a type this release does not
    know, or a payload its model refuses) is given as stored: the allow-list still decides what is shown."""
    try:
        decoded = registry.decode(event.type, event.schema_version, event.payload)
    except (KeyError, ValidationError):
        return dict(event.payload), event.schema_version
    return decoded.model_dump(mode="json"), type(decoded).schema_version


def _complaint_id(stream: str) -> str | None:
    found = identifier(stream.removeprefix("complaint-")) if stream.startswith("complaint-") else DROP
    return None if found is DROP else found


def public_event(event: EventEnvelope) -> dict[str, Any]:
    """One event as the feed shows it (JSON-ready values)."""
    payload, schema_version = current_payload(event)
    shown = redact_payload(event.type, payload)
    stream = event.stream_id
    return {
        "position": event.position,
        "event_id": str(event.event_id),
        "type": event.type,
        "stream": stream,
        "complaint_id": _complaint_id(stream),
        "version": event.version,
        "kecamatan": event.kecamatan,
        "occurred_at": event.occurred_at.isoformat(),
        "recorded_at": event.recorded_at.isoformat() if event.recorded_at else None,
        "schema_version": schema_version,
        "actor": public_actor(event.actor.model_dump()),
        "step": shown.get("step"),
        "output": shown.get("output"),
        "payload": shown,
    }
