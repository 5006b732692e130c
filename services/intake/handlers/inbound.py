"""A message arriving on a channel (SMS, WhatsApp, e-mail), once read and checked by ``channels.py``, becomes:

1. Dedupe: ``intake.inbound_messages`` is unique on (channel, keyed hash of the provider's message id); a
   redelivered webhook creates nothing new and is answered as the first time. The id itself is not kept: a
   WhatsApp id holds the sender's phone number (``shared.privacy.ProviderIdHashes``; docs/adr/0017, decision 7).
2. Route: the kecamatan that claims the number or address written to (``tenancy.kecamatan.settings
   -> channels``), else ``IntakeSettings.default_kecamatan``, else nobody (refused, or for WhatsApp ignored).
3. A sender whose complaint in that kecamatan awaits documents (step 2 paused) is answering it: the message
   becomes a ``ComplainantReplied`` for that complaint. Anything else opens a new complaint, as the web form
   does (tracking code, submission, ``ComplaintSubmitted`` in the outbox). The sender must be proven for
   that: an SMS or WhatsApp number by the provider (webhook secret or signature), an e-mail address only by
   the receiving mail server's DMARC/DKIM pass (``domain.email_auth``); an e-mail without it that would have
   joined a complaint opens a new one instead (noted for staff), so no one can add files or text to another
   person's complaint by writing their address in ``From:``. A new complaint whose message (or e-mail Subject)
   begins with the word RAHASIA asks that the complainant's identity be kept confidential, as the web form's
   checkbox does (``domain.inbound.confidential_keyword``); in a reply the word is only text.

Attachment bytes go to the document store first (content-addressed, idempotent); then everything for one
message (its inbound row, the submission or reply, attachment rows, outbox rows) commits in one
transaction, or nothing does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from services.intake.adapters.retry import WriteRetry
from services.intake.domain import inbound as parse
from services.intake.domain.attachments import AttachmentRejected, CheckedFile, refusal_note
from services.intake.handlers.context import Context, store_files, write_retry
from services.intake.handlers.submissions import TrackingCodeTaken, write_attachments, write_complaint
from services.intake.unit_of_work import Inbound, UnitOfWork, put_contract
from shared.contracts.intake import Complainant, ComplainantReplied
from shared.contracts.tracking import new_tracking_code
from shared.privacy import provider_id_hashes
from shared.tenancy import UnknownKecamatan

log = logging.getLogger(__name__)


ROUTE_KEYS = {"sms": "sms_numbers", "whatsapp": "whatsapp_phone_number_ids", "email": "emails"}


@dataclass(frozen=True)
class InboundMessage:
    """One inbound message, read and checked, ready to become a complaint or a reply."""

    channel: str  # sms | whatsapp | email
    provider_message_id: str
    sender: str  # E.164 phone or normalised e-mail address
    text: str
    to: tuple[str, ...] = ()  # the numbers / ids / addresses it was sent to, for routing
    sender_name: str | None = None
    subject: str | None = None
    provider_time: datetime | None = None
    files: tuple[CheckedFile, ...] = ()
    refused: tuple[AttachmentRejected, ...] = ()
    sender_verified: bool = True  # False: an e-mail whose From no configured mail server vouched for


UNVERIFIED_NOTE = (
    "[E-mail ini tidak digabungkan dengan pengaduan pengirim yang menunggu kelengkapan dokumen: "
    "keaslian alamat pengirim tidak terbukti (DMARC/DKIM). Periksa sebelum memakainya.]"
)


@dataclass(frozen=True)
class InboundOutcome:
    result: str  # complaint | reply | ignored
    inbound_id: UUID
    kecamatan: str | None = None
    tracking_code: str | None = None
    complaint_id: UUID | None = None
    duplicate: bool = False
    note: str | None = None

    def as_json(self) -> dict:
        return {
            "result": self.result,
            "tracking_code": self.tracking_code,
            "duplicate": self.duplicate,
            **({"note": self.note} if self.result == "ignored" and self.note else {}),
        }


# --- routing --------------------------------------------------------------------------------------


def route_inbound(intake: Context, channel: str, to: tuple[str, ...] | list[str]) -> str | None:
    """The kecamatan that claims one of ``to`` on ``channel`` (first address that exactly one active
    kecamatan claims), else the default kecamatan (when it exists and is active), else None."""
    key = ROUTE_KEYS[channel]
    with intake.uow() as uow:
        for address in to:
            if not address:
                continue
            slugs = uow.routes.claiming(key, address)
            if len(slugs) == 1:
                return slugs[0]
            if len(slugs) > 1:
                log.error("several kecamatan claim one inbound address", extra={"channel": channel, "kecamatan": slugs})
    default = intake.settings.default_kecamatan
    if default and intake.directory.get(default) is not None:
        return default
    return None


# --- the common path ------------------------------------------------------------------------------


def already_received(intake: Context, channel: str, provider_message_id: str) -> InboundOutcome | None:
    """The outcome of the first delivery of this message, if there was one."""
    hashes = provider_id_hashes(intake.settings).candidates(provider_message_id)
    with intake.uow() as uow:
        return _outcome_of(uow, channel, hashes)


def _stored(intake: Context, provider_message_id: str) -> str:
    """What ``inbound_messages`` keeps of the provider's id: its keyed hash."""
    return provider_id_hashes(intake.settings).hash(provider_message_id)


