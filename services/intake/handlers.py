"""What intake does on each request and on each message a channel delivers. No HTTP here: the API turns
results and errors into responses.

**A complaint submitted** (the web form, as JSON or with its files; a complaint-box form or a phone call typed
in by staff): a known kecamatan, the files stored (content-addressed), then the submission, its attachment
rows and its ``ComplaintSubmitted`` outbox row in one transaction; the relay publishes it. A replayed
``Idempotency-Key`` gets the first answer.

**A message arriving on a channel** (SMS, WhatsApp, e-mail) becomes:

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
transaction, or nothing does. A WhatsApp webhook's delivery statuses of our own messages are recorded and
handed to notify through the outbox.

**Reads**: an attachment staff may download, the outbox's health, a complaint's public status by tracking
code (``intake.tracking``, kept by the projection in ``adapters/tracking.py``).

Every request's database work is tried again over a blip (``adapters/retry.py``), under ids drawn once
before the first attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from services.intake.adapters.outbox import put, put_contract
from services.intake.adapters.retry import WriteRetry
from services.intake.adapters.tables import (
    attachments,
    channel_statuses,
    inbound_messages,
    outbox,
    submissions,
    tracking,
)
from services.intake.adapters.whatsapp import MediaTooLarge, MediaUnavailable
from services.intake.bootstrap import Intake
from services.intake.domain import inbound as parse
from services.intake.domain.attachments import AttachmentRejected, CheckedFile, refusal_note, screen
from services.intake.domain.commands import EnterComplaint, SubmitComplaint
from shared.contracts import sop
from shared.contracts.intake import Complainant, ComplainantReplied, ComplaintSubmitted
from shared.contracts.routing import DELIVERY_STATUS_TASK
from shared.contracts.tracking import new_tracking_code
from shared.tenancy import UnknownKecamatan, kecamatan_table

log = logging.getLogger(__name__)


# === complaints submitted (the web form, staff entry) ===================================================


class IdempotencyKeyReused(Exception):
    """The key was used before with a different request."""


@dataclass(frozen=True)
class Accepted:
    tracking_code: str
    received_at: datetime
    replayed: bool


@dataclass(frozen=True)
class NewSubmission:
    """Who a submission will be, drawn once per request before its first attempt: every attempt writes under
    these ids, so one whose COMMIT went through unseen is found by the next (``adapters/retry.py``)."""

    submission_id: UUID
    complaint_id: UUID
    received_at: datetime


def write_retry(intake: Intake, what: str) -> WriteRetry:
    """The budget of one request's database work (``PENGADUAN_INTAKE_WRITE_RETRY_SECONDS``)."""
    return WriteRetry(intake.settings.intake_write_retry_seconds, what)


def submit_complaint(intake: Intake, command: SubmitComplaint) -> Accepted:
    """Store the submission and its outbox message in one transaction; the relay publishes it."""
    return _accept_with_files(intake, command, (), logged="complaint accepted")


class TrackingCodeTaken(Exception):
    """The drawn tracking code (or id) is already used: the transaction is rolled back and another drawn."""


def store_files(intake: Intake, files: Sequence[CheckedFile]) -> None:
    """Bytes first, rows after: the store is content-addressed and idempotent, so bytes whose rows never
    commit are harmless (and a retry stores nothing twice)."""
    for f in files:
        intake.documents.put(f.data, f.content_type)


