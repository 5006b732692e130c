"""Complaints submitted: the web form (as JSON or with its files), a complaint-box form or a phone call typed in
by staff, an Open311 request. A known kecamatan, the files stored (content-addressed), then the submission, its
attachment rows and its ``ComplaintSubmitted`` outbox row in one unit of work; the relay publishes it. A
replayed ``Idempotency-Key`` gets the first answer; the same key with another request is refused.

``write_complaint`` is also how a message arriving on a channel opens a complaint (``inbound.py``). Every
request's database work is tried again over a blip (``adapters/retry.py``, ``context.write_retry``), under ids
drawn once before the first attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from services.intake.domain.attachments import CheckedFile
from services.intake.domain.commands import EnterComplaint, SubmitComplaint
from services.intake.handlers.context import Context, store_files, write_retry
from services.intake.unit_of_work import Attachment, Submission, UnitOfWork, put_contract
from shared.contracts import categories
from shared.contracts.intake import Complainant, ComplaintSubmitted
from shared.contracts.tracking import new_tracking_code
from shared.tenancy import UnknownKecamatan

log = logging.getLogger(__name__)


class IdempotencyKeyReused(Exception):
    """The key was used before with a different request."""


@dataclass(frozen=True)
class Accepted:
    tracking_code: str
    received_at: datetime
    replayed: bool
    complaint_id: UUID  # staff are shown it (their page of the complaint); a citizen's answer leaves it out


@dataclass(frozen=True)
class NewSubmission:
    """Who a submission will be, drawn once per request before its first attempt: every attempt writes under
    these ids, so one whose COMMIT went through unseen is found by the next (``adapters/retry.py``)."""

    submission_id: UUID
    complaint_id: UUID
    received_at: datetime


def submit_complaint(intake: Context, command: SubmitComplaint) -> Accepted:
    """Store the submission and its outbox message in one transaction; the relay publishes it."""
    return _accept_with_files(intake, command, (), logged="complaint accepted")


class UnknownCategory(Exception):
    """A category that is not in the kecamatan's kabupaten's list (shared/contracts/categories.py)."""


class AnonymousNotAccepted(Exception):
    """An anonymous complaint for a kecamatan that does not accept them (its setting ``anonymous_complaints``)."""


class TrackingCodeTaken(Exception):
    """The drawn tracking code (or id) is already used: the transaction is rolled back and another drawn."""


def write_complaint(
    uow: UnitOfWork,
    intake: Context,
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
    category: str | None = None,
) -> None:
    """The submission, its attachments and its ``ComplaintSubmitted`` outbox row, in ``uow`` (as
    ``submit_complaint`` writes them). Raises ``TrackingCodeTaken`` when the code or ids are in use: the
    caller's unit of work must then be rolled back."""
    added = uow.submissions.add(
        Submission(
            id=submission_id,
            complaint_id=complaint_id,
            tracking_code=code,
            kecamatan=kecamatan,
            channel=channel,
            received_at=received_at,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            complainant=complainant,
            subject=subject,
            description=description,
            entered_at=entered_at,
            entered_by=entered_by,
        )
    )
    if not added:
        raise TrackingCodeTaken(code)
    write_attachments(uow, intake, files, kecamatan, submission_id=submission_id, inbound_message_id=inbound_message_id)
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
        category=category,
    )
    put_contract(uow.outbox, submission_id, message)


def write_attachments(
    uow: UnitOfWork,
    intake: Context,
    files: Sequence[CheckedFile],
    kecamatan: str,
    *,
    submission_id: UUID | None = None,
    inbound_message_id: UUID | None = None,
) -> None:
    uow.attachments.add(
        [
            Attachment(
                id=intake.new_id(),
                sha256=f.sha256,
                content_type=f.content_type,
                size=f.size,
                filename=f.filename,
                kind=f.kind,
                kecamatan=kecamatan,
                submission_id=submission_id,
                inbound_message_id=inbound_message_id,
            )
            for f in files
        ]
    )


def enter_complaint(intake: Context, command: EnterComplaint, files: Sequence[CheckedFile]) -> Accepted:
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


def submit_complaint_with_files(intake: Context, command: SubmitComplaint, files: Sequence[CheckedFile]) -> Accepted:
    """A web complaint with its identity scan and photos (the multipart form): the files stored first
    (content-addressed), then the submission, its attachment rows and its outbox message in one transaction."""
    return _accept_with_files(intake, command, files, logged="complaint accepted")


def _accept_with_files(
    intake: Context,
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
        kecamatan = intake.directory.get(command.kecamatan)
        if kecamatan is None:
            raise UnknownKecamatan(command.kecamatan)
        # a LAPOR! report (channel "lapor") was accepted by LAPOR!: the kecamatan answers it whatever its setting
        if (
            command.complainant.anonymous
            and not kecamatan.settings.get("anonymous_complaints")
            and command.channel != "lapor"
        ):
            raise AnonymousNotAccepted(command.kecamatan)
        if command.category and categories.find(kecamatan.categories, command.category) is None:
            raise UnknownCategory(command.category)
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
    intake: Context,
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
            with intake.uow() as uow:
                write_complaint(
                    uow,
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
                    category=command.category,
                    idempotency_key=command.idempotency_key,
                    request_hash=digest,
                )
                uow.commit()
        except TrackingCodeTaken:
            earlier = _earlier(intake, new, command.idempotency_key, digest)
            if earlier is not None:
                return earlier
            continue
        return Accepted(code, new.received_at, replayed=False, complaint_id=new.complaint_id)
    raise RuntimeError("could not draw a free tracking code three times in a row")


def _earlier(intake: Context, new: NewSubmission, key: str | None, digest: str | None) -> Accepted | None:
    """The submission an insert of ``new`` ran into, if it is ``new`` itself or has the same idempotency key;
    None for a tracking-code collision. Raises ``IdempotencyKeyReused`` for the key with another request."""
    with intake.uow() as uow:
        own = uow.submissions.get(new.submission_id)
    if own is not None:
        log.warning(
            "a submission's commit whose answer was lost found on the next attempt",
            extra={"submission_id": str(new.submission_id)},
        )
        return Accepted(own.tracking_code, own.received_at, replayed=False, complaint_id=own.complaint_id)
    return _replay(intake, key, digest) if key else None


def _replay(intake: Context, key: str, digest: str | None) -> Accepted | None:
    with intake.uow() as uow:
        existing = uow.submissions.with_idempotency_key(key)
    if existing is None:
        return None
    if existing.request_hash != digest:
        raise IdempotencyKeyReused(key)
    return Accepted(existing.tracking_code, existing.received_at, replayed=True, complaint_id=existing.complaint_id)
