"""Which messages an event calls for: to whom, on which channel, saying what. Pure: no I/O.

The complainant is answered on their own channel (an SMS complaint by SMS, an e-mail one by e-mail);
one that came by web form, complaint box or phone on the first of e-mail, WhatsApp, SMS they gave. A
channel this deployment has not configured passes to the next. WhatsApp carries only what it may: the
acknowledgment of a WhatsApp complaint (inside the 24-hour window the complainant's own message opened)
and kinds with an approved template; anything else to that number goes by SMS. The signed letter (step 12) also goes
by e-mail with the PDF attached whenever an address is known, since an SMS can only carry its link.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from services.notify.domain.templates import Template, render, to_gsm
from shared.contracts.workflow import (
    ClosedIncomplete,
    ComplaintReceived,
    ComplaintReferred,
    ComplaintReopened,
    ComplaintWithdrawn,
    DocumentsRequested,
    IdentityRejected,
    MarkedDuplicate,
    ObjectionAnswered,
    ObjectionRaised,
    ReferralAnswered,
    ReferralLapsed,
    ResponseDispatched,
)
from shared.tanggal import format_tanggal

NAMESPACE = uuid.UUID("6e6f7469-6679-2d70-656e-676164756161")
WIB = ZoneInfo("Asia/Jakarta")
PREFERENCE = ("email", "whatsapp", "sms")

# who answers for whom in a kecamatan office (an overdue step alerts the role and its superior)
SUPERIOR = {"staf": "sekcam", "kasi": "sekcam", "sekcam": "camat", "camat": "camat"}
# the events the complainant is told of, and the kind of message each one is
COMPLAINANT_KIND: dict[type, str] = {
    ComplaintReceived: "acknowledgment",
    DocumentsRequested: "documents_requested",
    ComplaintReferred: "referred",
    ReferralAnswered: "referral_answered",  # what the office the complaint was referred to answered
    ReferralLapsed: "referral_lapsed",  # it did not answer in time: the kecamatan stops following the referral
    ResponseDispatched: "response_letter",
    IdentityRejected: "identity_rejected",
    ClosedIncomplete: "closed_incomplete",
    ComplaintWithdrawn: "withdrawn",
    MarkedDuplicate: "duplicate",  # and the original's complainant: "duplicate_joined" (docs/adr/0021)
    # after the response (docs/adr/0020): reopened, a keberatan taken to the Camat, and the Camat's answer
    ComplaintReopened: "reopened",
    ObjectionRaised: "objection_raised",
    ObjectionAnswered: "objection_answered",
}
UNIT_BOUND_STEPS = {5, 6}  # steps a Kasi answers for only in the unit the complaint was disposed to


def delivery_id(source_event_id: UUID, kind: str, channel: str, recipient: str) -> UUID:
    """The idempotency key of one message: the same event, kind, channel and recipient give the same id."""
    return uuid.uuid5(NAMESPACE, f"{source_event_id}:{kind}:{channel}:{recipient.casefold()}")


def tanggal(at: datetime, with_time: bool = False, zone: ZoneInfo = WIB, label: str = "WIB") -> str:
    """``at`` as the office's people write it, in the kabupaten's time zone (``zone``, named ``label``: WIB,
    WITA or WIT): "20 Maret 2026", with the time "20 Maret 2026 14.05 WIB". An instant late in the evening in
    UTC is the next day in Indonesia: the date is always the local one."""
    local = at.astimezone(zone)
    text = format_tanggal(local.date())
    return f"{text} {local:%H.%M} {label}" if with_time else text


@dataclass(frozen=True)
class Contact:
    channel: str
    address: str


def complainant_contacts(
    own_channel: str,
    email: str | None,
    phone: str | None,
    available: set[str],
    *,
    letter: bool = False,
    whatsapp: bool = True,
) -> list[Contact]:
    """Where a message to the complainant goes (first: the main one). ``whatsapp`` False: WhatsApp may not
    carry this message (a business-initiated message outside the 24-hour window needs an approved
    template): the same phone number gets an SMS instead."""
    if not whatsapp:
        available = available - {"whatsapp"}
    address = {"email": email, "sms": phone, "whatsapp": phone}
    order = [own_channel] if own_channel in address else []
    order += [c for c in PREFERENCE if c not in order]
    chosen = [Contact(c, a) for c in order if (a := address[c]) and c in available][:1]
    if letter and email and "email" in available and (not chosen or chosen[0].channel != "email"):
        chosen.append(Contact("email", email))
    return chosen


def staff_contact(
    notify_channel: str | None, email: str | None, phone: str | None, available: set[str]
) -> Contact | None:
    """Where a message to a member of staff goes: the channel they chose if it is configured here and they
    gave its address, else e-mail; None when neither can reach them."""
    wanted = notify_channel or "email"
    address = email if wanted == "email" else phone
    if not address or wanted not in available:
        wanted, address = "email", email
    if not address or wanted not in available:
        return None
    return Contact(wanted, address)


@dataclass(frozen=True)
class Planned:
    id: UUID
    kind: str
    audience: str  # complainant | staff
    channel: str  # email | sms | whatsapp | none (nowhere to send: recorded as failed)
    recipient: str
    subject: str | None
    body: str
    username: str | None = None
    attachment: dict[str, Any] | None = None  # the document: sha256, content_type, filename
    link: str | None = None
    variables: dict[str, str] | None = None


def plan_message(
    source_event_id: UUID,
    kind: str,
    audience: str,
    contact: Contact,
    template: Template,
    variables: dict[str, str],
    *,
    username: str | None = None,
    attachment: dict[str, Any] | None = None,
    link: str | None = None,
) -> Planned:
    subject, body = render(template, variables)
    if contact.channel == "sms":
        body = to_gsm(body)
    return Planned(
        id=delivery_id(source_event_id, kind, contact.channel, contact.address),
        kind=kind,
        audience=audience,
        channel=contact.channel,
        recipient=contact.address,
        subject=subject if contact.channel == "email" else None,
        body=body,
        username=username,
        attachment=attachment if contact.channel in ("email", "whatsapp") else None,
        link=link,
        variables=variables,
    )


def nowhere(source_event_id: UUID, kind: str, why: str) -> Planned:
    """A message that must go out but has no channel (e.g. the letter to someone who left no contact):
    recorded as failed so that staff see it and send it by post."""
    return Planned(
        id=delivery_id(source_event_id, kind, "none", ""),
        kind=kind,
        audience="complainant",
        channel="none",
        recipient="",
        subject=None,
        body=why,
    )
