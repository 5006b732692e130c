"""What a message arriving on a channel (SMS, WhatsApp, e-mail) becomes.

1. Dedupe: ``intake.inbound_messages`` is unique on (channel, provider message id); a redelivered webhook
   creates nothing new and is answered as the first time.
2. Route: the kecamatan that claims the number or address written to (``tenancy.kecamatan.settings
   -> channels``), else ``IntakeSettings.default_kecamatan``, else nobody (refused, or for WhatsApp ignored).
3. A sender whose complaint in that kecamatan awaits documents (step 2 paused) is answering it: the message
   becomes a ``ComplainantReplied`` for that complaint. Anything else opens a new complaint, as the web form
   does (tracking code, submission, ``ComplaintSubmitted`` in the outbox). The sender must be proven for
   that: an SMS or WhatsApp number by the provider (webhook secret or signature), an e-mail address only by
   the receiving mail server's DMARC/DKIM pass (``domain.email_auth``); an e-mail without it that would have
   joined a complaint opens a new one instead (noted for staff), so no one can add files or text to another
   person's complaint by writing their address in ``From:``.

Attachment bytes go to the document store first (content-addressed, idempotent); then everything for one
message (its inbound row, the submission or reply, attachment rows, outbox rows) commits in one
transaction, or nothing does.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from services.intake import handlers
from services.intake.adapters.outbox import put, put_contract
from services.intake.adapters.tables import channel_statuses, inbound_messages, submissions, tracking
from services.intake.adapters.whatsapp import MediaTooLarge, MediaUnavailable
from services.intake.bootstrap import Intake
from services.intake.domain import inbound as parse
from services.intake.domain.attachments import AttachmentRejected, CheckedFile, refusal_note, screen
from services.intake.retry import WriteRetry
from shared.contracts.routing import DELIVERY_STATUS_TASK
from shared.contracts.intake import Complainant, ComplainantReplied
from shared.contracts.tracking import new_tracking_code
from shared.tenancy import UnknownKecamatan, kecamatan_table

log = logging.getLogger(__name__)

ROUTE_KEYS = {"sms": "sms_numbers", "whatsapp": "whatsapp_phone_number_ids", "email": "emails"}
STATUS_TASK, STATUS_QUEUE = DELIVERY_STATUS_TASK, "notify"  # the routing contract
STATUS_MESSAGE_TYPE = "intake.ChannelStatusReported"
WHATSAPP_PROVIDER = "whatsapp-cloud"


@dataclass(frozen=True)
class Message:
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


UNVERIFIED_NOTE = ("[E-mail ini tidak digabungkan dengan pengaduan pengirim yang menunggu kelengkapan dokumen: "
                   "keaslian alamat pengirim tidak terbukti (DMARC/DKIM). Periksa sebelum memakainya.]")


@dataclass(frozen=True)
class Outcome:
    result: str  # complaint | reply | ignored
    inbound_id: UUID
    kecamatan: str | None = None
    tracking_code: str | None = None
    complaint_id: UUID | None = None
    duplicate: bool = False
    note: str | None = None

    def as_json(self) -> dict:
        return {
            "result": self.result, "tracking_code": self.tracking_code, "duplicate": self.duplicate,
            **({"note": self.note} if self.result == "ignored" and self.note else {}),
        }


# --- routing --------------------------------------------------------------------------------------


def route(intake: Intake, channel: str, to: tuple[str, ...] | list[str]) -> str | None:
    """The kecamatan that claims one of ``to`` on ``channel`` (first address that exactly one active
    kecamatan claims), else the default kecamatan (when it exists and is active), else None."""
    key = ROUTE_KEYS[channel]
    with intake.engine.connect() as conn:
        for address in to:
            if not address:
                continue
            slugs = conn.execute(
                select(kecamatan_table.c.slug)
                .where(kecamatan_table.c.active, kecamatan_table.c.settings.contains({"channels": {key: [address]}}))
                .order_by(kecamatan_table.c.slug)
            ).scalars().all()
            if len(slugs) == 1:
                return slugs[0]
            if len(slugs) > 1:
                log.error("several kecamatan claim one inbound address", extra={"channel": channel, "kecamatan": slugs})
    default = intake.settings.default_kecamatan
    if default and intake.directory.get(default) is not None:
        return default
    return None


# --- the common path ------------------------------------------------------------------------------


def already_received(intake: Intake, channel: str, provider_message_id: str) -> Outcome | None:
    """The outcome of the first delivery of this message, if there was one."""
    with intake.engine.connect() as conn:
        return _outcome_of(conn, channel, provider_message_id)


def _outcome_of(conn, channel: str, provider_message_id: str) -> Outcome | None:
    code = (
        select(submissions.c.tracking_code)
        .where(submissions.c.complaint_id == inbound_messages.c.complaint_id)
        .scalar_subquery()
    )
    row = conn.execute(
        select(
            inbound_messages.c.id, inbound_messages.c.result, inbound_messages.c.kecamatan,
            inbound_messages.c.complaint_id, inbound_messages.c.note, code.label("tracking_code"),
        ).where(inbound_messages.c.channel == channel, inbound_messages.c.provider_message_id == provider_message_id)
    ).first()
    if row is None:
        return None
    return Outcome(
        result=row.result, inbound_id=row.id, kecamatan=row.kecamatan, tracking_code=row.tracking_code,
        complaint_id=row.complaint_id, duplicate=True, note=row.note,
    )


def ignore(
    intake: Intake, channel: str, provider_message_id: str, note: str, *, sender: str | None = None,
    kecamatan: str | None = None, provider_time: datetime | None = None, retry: WriteRetry | None = None,
) -> Outcome:
    """Record a message that becomes nothing (so a redelivery is recognised), and why. Written again over a
    database blip within ``retry``'s budget (the request's; a budget of its own when None)."""
    retry = retry or handlers.write_retry(intake, "an inbound message")
    inbound_id = intake.new_id()  # drawn once: an attempt whose commit went unseen is found by it
    received_at = parse.received_at(provider_time, intake.clock())

    def attempt() -> Outcome:
        with intake.engine.begin() as conn:
            inserted = conn.execute(
                insert(inbound_messages)
                .values(
                    id=inbound_id, channel=channel, provider_message_id=provider_message_id, kecamatan=kecamatan,
                    sender=sender, received_at=received_at, result="ignored", note=note,
                )
                .on_conflict_do_nothing(index_elements=["channel", "provider_message_id"])
                .returning(inbound_messages.c.id)
            ).first()
            if inserted is None:
                return _found(conn, channel, provider_message_id, inbound_id)
        log.info("inbound message ignored", extra={"channel": channel, "inbound_id": str(inbound_id), "reason": note})
        return Outcome(result="ignored", inbound_id=inbound_id, kecamatan=kecamatan, note=note)

    return retry.run(attempt)


def _found(conn, channel: str, provider_message_id: str, inbound_id: UUID) -> Outcome:
    """The message an insert under ``inbound_id`` ran into: this request's own (an earlier attempt committed,
    its answer lost), answered as new, or an earlier delivery's, answered as a duplicate."""
    outcome = _outcome_of(conn, channel, provider_message_id)
    if outcome is not None and outcome.inbound_id == inbound_id:
        log.warning("an inbound message's commit whose answer was lost found on the next attempt",
                    extra={"channel": channel, "inbound_id": str(inbound_id)})
        return replace(outcome, duplicate=False)
    return outcome