def _outcome_of(uow: UnitOfWork, channel: str, hashes: list[str]) -> InboundOutcome | None:
    row = uow.inbound.outcome(channel, hashes)
    if row is None:
        return None
    return InboundOutcome(
        result=row.result,
        inbound_id=row.id,
        kecamatan=row.kecamatan,
        tracking_code=row.tracking_code,
        complaint_id=row.complaint_id,
        duplicate=True,
        note=row.note,
    )


def ignore_inbound(
    intake: Context,
    channel: str,
    provider_message_id: str,
    note: str,
    *,
    sender: str | None = None,
    kecamatan: str | None = None,
    provider_time: datetime | None = None,
    retry: WriteRetry | None = None,
) -> InboundOutcome:
    """Record a message that becomes nothing (so a redelivery is recognised), and why. Written again over a
    database blip within ``retry``'s budget (the request's; a budget of its own when None)."""
    retry = retry or write_retry(intake, "an inbound message")
    inbound_id = intake.new_id()  # drawn once: an attempt whose commit went unseen is found by it
    received_at = parse.received_at(provider_time, intake.clock())

    def attempt() -> InboundOutcome:
        with intake.uow() as uow:
            added = uow.inbound.add(
                Inbound(
                    id=inbound_id,
                    channel=channel,
                    provider_message_hash=_stored(intake, provider_message_id),
                    kecamatan=kecamatan,
                    sender=sender,
                    received_at=received_at,
                    result="ignored",
                    note=note,
                )
            )
            if not added:
                return _found(intake, uow, channel, provider_message_id, inbound_id)
            uow.commit()
        log.info("inbound message ignored", extra={"channel": channel, "inbound_id": str(inbound_id), "reason": note})
        return InboundOutcome(result="ignored", inbound_id=inbound_id, kecamatan=kecamatan, note=note)

    return retry.run(attempt)


def _found(
    intake: Context, uow: UnitOfWork, channel: str, provider_message_id: str, inbound_id: UUID
) -> InboundOutcome:
    """The message an insert under ``inbound_id`` ran into: this request's own (an earlier attempt committed,
    its answer lost), answered as new, or an earlier delivery's, answered as a duplicate."""
    outcome = _outcome_of(uow, channel, provider_id_hashes(intake.settings).candidates(provider_message_id))
    if outcome is not None and outcome.inbound_id == inbound_id:
        log.warning(
            "an inbound message's commit whose answer was lost found on the next attempt",
            extra={"channel": channel, "inbound_id": str(inbound_id)},
        )
        return replace(outcome, duplicate=False)
    return outcome


def receive_inbound(
    intake: Context, message: InboundMessage, *, ignore_unrouted: bool = False, retry: WriteRetry | None = None
) -> InboundOutcome:
    """Dedupe, route, then a reply to a complaint awaiting documents or a new complaint. Raises
    ``UnknownKecamatan`` when no kecamatan takes it (unless ``ignore_unrouted``: then it is recorded as
    ignored). The database work is tried again over a blip within ``retry``'s budget (the request's; a
    budget of its own when None); the message's id is drawn before the first attempt."""
    retry = retry or write_retry(intake, "an inbound message")
    prior = retry.run(lambda: already_received(intake, message.channel, message.provider_message_id))
    if prior is not None:
        return prior
    kecamatan = retry.run(lambda: route_inbound(intake, message.channel, message.to))
    if kecamatan is None:
        log.warning(  # by the id's hash: a WhatsApp id holds the sender's number, and logs carry no personal data
            "inbound message for no known kecamatan",
            extra={"channel": message.channel, "provider_message_hash": _stored(intake, message.provider_message_id)},
        )
        if ignore_unrouted:
            return ignore_inbound(
                intake,
                message.channel,
                message.provider_message_id,
                "no kecamatan claims this number",
                sender=message.sender,
                provider_time=message.provider_time,
                retry=retry,
            )
        raise UnknownKecamatan(",".join(message.to))
    if not message.text and not message.subject and not message.files and not message.refused:
        return ignore_inbound(
            intake,
            message.channel,
            message.provider_message_id,
            "empty message",
            sender=message.sender,
            kecamatan=kecamatan,
            provider_time=message.provider_time,
            retry=retry,
        )
    received_at = parse.received_at(message.provider_time, intake.clock())
    store_files(intake, message.files)  # content-addressed: outside the retry, and never twice
    inbound_id = intake.new_id()
    return retry.run(lambda: _write_message(intake, message, kecamatan, inbound_id, received_at))