def write_complaint(
    conn: Connection,
    intake: Intake,
    *,
    submission_id: UUID,
    complaint_id: UUID,
    code: str,
    kecamatan: str,
    channel: str,
    complainant: Complainant,
    subject: str,
    description: str,
    received_at: datetime,
    correlation_id: UUID,
    files: Sequence[CheckedFile] = (),
    entered_at: datetime | None = None,
    entered_by: str | None = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    inbound_message_id: UUID | None = None,
) -> None:
    """The submission, its attachments and its ``ComplaintSubmitted`` outbox row, in ``conn``'s transaction
    (as ``submit_complaint`` writes them). Raises ``TrackingCodeTaken`` when the code or ids are in use:
    the caller's transaction must then be rolled back."""
    inserted = conn.execute(
        insert(submissions)
        .values(
            id=submission_id,
            complaint_id=complaint_id,
            tracking_code=code,
            kecamatan=kecamatan,
            channel=channel,
            received_at=received_at,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            complainant=complainant.model_dump(mode="json"),
            subject=subject,
            description=description,
            entered_at=entered_at,
            entered_by=entered_by,
        )
        .on_conflict_do_nothing()
        .returning(submissions.c.id)
    ).first()
    if inserted is None:
        raise TrackingCodeTaken(code)
    write_attachments(
        conn, intake, files, kecamatan, submission_id=submission_id, inbound_message_id=inbound_message_id
    )
    message = ComplaintSubmitted(
        submission_id=submission_id,
        complaint_id=complaint_id,
        tracking_code=code,
        kecamatan=kecamatan,
        channel=channel,
        complainant=complainant,
        subject=subject,
        description=description,
        received_at=received_at,
        correlation_id=correlation_id,
        attachments=[f.attachment() for f in files],
        entered_at=entered_at,
        entered_by=entered_by,
    )
    put_contract(conn, submission_id, message)


def write_attachments(
    conn: Connection,
    intake: Intake,
    files: Sequence[CheckedFile],
    kecamatan: str,
    *,
    submission_id: UUID | None = None,
    inbound_message_id: UUID | None = None,
) -> None:
    if not files:
        return
    conn.execute(
        insert(attachments),
        [
            {
                "id": intake.new_id(),
                "sha256": f.sha256,
                "content_type": f.content_type,
                "size": f.size,
                "filename": f.filename,
                "kind": f.kind,
                "kecamatan": kecamatan,
                "submission_id": submission_id,
                "inbound_message_id": inbound_message_id,
            }
            for f in files
        ],
    )


def enter_complaint(intake: Intake, command: EnterComplaint, files: Sequence[CheckedFile]) -> Accepted:
    """A complaint-box form or a phone call typed in by staff: stored like a web submission, with
    ``received_at`` the time it reached the office and ``entered_at``/``entered_by`` who typed it, when."""
    return _accept_with_files(
        intake,
        command,
        files,
        received_at=command.received_at,
        entered_by=command.entered_by,
        logged="complaint entered by staff",
    )


def submit_complaint_with_files(intake: Intake, command: SubmitComplaint, files: Sequence[CheckedFile]) -> Accepted:
    """A web complaint with its identity scan and photos (the multipart form): the files stored first
    (content-addressed), then the submission, its attachment rows and its outbox message in one transaction."""
    return _accept_with_files(intake, command, files, logged="complaint accepted")


def _accept_with_files(
    intake: Intake,
    command: SubmitComplaint | EnterComplaint,
    files: Sequence[CheckedFile],
    *,
    received_at: datetime | None = None,
    entered_by: str | None = None,
    logged: str,
) -> Accepted:
    """Known kecamatan, then the earlier answer for a replayed Idempotency-Key (looked up first only when there
    are files, so that a replay stores none), else the files stored and the complaint written (``_write_new``).
    ``received_at`` None: now; with ``entered_by`` (typed in by staff), ``entered_at`` is now. The database
    work is tried again over a blip (``adapters/retry.py``); the ids are drawn before the first attempt."""
    retry = write_retry(intake, "a complaint")
    digest = command.content_hash() if command.idempotency_key else None

    def check() -> Accepted | None:
        if intake.directory.get(command.kecamatan) is None:
            raise UnknownKecamatan(command.kecamatan)
        return _replay(intake, command.idempotency_key, digest) if command.idempotency_key and files else None

    replay = retry.run(check)
    if replay is not None:
        return replay
    store_files(intake, files)  # content-addressed: outside the retry, and never twice
    now = intake.clock()
    new = NewSubmission(intake.new_id(), intake.new_id(), received_at or now)
    accepted = retry.run(
        lambda: _write_new(
            intake, command, files, digest, new, entered_at=now if entered_by else None, entered_by=entered_by
        )
    )
    if not accepted.replayed:
        log.info(
            logged,
            extra={
                "kecamatan": command.kecamatan,
                "submission_id": str(new.submission_id),
                "channel": command.channel,
                "attempts": retry.attempts,
            },
        )
    return accepted