def receive(intake: Intake, message: Message, *, ignore_unrouted: bool = False, retry: WriteRetry | None = None) -> Outcome:
    """Dedupe, route, then a reply to a complaint awaiting documents or a new complaint. Raises
    ``UnknownKecamatan`` when no kecamatan takes it (unless ``ignore_unrouted``: then it is recorded as
    ignored). The database work is tried again over a blip within ``retry``'s budget (the request's; a
    budget of its own when None); the message's id is drawn before the first attempt."""
    retry = retry or handlers.write_retry(intake, "an inbound message")
    prior = retry.run(lambda: already_received(intake, message.channel, message.provider_message_id))
    if prior is not None:
        return prior
    kecamatan = retry.run(lambda: route(intake, message.channel, message.to))
    if kecamatan is None:
        log.warning(
            "inbound message for no known kecamatan",
            extra={"channel": message.channel, "provider_message_id": message.provider_message_id},
        )
        if ignore_unrouted:
            return ignore(
                intake, message.channel, message.provider_message_id, "no kecamatan claims this number",
                sender=message.sender, provider_time=message.provider_time, retry=retry,
            )
        raise UnknownKecamatan(",".join(message.to))
    if not message.text and not message.subject and not message.files and not message.refused:
        return ignore(
            intake, message.channel, message.provider_message_id, "empty message", sender=message.sender,
            kecamatan=kecamatan, provider_time=message.provider_time, retry=retry,
        )
    received_at = parse.received_at(message.provider_time, intake.clock())
    handlers.store_files(intake, message.files)  # content-addressed: outside the retry, and never twice
    inbound_id = intake.new_id()
    return retry.run(lambda: _write_message(intake, message, kecamatan, inbound_id, received_at))