def _write_message(
    intake: Context, message: InboundMessage, kecamatan: str, inbound_id: UUID, received_at: datetime
) -> InboundOutcome:
    """One attempt: the message's row with its reply or its new complaint, in one transaction."""
    for _ in range(3):  # a tracking-code collision draws another code
        note = refusal_note(message.refused)
        try:
            with intake.uow() as uow:
                awaiting = uow.tracking.awaiting_documents(kecamatan, message.channel, message.sender)
                if awaiting is not None and not message.sender_verified:
                    log.warning(
                        "unauthenticated e-mail not joined to the complaint awaiting its sender's documents",
                        extra={"channel": message.channel, "kecamatan": kecamatan},
                    )
                    awaiting, note = None, "\n".join(n for n in (note, UNVERIFIED_NOTE) if n)
                result = "reply" if awaiting is not None else "complaint"
                submission_id = intake.new_id() if awaiting is None else None
                complaint_id = awaiting or intake.new_id()
                added = uow.inbound.add(
                    Inbound(
                        id=inbound_id,
                        channel=message.channel,
                        provider_message_hash=_stored(intake, message.provider_message_id),
                        kecamatan=kecamatan,
                        sender=message.sender,
                        received_at=received_at,
                        result=result,
                        submission_id=submission_id,
                        complaint_id=complaint_id,
                        note=note,
                    )
                )
                if not added:  # this request's earlier attempt, or a concurrent delivery, committed first
                    return _found(intake, uow, message.channel, message.provider_message_id, inbound_id)
                # a new complaint may ask for confidentiality by its first word; a reply joins a complaint whose
                # complainant asked (or not) when it came in, and keeps its text as written
                asked = (
                    parse.confidential_keyword(message.text, message.subject)
                    if result == "complaint"
                    else parse.Keyword(confidential=False, text=message.text, subject=None)
                )
                wording = parse.wording(message.channel, asked.text, asked.subject, [note] if note else [])
                if awaiting is not None:
                    _write_reply(
                        uow, intake, inbound_id, awaiting, kecamatan, message, wording.description, received_at
                    )
                    code = uow.submissions.tracking_code(awaiting)
                else:
                    code = new_tracking_code(intake.random_bytes(7))
                    write_complaint(
                        uow,
                        intake,
                        submission_id=submission_id,
                        complaint_id=complaint_id,
                        code=code,
                        kecamatan=kecamatan,
                        channel=message.channel,
                        complainant=_complainant(message, confidential=asked.confidential),
                        subject=wording.subject,
                        description=wording.description,
                        received_at=received_at,
                        correlation_id=inbound_id,
                        files=message.files,
                        inbound_message_id=inbound_id,
                    )
                uow.commit()
        except TrackingCodeTaken:
            continue
        log.info(
            "inbound message received",
            extra={"channel": message.channel, "kecamatan": kecamatan, "inbound_id": str(inbound_id), "result": result},
        )
        return InboundOutcome(
            result=result, inbound_id=inbound_id, kecamatan=kecamatan, tracking_code=code, complaint_id=complaint_id
        )
    raise RuntimeError("could not draw a free tracking code three times in a row")


def _write_reply(
    uow: UnitOfWork,
    intake: Context,
    inbound_id: UUID,
    complaint_id: UUID,
    kecamatan: str,
    message: InboundMessage,
    text: str,
    received_at: datetime,
) -> None:
    write_attachments(uow, intake, message.files, kecamatan, inbound_message_id=inbound_id)
    reply = ComplainantReplied(
        message_id=inbound_id,
        complaint_id=complaint_id,
        kecamatan=kecamatan,
        channel=message.channel,
        sender=message.sender,
        text=text,
        attachments=[f.attachment() for f in message.files],
        received_at=received_at,
    )
    put_contract(uow.outbox, inbound_id, reply)


def _complainant(message: InboundMessage, *, confidential: bool) -> Complainant:
    name = parse.clean_text(message.sender_name or "")[:100].strip() or parse.FALLBACK_NAME[message.channel]
    if message.channel == "email":
        return Complainant(name=name, email=message.sender, confidential=confidential)
    return Complainant(name=name, phone=message.sender, confidential=confidential)
