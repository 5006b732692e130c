"""What the event feed shows of an event: an explicit allow-list per event type, never a deny-list (the
allow-lists are ``shared.masking.EVENTS``, the one masking policy every masked view shares).

A field reaches a feed reader only when it is listed there for its event type (or in ``COMMON``), and only
in the form its rule gives: a number stays a number, a free text written by or about the complainant
becomes ``"[disembunyikan]"``, a list of attachments becomes a count, the complainant becomes which kinds
of identity and contact were given. A field a newer writer adds to an event, and every field of an event
type nobody listed yet, is dropped until someone decides there that it may be shown.

Not shown on purpose: names, NIK, phone numbers, e-mail and postal addresses (the complainant's, the
sender's of a reply, the masked recipient of a notification); subjects, descriptions, notes, reasons,
instructions, letter bodies and subjects (free text may name people); tracking codes (a tracking code
opens the complainant's receipt and response letter, which carry the name: ``/v1/letters/track/...``;
the complaint id is the join key instead); usernames of staff (the actor keeps its kind and role).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from shared import masking
from shared.events import EventEnvelope, registry

REDACTED = masking.REDACTED
COMMON = masking.COMMON
ALLOWED = masking.EVENTS  # the allow-lists live with every other masked view, in shared/masking.py


def redact_payload(event_type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``payload`` that ``event_type``'s allow-list lets through, each in its rule's form; a
    confidential complainant (pelapor rahasia) concealed first, not even a first name."""
    person = payload.get("complainant")
    if isinstance(person, Mapping) and person.get("confidential"):
        payload = {**payload, "complainant": masking.conceal(person)}
    return masking.event_payload(event_type, payload)


def public_actor(actor: Mapping[str, Any]) -> dict[str, Any]:
    """Who did it, by kind and role; the name only of a system process (``intake``, ``scheduler``)."""
    return masking.actor(actor)


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
    found = masking.identifier(stream.removeprefix("complaint-")) if stream.startswith("complaint-") else masking.DROP
    return None if found is masking.DROP else found


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