def _write_message(intake: Intake, message: Message, kecamatan: str, inbound_id: UUID, received_at: datetime) -> Outcome:
    """One attempt: the message's row with its reply or its new complaint, in one transaction."""
    for _ in range(3):  # a tracking-code collision draws another code
        note = refusal_note(message.refused)
        try:
            with intake.engine.begin() as conn:
                awaiting = _awaiting_documents(conn, kecamatan, message.channel, message.sender)
                if awaiting is not None and not message.sender_verified:
                    log.warning("unauthenticated e-mail not joined to the complaint awaiting its sender's documents",
                                extra={"channel": message.channel, "kecamatan": kecamatan})
                    awaiting, note = None, "\n".join(n for n in (note, UNVERIFIED_NOTE) if n)
                result = "reply" if awaiting is not None else "complaint"
                submission_id = intake.new_id() if awaiting is None else None
                complaint_id = awaiting or intake.new_id()
                inserted = conn.execute(
                    insert(inbound_messages)
                    .values(
                        id=inbound_id, channel=message.channel, provider_message_id=message.provider_message_id,
                        kecamatan=kecamatan, sender=message.sender, received_at=received_at, result=result,
                        submission_id=submission_id, complaint_id=complaint_id, note=note,
                    )
                    .on_conflict_do_nothing(index_elements=["channel", "provider_message_id"])
                    .returning(inbound_messages.c.id)
                ).first()
                if inserted is None:  # this request's earlier attempt, or a concurrent delivery, committed first
                    return _found(conn, message.channel, message.provider_message_id, inbound_id)
                wording = parse.wording(
                    message.channel, message.text, message.subject if result == "complaint" else None, [note] if note else []
                )
                if awaiting is not None:
                    _write_reply(conn, intake, inbound_id, awaiting, kecamatan, message, wording.description, received_at)
                    code = conn.execute(
                        select(submissions.c.tracking_code).where(submissions.c.complaint_id == awaiting)
                    ).scalar()
                else:
                    code = new_tracking_code(intake.random_bytes(7))
                    handlers.write_complaint(
                        conn, intake, submission_id=submission_id, complaint_id=complaint_id, code=code,
                        kecamatan=kecamatan, channel=message.channel, complainant=_complainant(message),
                        subject=wording.subject, description=wording.description, received_at=received_at,
                        correlation_id=inbound_id, files=message.files, inbound_message_id=inbound_id,
                    )
        except handlers.TrackingCodeTaken:
            continue
        log.info(
            "inbound message received",
            extra={"channel": message.channel, "kecamatan": kecamatan, "inbound_id": str(inbound_id), "result": result},
        )
        return Outcome(result=result, inbound_id=inbound_id, kecamatan=kecamatan, tracking_code=code, complaint_id=complaint_id)
    raise RuntimeError("could not draw a free tracking code three times in a row")


def _awaiting_documents(conn, kecamatan: str, channel: str, sender: str) -> UUID | None:
    """The sender's most recent complaint in ``kecamatan`` that waits for their documents."""
    if channel == "email":
        same_sender = func.lower(submissions.c.complainant["email"].astext) == sender.lower()
    else:
        same_sender = submissions.c.complainant["phone"].astext == sender
    return conn.execute(
        select(submissions.c.complaint_id)
        .join(tracking, tracking.c.complaint_id == submissions.c.complaint_id)
        .where(submissions.c.kecamatan == kecamatan, tracking.c.status == "awaiting_documents", same_sender)
        .order_by(submissions.c.received_at.desc())
        .limit(1)
    ).scalar()