def _write_new(
    intake: Intake,
    command: SubmitComplaint | EnterComplaint,
    files: Sequence[CheckedFile],
    digest: str | None,
    new: NewSubmission,
    *,
    entered_at: datetime | None = None,
    entered_by: str | None = None,
) -> Accepted:
    """One attempt: the complaint as ``new`` under a freshly drawn tracking code (drawn again on a collision).
    When the insert runs into an existing row, that row is looked up: ``new``'s own (an earlier attempt of
    this request committed, its answer lost) is answered as new; one with the same idempotency key (a
    concurrent request committed first) as a replay."""
    for _ in range(3):
        code = new_tracking_code(intake.random_bytes(7))
        try:
            with intake.engine.begin() as conn:
                write_complaint(
                    conn,
                    intake,
                    submission_id=new.submission_id,
                    complaint_id=new.complaint_id,
                    code=code,
                    kecamatan=command.kecamatan,
                    channel=command.channel,
                    complainant=command.complainant,
                    subject=command.subject,
                    description=command.description,
                    received_at=new.received_at,
                    correlation_id=command.correlation_id,
                    files=files,
                    entered_at=entered_at,
                    entered_by=entered_by,
                    idempotency_key=command.idempotency_key,
                    request_hash=digest,
                )
        except TrackingCodeTaken:
            earlier = _earlier(intake, new, command.idempotency_key, digest)
            if earlier is not None:
                return earlier
            continue
        return Accepted(code, new.received_at, replayed=False)
    raise RuntimeError("could not draw a free tracking code three times in a row")


def _earlier(intake: Intake, new: NewSubmission, key: str | None, digest: str | None) -> Accepted | None:
    """The submission an insert of ``new`` ran into, if it is ``new`` itself or has the same idempotency key;
    None for a tracking-code collision. Raises ``IdempotencyKeyReused`` for the key with another request."""
    with intake.engine.connect() as conn:
        own = conn.execute(
            select(submissions.c.tracking_code, submissions.c.received_at).where(submissions.c.id == new.submission_id)
        ).first()
    if own is not None:
        log.warning(
            "a submission's commit whose answer was lost found on the next attempt",
            extra={"submission_id": str(new.submission_id)},
        )
        return Accepted(own.tracking_code, own.received_at, replayed=False)
    return _replay(intake, key, digest) if key else None


def _replay(intake: Intake, key: str, digest: str | None) -> Accepted | None:
    with intake.engine.connect() as conn:
        existing = conn.execute(
            select(submissions.c.tracking_code, submissions.c.received_at, submissions.c.request_hash).where(
                submissions.c.idempotency_key == key
            )
        ).first()
    if existing is None:
        return None
    if existing.request_hash != digest:
        raise IdempotencyKeyReused(key)
    return Accepted(existing.tracking_code, existing.received_at, replayed=True)


# === messages arriving on a channel (SMS, WhatsApp, e-mail) ==============================================

ROUTE_KEYS = {"sms": "sms_numbers", "whatsapp": "whatsapp_phone_number_ids", "email": "emails"}
STATUS_TASK, STATUS_QUEUE = DELIVERY_STATUS_TASK, "notify"  # the routing contract
STATUS_MESSAGE_TYPE = "intake.ChannelStatusReported"
WHATSAPP_PROVIDER = "whatsapp-cloud"


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


def route_inbound(intake: Intake, channel: str, to: tuple[str, ...] | list[str]) -> str | None:
    """The kecamatan that claims one of ``to`` on ``channel`` (first address that exactly one active
    kecamatan claims), else the default kecamatan (when it exists and is active), else None."""
    key = ROUTE_KEYS[channel]
    with intake.engine.connect() as conn:
        for address in to:
            if not address:
                continue
            slugs = (
                conn.execute(
                    select(kecamatan_table.c.slug)
                    .where(
                        kecamatan_table.c.active, kecamatan_table.c.settings.contains({"channels": {key: [address]}})
                    )
                    .order_by(kecamatan_table.c.slug)
                )
                .scalars()
                .all()
            )
            if len(slugs) == 1:
                return slugs[0]
            if len(slugs) > 1:
                log.error("several kecamatan claim one inbound address", extra={"channel": channel, "kecamatan": slugs})
    default = intake.settings.default_kecamatan
    if default and intake.directory.get(default) is not None:
        return default
    return None


# --- the common path ------------------------------------------------------------------------------