def _write_reply(conn, intake: Intake, inbound_id: UUID, complaint_id: UUID, kecamatan: str, message: Message,
                 text: str, received_at: datetime) -> None:
    handlers.write_attachments(conn, intake, message.files, kecamatan, inbound_message_id=inbound_id)
    reply = ComplainantReplied(
        message_id=inbound_id, complaint_id=complaint_id, kecamatan=kecamatan, channel=message.channel,
        sender=message.sender, text=text, attachments=[f.attachment() for f in message.files], received_at=received_at,
    )
    put_contract(conn, inbound_id, reply)


def _complainant(message: Message) -> Complainant:
    name = parse.clean_text(message.sender_name or "")[:100].strip() or parse.FALLBACK_NAME[message.channel]
    if message.channel == "email":
        return Complainant(name=name, email=message.sender)
    return Complainant(name=name, phone=message.sender)


# --- channels -------------------------------------------------------------------------------------


def receive_sms(intake: Intake, *, sender: str, to: str, text: str, provider_message_id: str,
                provider_time: datetime | None) -> Outcome:
    """A generic SMS gateway's inbound message. Raises ``parse.InvalidInbound`` for an unusable sender and
    ``UnknownKecamatan``."""
    try:
        to_number = parse.phone_sender(to)
    except parse.InvalidInbound:
        to_number = to.strip()
    # gateways number their messages per device: the id is unique only with the number written to
    provider_message_id = f"{to_number}:{provider_message_id}"[:300]
    retry = handlers.write_retry(intake, "an SMS")
    prior = retry.run(lambda: already_received(intake, "sms", provider_message_id))
    if prior is not None:
        return prior
    return receive(
        intake,
        Message(
            channel="sms", provider_message_id=provider_message_id, sender=parse.phone_sender(sender),
            text=parse.clean_text(text), to=(to_number,), provider_time=provider_time,
        ),
        retry=retry,
    )


def receive_email(intake: Intake, raw: bytes) -> Outcome:
    """A raw e-mail (webhook or IMAP). Raises ``parse.InvalidInbound`` and ``UnknownKecamatan``."""
    mail = parse.parse_email(raw, intake.settings.authserv_ids)
    retry = handlers.write_retry(intake, "an e-mail")
    prior = retry.run(lambda: already_received(intake, "email", mail.message_id))
    if prior is not None:
        return prior
    if mail.automatic:
        return ignore(intake, "email", mail.message_id, "automatic reply or bounce", sender=mail.sender,
                      kecamatan=retry.run(lambda: route(intake, "email", mail.recipients)), provider_time=mail.date,
                      retry=retry)
    screened = screen(list(mail.files), max_bytes=intake.settings.max_attachment_bytes,
                      max_count=intake.settings.max_attachments, max_pixels=intake.settings.max_image_pixels)
    return receive(
        intake,
        Message(
            channel="email", provider_message_id=mail.message_id, sender=mail.sender, sender_name=mail.sender_name,
            subject=mail.subject, text=mail.text, to=mail.recipients, provider_time=mail.date,
            files=screened.kept, refused=screened.refused, sender_verified=mail.authenticated,
        ),
        retry=retry,
    )


@dataclass
class WhatsAppSummary:
    outcomes: list[Outcome] = field(default_factory=list)
    statuses_recorded: int = 0

    def as_json(self) -> dict:
        return {
            "status": "ok",
            "messages": [o.as_json() for o in self.outcomes],
            "statuses_recorded": self.statuses_recorded,
        }


def receive_whatsapp(intake: Intake, payload: object) -> WhatsAppSummary:
    """A Cloud API webhook (signature already checked): each message, then each delivery status."""
    messages, statuses = parse.parse_whatsapp(payload)
    summary = WhatsAppSummary()
    retry = handlers.write_retry(intake, "a WhatsApp webhook")  # one budget for the whole payload
    for m in messages:
        prior = retry.run(lambda: already_received(intake, "whatsapp", m.id))
        if prior is not None:
            summary.outcomes.append(prior)
            continue
        try:
            sender = parse.whatsapp_sender(m.wa_id)
        except parse.InvalidInbound:
            summary.outcomes.append(ignore(intake, "whatsapp", m.id, "unreadable sender", provider_time=m.timestamp,
                                           retry=retry))
            continue
        if not m.supported:
            summary.outcomes.append(
                ignore(intake, "whatsapp", m.id, f"message type {m.type} not supported", sender=sender,
                       kecamatan=retry.run(lambda: route(intake, "whatsapp", (m.phone_number_id or "",))),
                       provider_time=m.timestamp, retry=retry)
            )
            continue
        files, refused = _fetch_media(intake, m)
        screened = screen(files, max_bytes=intake.settings.max_attachment_bytes, max_count=intake.settings.max_attachments,
                          max_pixels=intake.settings.max_image_pixels)
        summary.outcomes.append(
            receive(
                intake,
                Message(
                    channel="whatsapp", provider_message_id=m.id, sender=sender, sender_name=m.profile_name,
                    text=parse.clean_text(m.text), to=(m.phone_number_id or "",), provider_time=m.timestamp,
                    files=screened.kept, refused=tuple(refused) + screened.refused,
                ),
                ignore_unrouted=True,
                retry=retry,
            )
        )
    if statuses:
        summary.statuses_recorded = record_statuses(intake, statuses, retry=retry)
    return summary