def already_received(intake: Intake, channel: str, provider_message_id: str) -> InboundOutcome | None:
    """The outcome of the first delivery of this message, if there was one."""
    with intake.engine.connect() as conn:
        return _outcome_of(conn, channel, provider_message_id)


def _outcome_of(conn, channel: str, provider_message_id: str) -> InboundOutcome | None:
    code = (
        select(submissions.c.tracking_code)
        .where(submissions.c.complaint_id == inbound_messages.c.complaint_id)
        .scalar_subquery()
    )
    row = conn.execute(
        select(
            inbound_messages.c.id,
            inbound_messages.c.result,
            inbound_messages.c.kecamatan,
            inbound_messages.c.complaint_id,
            inbound_messages.c.note,
            code.label("tracking_code"),
        ).where(inbound_messages.c.channel == channel, inbound_messages.c.provider_message_id == provider_message_id)
    ).first()
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
    intake: Intake,
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
        with intake.engine.begin() as conn:
            inserted = conn.execute(
                insert(inbound_messages)
                .values(
                    id=inbound_id,
                    channel=channel,
                    provider_message_id=provider_message_id,
                    kecamatan=kecamatan,
                    sender=sender,
                    received_at=received_at,
                    result="ignored",
                    note=note,
                )
                .on_conflict_do_nothing(index_elements=["channel", "provider_message_id"])
                .returning(inbound_messages.c.id)
            ).first()
            if inserted is None:
                return _found(conn, channel, provider_message_id, inbound_id)
        log.info("inbound message ignored", extra={"channel": channel, "inbound_id": str(inbound_id), "reason": note})
        return InboundOutcome(result="ignored", inbound_id=inbound_id, kecamatan=kecamatan, note=note)

    return retry.run(attempt)


def _found(conn, channel: str, provider_message_id: str, inbound_id: UUID) -> InboundOutcome:
    """The message an insert under ``inbound_id`` ran into: this request's own (an earlier attempt committed,
    its answer lost), answered as new, or an earlier delivery's, answered as a duplicate."""
    outcome = _outcome_of(conn, channel, provider_message_id)
    if outcome is not None and outcome.inbound_id == inbound_id:
        log.warning(
            "an inbound message's commit whose answer was lost found on the next attempt",
            extra={"channel": channel, "inbound_id": str(inbound_id)},
        )
        return replace(outcome, duplicate=False)
    return outcome