def _fetch_media(intake: Intake, m: parse.WhatsAppMessage) -> tuple[list[tuple[bytes, str | None]], list[AttachmentRejected]]:
    files: list[tuple[bytes, str | None]] = []
    refused: list[AttachmentRejected] = []
    for ref in m.media:
        if intake.whatsapp_media is None:
            refused.append(AttachmentRejected("attachment_unavailable", "Lampiran tidak dapat diunduh.", ref.filename))
            log.warning("whatsapp media not fetched: no whatsapp_token set", extra={"inbound_message": m.id})
            continue
        try:
            files.append((intake.whatsapp_media.fetch(ref.media_id, intake.settings.max_attachment_bytes), ref.filename))
        except MediaTooLarge:
            refused.append(AttachmentRejected("attachment_too_large", "Lampiran terlalu besar.", ref.filename))
        except MediaUnavailable as exc:
            # the text still makes a complaint; staff see the note and can ask for the file again
            log.warning("whatsapp media not fetched", extra={"inbound_message": m.id, "error": str(exc)})
            refused.append(AttachmentRejected("attachment_unavailable", "Lampiran tidak dapat diunduh.", ref.filename))
    return files, refused


def record_statuses(intake: Intake, statuses: list[parse.WhatsAppStatus], *, retry: WriteRetry | None = None) -> int:
    """Delivery receipts of our own outbound WhatsApp messages: one row per (message, status), and each new
    one handed to notify through the outbox. Returns how many were new. Written again over a database blip
    within ``retry``'s budget; the rows' ids are drawn before the first attempt, so a row met again under
    its own id (an attempt whose commit went unseen) still counts as new."""
    retry = retry or handlers.write_retry(intake, "WhatsApp statuses")
    ids = [intake.new_id() for _ in statuses]
    return retry.run(lambda: _record_statuses(intake, statuses, ids))


def _record_statuses(intake: Intake, statuses: list[parse.WhatsAppStatus], ids: list[UUID]) -> int:
    new = 0
    with intake.engine.begin() as conn:
        for s, status_id in zip(statuses, ids, strict=True):
            inserted = conn.execute(
                insert(channel_statuses)
                .values(
                    id=status_id, provider=WHATSAPP_PROVIDER, provider_message_id=s.id, status=s.status,
                    biz_opaque_callback_data=s.biz_opaque_callback_data, recipient_id=s.recipient_id,
                    timestamp=s.timestamp, raw=s.raw,
                )
                .on_conflict_do_nothing(index_elements=["provider_message_id", "status"])
                .returning(channel_statuses.c.id)
            ).first()
            if inserted is None:
                existing = conn.execute(
                    select(channel_statuses.c.id)
                    .where(channel_statuses.c.provider_message_id == s.id, channel_statuses.c.status == s.status)
                ).scalar()
                if existing == status_id:  # ours: written with its outbox row by an attempt that committed
                    new += 1
                continue
            put(conn, id=status_id, message_type=STATUS_MESSAGE_TYPE, task=STATUS_TASK, queue=STATUS_QUEUE,
                payload={
                    "message_id": str(status_id),  # what notify's inbox and dead letters record
                    "provider": WHATSAPP_PROVIDER, "provider_message_id": s.id, "status": s.status,
                    "reference": s.biz_opaque_callback_data,
                    "at": s.timestamp.isoformat() if s.timestamp else None, "error": s.error,
                })
            new += 1
    return new