def receive_inbound(
    intake: Intake, message: InboundMessage, *, ignore_unrouted: bool = False, retry: WriteRetry | None = None
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
        log.warning(
            "inbound message for no known kecamatan",
            extra={"channel": message.channel, "provider_message_id": message.provider_message_id},
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
    intake: Intake, message: InboundMessage, kecamatan: str, inbound_id: UUID, received_at: datetime
) -> InboundOutcome:
    """One attempt: the message's row with its reply or its new complaint, in one transaction."""
    for _ in range(3):  # a tracking-code collision draws another code
        note = refusal_note(message.refused)
        try:
            with intake.engine.begin() as conn:
                awaiting = _awaiting_documents(conn, kecamatan, message.channel, message.sender)
                if awaiting is not None and not message.sender_verified:
                    log.warning(
                        "unauthenticated e-mail not joined to the complaint awaiting its sender's documents",
                        extra={"channel": message.channel, "kecamatan": kecamatan},
                    )
                    awaiting, note = None, "\n".join(n for n in (note, UNVERIFIED_NOTE) if n)
                result = "reply" if awaiting is not None else "complaint"
                submission_id = intake.new_id() if awaiting is None else None
                complaint_id = awaiting or intake.new_id()
                inserted = conn.execute(
                    insert(inbound_messages)
                    .values(
                        id=inbound_id,
                        channel=message.channel,
                        provider_message_id=message.provider_message_id,
                        kecamatan=kecamatan,
                        sender=message.sender,
                        received_at=received_at,
                        result=result,
                        submission_id=submission_id,
                        complaint_id=complaint_id,
                        note=note,
                    )
                    .on_conflict_do_nothing(index_elements=["channel", "provider_message_id"])
                    .returning(inbound_messages.c.id)
                ).first()
                if inserted is None:  # this request's earlier attempt, or a concurrent delivery, committed first
                    return _found(conn, message.channel, message.provider_message_id, inbound_id)
                wording = parse.wording(
                    message.channel,
                    message.text,
                    message.subject if result == "complaint" else None,
                    [note] if note else [],
                )
                if awaiting is not None:
                    _write_reply(
                        conn, intake, inbound_id, awaiting, kecamatan, message, wording.description, received_at
                    )
                    code = conn.execute(
                        select(submissions.c.tracking_code).where(submissions.c.complaint_id == awaiting)
                    ).scalar()
                else:
                    code = new_tracking_code(intake.random_bytes(7))
                    write_complaint(
                        conn,
                        intake,
                        submission_id=submission_id,
                        complaint_id=complaint_id,
                        code=code,
                        kecamatan=kecamatan,
                        channel=message.channel,
                        complainant=_complainant(message),
                        subject=wording.subject,
                        description=wording.description,
                        received_at=received_at,
                        correlation_id=inbound_id,
                        files=message.files,
                        inbound_message_id=inbound_id,
                    )
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


def _write_reply(
    conn,
    intake: Intake,
    inbound_id: UUID,
    complaint_id: UUID,
    kecamatan: str,
    message: InboundMessage,
    text: str,
    received_at: datetime,
) -> None:
    write_attachments(conn, intake, message.files, kecamatan, inbound_message_id=inbound_id)
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
    put_contract(conn, inbound_id, reply)


def _complainant(message: InboundMessage) -> Complainant:
    name = parse.clean_text(message.sender_name or "")[:100].strip() or parse.FALLBACK_NAME[message.channel]
    if message.channel == "email":
        return Complainant(name=name, email=message.sender)
    return Complainant(name=name, phone=message.sender)


# --- channels -------------------------------------------------------------------------------------


def receive_sms(
    intake: Intake, *, sender: str, to: str, text: str, provider_message_id: str, provider_time: datetime | None
) -> InboundOutcome:
    """A generic SMS gateway's inbound message. Raises ``parse.InvalidInbound`` for an unusable sender and
    ``UnknownKecamatan``."""
    try:
        to_number = parse.phone_sender(to)
    except parse.InvalidInbound:
        to_number = to.strip()
    # gateways number their messages per device: the id is unique only with the number written to
    provider_message_id = f"{to_number}:{provider_message_id}"[:300]
    retry = write_retry(intake, "an SMS")
    prior = retry.run(lambda: already_received(intake, "sms", provider_message_id))
    if prior is not None:
        return prior
    return receive_inbound(
        intake,
        InboundMessage(
            channel="sms",
            provider_message_id=provider_message_id,
            sender=parse.phone_sender(sender),
            text=parse.clean_text(text),
            to=(to_number,),
            provider_time=provider_time,
        ),
        retry=retry,
    )


def receive_email(intake: Intake, raw: bytes) -> InboundOutcome:
    """A raw e-mail (webhook or IMAP). Raises ``parse.InvalidInbound`` and ``UnknownKecamatan``."""
    mail = parse.parse_email(raw, intake.settings.authserv_ids)
    retry = write_retry(intake, "an e-mail")
    prior = retry.run(lambda: already_received(intake, "email", mail.message_id))
    if prior is not None:
        return prior
    if mail.automatic:
        return ignore_inbound(
            intake,
            "email",
            mail.message_id,
            "automatic reply or bounce",
            sender=mail.sender,
            kecamatan=retry.run(lambda: route_inbound(intake, "email", mail.recipients)),
            provider_time=mail.date,
            retry=retry,
        )
    screened = screen(
        list(mail.files),
        max_bytes=intake.settings.max_attachment_bytes,
        max_count=intake.settings.max_attachments,
        max_pixels=intake.settings.max_image_pixels,
    )
    return receive_inbound(
        intake,
        InboundMessage(
            channel="email",
            provider_message_id=mail.message_id,
            sender=mail.sender,
            sender_name=mail.sender_name,
            subject=mail.subject,
            text=mail.text,
            to=mail.recipients,
            provider_time=mail.date,
            files=screened.kept,
            refused=screened.refused,
            sender_verified=mail.authenticated,
        ),
        retry=retry,
    )


@dataclass
class WhatsAppSummary:
    outcomes: list[InboundOutcome] = field(default_factory=list)
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
    retry = write_retry(intake, "a WhatsApp webhook")  # one budget for the whole payload
    for m in messages:
        prior = retry.run(lambda: already_received(intake, "whatsapp", m.id))  # noqa: B023
        if prior is not None:
            summary.outcomes.append(prior)
            continue
        try:
            sender = parse.whatsapp_sender(m.wa_id)
        except parse.InvalidInbound:
            summary.outcomes.append(
                ignore_inbound(intake, "whatsapp", m.id, "unreadable sender", provider_time=m.timestamp, retry=retry)
            )
            continue
        if not m.supported:
            summary.outcomes.append(
                ignore_inbound(
                    intake,
                    "whatsapp",
                    m.id,
                    f"message type {m.type} not supported",
                    sender=sender,
                    kecamatan=retry.run(lambda: route_inbound(intake, "whatsapp", (m.phone_number_id or "",))),  # noqa: B023
                    provider_time=m.timestamp,
                    retry=retry,
                )
            )
            continue
        files, refused = _fetch_media(intake, m)
        screened = screen(
            files,
            max_bytes=intake.settings.max_attachment_bytes,
            max_count=intake.settings.max_attachments,
            max_pixels=intake.settings.max_image_pixels,
        )
        summary.outcomes.append(
            receive_inbound(
                intake,
                InboundMessage(
                    channel="whatsapp",
                    provider_message_id=m.id,
                    sender=sender,
                    sender_name=m.profile_name,
                    text=parse.clean_text(m.text),
                    to=(m.phone_number_id or "",),
                    provider_time=m.timestamp,
                    files=screened.kept,
                    refused=tuple(refused) + screened.refused,
                ),
                ignore_unrouted=True,
                retry=retry,
            )
        )
    if statuses:
        summary.statuses_recorded = record_statuses(intake, statuses, retry=retry)
    return summary


def _fetch_media(
    intake: Intake, m: parse.WhatsAppMessage
) -> tuple[list[tuple[bytes, str | None]], list[AttachmentRejected]]:
    files: list[tuple[bytes, str | None]] = []
    refused: list[AttachmentRejected] = []
    for ref in m.media:
        if intake.whatsapp_media is None:
            refused.append(AttachmentRejected("attachment_unavailable", "Lampiran tidak dapat diunduh.", ref.filename))
            log.warning("whatsapp media not fetched: no whatsapp_token set", extra={"inbound_message": m.id})
            continue
        try:
            files.append(
                (intake.whatsapp_media.fetch(ref.media_id, intake.settings.max_attachment_bytes), ref.filename)
            )
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
    retry = retry or write_retry(intake, "WhatsApp statuses")
    ids = [intake.new_id() for _ in statuses]
    return retry.run(lambda: _record_statuses(intake, statuses, ids))


def _record_statuses(intake: Intake, statuses: list[parse.WhatsAppStatus], ids: list[UUID]) -> int:
    new = 0
    with intake.engine.begin() as conn:
        for s, status_id in zip(statuses, ids, strict=True):
            inserted = conn.execute(
                insert(channel_statuses)
                .values(
                    id=status_id,
                    provider=WHATSAPP_PROVIDER,
                    provider_message_id=s.id,
                    status=s.status,
                    biz_opaque_callback_data=s.biz_opaque_callback_data,
                    recipient_id=s.recipient_id,
                    timestamp=s.timestamp,
                    raw=s.raw,
                )
                .on_conflict_do_nothing(index_elements=["provider_message_id", "status"])
                .returning(channel_statuses.c.id)
            ).first()
            if inserted is None:
                existing = conn.execute(
                    select(channel_statuses.c.id).where(
                        channel_statuses.c.provider_message_id == s.id, channel_statuses.c.status == s.status
                    )
                ).scalar()
                if existing == status_id:  # ours: written with its outbox row by an attempt that committed
                    new += 1
                continue
            put(
                conn,
                id=status_id,
                message_type=STATUS_MESSAGE_TYPE,
                task=STATUS_TASK,
                queue=STATUS_QUEUE,
                payload={
                    "message_id": str(status_id),  # what notify's inbox and dead letters record
                    "provider": WHATSAPP_PROVIDER,
                    "provider_message_id": s.id,
                    "status": s.status,
                    "reference": s.biz_opaque_callback_data,
                    "at": s.timestamp.isoformat() if s.timestamp else None,
                    "error": s.error,
                },
            )
            new += 1
    return new


# === reads =============================================================================================


@dataclass(frozen=True)
class StoredAttachment:
    sha256: str
    content_type: str
    filename: str | None
    kecamatan: str


def find_attachment(
    intake: Intake, sha256: str, complaint_id: UUID | None, may_read: Callable[[str], bool]
) -> StoredAttachment | None:
    """An attachment with these bytes that the reader may see (of ``complaint_id`` when given): linked to a
    submission, or to an inbound message that joined a complaint. None otherwise: the caller answers 404
    whether it does not exist or is not theirs."""
    linked = func.coalesce(submissions.c.complaint_id, inbound_messages.c.complaint_id)
    query = (
        select(attachments.c.sha256, attachments.c.content_type, attachments.c.filename, attachments.c.kecamatan)
        .select_from(
            attachments.outerjoin(submissions, submissions.c.id == attachments.c.submission_id).outerjoin(
                inbound_messages, inbound_messages.c.id == attachments.c.inbound_message_id
            )
        )
        .where(attachments.c.sha256 == sha256, linked.is_not(None))
        .order_by(attachments.c.created_at)
    )
    if complaint_id is not None:
        query = query.where(linked == complaint_id)
    with intake.engine.connect() as conn:
        rows = conn.execute(query.limit(50)).all()
    for row in rows:
        if may_read(row.kecamatan):
            return StoredAttachment(row.sha256, row.content_type, row.filename, row.kecamatan)
    return None


OUTBOX_STUCK_AFTER_S = 60


def outbox_health(intake: Intake) -> dict:
    """How far the outbox is behind: unpublished messages and the age of the oldest. A message waiting
    over a minute means the relay or the broker is not doing its job."""
    with intake.engine.connect() as conn:
        row = conn.execute(
            select(func.count(), func.extract("epoch", func.now() - func.min(outbox.c.created_at))).where(
                outbox.c.published_at.is_(None)
            )
        ).one()
    waiting, oldest = row[0], float(row[1] or 0)
    return {"ok": oldest < OUTBOX_STUCK_AFTER_S, "waiting": waiting, "oldest_seconds": round(oldest, 1)}


OUTCOME_LABELS = {
    "resolved": "Tanggapan sudah dikirim kepada Anda",
    "referred": "Dilimpahkan kepada instansi yang berwenang",
    "identity_rejected": "Identitas pengadu tidak dapat diverifikasi",
    "incomplete": "Ditutup karena kelengkapan identitas tidak diterima",
    "withdrawn": "Dicabut oleh pengadu",
    "duplicate": "Sama dengan pengaduan lain yang sudah tercatat",
}

STATUS_LABELS = {
    "received": "Diterima, menunggu diproses",
    "in_progress": "Sedang diproses",
    "awaiting_documents": "Menunggu kelengkapan dokumen dari Anda",
    "closed": "Selesai",
}


def track(intake: Intake, code: str) -> dict | None:
    with intake.engine.connect() as conn:
        row = conn.execute(
            select(
                submissions.c.tracking_code,
                submissions.c.kecamatan,
                submissions.c.received_at,
                tracking.c.status,
                tracking.c.current_step,
                tracking.c.sop_version,
                tracking.c.steps,
                tracking.c.outcome,
                tracking.c.referred_to,
            )
            .select_from(submissions.outerjoin(tracking, tracking.c.complaint_id == submissions.c.complaint_id))
            .where(submissions.c.tracking_code == code)
        ).first()
    if row is None:
        return None
    status = row.status or "received"
    current = None
    if row.current_step is not None:
        current = {"number": row.current_step, "name": sop.DEFINITIONS[row.sop_version].step(row.current_step).name}
    return {
        "tracking_code": row.tracking_code,
        "kecamatan": row.kecamatan,
        "status": status,
        "status_label": STATUS_LABELS.get(status, status),
        "received_at": row.received_at,
        "current_step": current,
        "steps": row.steps or [],
        "outcome": row.outcome,
        "outcome_label": OUTCOME_LABELS.get(row.outcome) if row.outcome else None,
        "referred_to": row.referred_to,
        "letter_available": row.outcome == "resolved",  # ResponseSent: the signed letter was released
    }
