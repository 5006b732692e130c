"""The complaint aggregate: ``decide(state, command, calendar) -> events`` and ``evolve(state, event)``.

Pure: no I/O, no clock, no random ids. Time arrives in the command, numbers handed out by counters arrive
in the command, and the working-day calendar is a pure object passed in. The SOP definition the
complaint started with (its version and the kecamatan's overrides) decides which role acts at each step
and how long each step may take.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, cast
from uuid import UUID

from services.workflow.domain import commands as c
from shared.contracts import intake, sop
from shared.contracts.letters import ESIGN_ERRORS
from shared.contracts.notify import NotificationReport
from shared.contracts.workflow import (
    CategorySet,
    ClarificationGiven,
    ClosedIncomplete,
    ComplainantDataCorrected,
    ComplainantReplied,
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
    NotificationDelivered,
    NotificationEvent,
    NotificationFailed,
    NotificationSent,
    NotificationUncertain,
    ObjectionAnswered,
    ObjectionRaised,
    PersonalDataErased,
    ReferralAnswered,
    ReferralLapsed,
    ReplyAttachment,
    ResponseDispatched,
    ResponseSent,
    StepCompleted,
    StepOverdue,
    provider_reference,
)
from shared.events import Event, EventEnvelope


class Calendar(Protocol):
    def add_working_days(self, start: datetime, days: int) -> datetime: ...
    def add_office_minutes(self, start: datetime, minutes: int) -> datetime: ...


# -- errors: each has a stable code and the HTTP status a person gets ------------------------------------
class DomainError(Exception):
    code = "domain_error"
    status = 409

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EsignFailed(DomainError):
    """Step 10's signature through BSrE did not happen (docs/adr/0016): ``code`` and ``status`` as letters answered
    them (``shared.contracts.letters.ESIGN_ERRORS``); nothing is recorded."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status = code, ESIGN_ERRORS.get(code, 502)


class AlreadyReceived(DomainError):
    code = "already_received"


class ComplaintClosed(DomainError):
    code = "complaint_closed"


class NotThisStep(DomainError):
    code = "not_this_step"


class SameCategory(DomainError):
    code = "same_category"
    status = 409


class AwaitingDocuments(DomainError):
    code = "awaiting_documents"


class NotAwaitingDocuments(DomainError):
    code = "not_awaiting_documents"


class RoleNotAllowed(DomainError):
    code = "role_not_allowed"
    status = 403


class WrongUnit(DomainError):
    code = "wrong_unit"
    status = 403


class UnknownUnit(DomainError):
    code = "unknown_unit"
    status = 422


class UnitWithoutHead(DomainError):
    code = "unit_without_head"
    status = 422


class UnitUnchanged(DomainError):
    code = "unit_unchanged"


class NothingOverdue(DomainError):
    code = "nothing_overdue"


class LetterNotReady(DomainError):
    code = "letter_not_ready"


class LetterMismatch(DomainError):
    code = "letter_mismatch"


class AlreadyDispatched(DomainError):
    code = "response_already_dispatched"


class NoContact(DomainError):
    code = "no_electronic_contact"


class TrackingPageForAnonymousOnly(DomainError):
    code = "tracking_page_for_anonymous_only"


class NotReferred(DomainError):
    code = "not_referred"


class AwaitingReferralAnswer(DomainError):
    code = "awaiting_referral_answer"


class AnsweredInFuture(DomainError):
    code = "answered_in_future"
    status = 422


class AnsweredBeforeReferral(DomainError):
    code = "answered_before_referral"
    status = 422


class AwaitingObjection(DomainError):
    code = "awaiting_objection_answer"


class NoObjection(DomainError):
    code = "no_objection"


# -- state ------------------------------------------------------------------------------------------------
OPEN = ("in_progress", "awaiting_documents")
# referred (dilimpahkan) and followed: open, but no SOP step waits; staff record the receiving office's answer
REFERRED = "referred"
REFERRAL_FOLLOW_UP_ROLE = "staf"
# a keberatan (objection) waits on the Camat (issue #18 item 1; docs/adr/0020)
OBJECTION = "objection"
OBJECTION_ROLE = "camat"


@dataclass(frozen=True)
class StepDone:
    number: int
    completed_at: datetime | None  # None when replayed from bare events (tests), without their envelopes
    by: str | None = None


@dataclass(frozen=True)
class Complaint:
    complaint_id: UUID | None = None
    kecamatan: str | None = None
    tracking_code: str | None = None
    status: str = "new"  # new, in_progress, awaiting_documents, referred, closed
    outcome: str | None = None  # resolved, referred, identity_rejected, incomplete, withdrawn, duplicate
    current_step: int | None = None
    step_started_at: datetime | None = None
    step_due_at: datetime | None = None
    deadline_at: datetime | None = None
    documents_close_after: datetime | None = None
    sop_version: str | None = None
    sop_overrides: dict[str, Any] | None = None
    unit: str | None = None  # the Kasi/Kasubag unit the disposition names
    register_number: int | None = None
    register_year: int | None = None
    letter_version: int = 0  # the latest draft
    approved_letter_version: int | None = None
    letter_number: str | None = None
    letter_document_id: UUID | None = None
    overdue_flagged: bool = False
    response_dispatched: bool = False  # step 12 handed to notify; closes on the provider's confirmation
    has_electronic_contact: bool = False
    personal_data_erased: bool = False  # docs/adr/0017: the complainant's data was erased (the complaint is closed)
    closed_at: datetime | None = None  # when it closed: the retention period of its personal data runs from it
    anonymous: bool = False  # no identity at all (a kecamatan that accepts them): step 12 by the tracking page
    confidential: bool = False  # pelapor rahasia: only the Kasi/Kasubag and the Camat see who (shared/masking.py)
    category: str | None = None  # its kabupaten's list (shared/contracts/categories.py): picked, or set at step 3/4
    # issue #18 item 1 (docs/adr/0020): closings with a response (the complainant is asked after each), the latest
    # one the complainant answered, how many times it was reopened, a keberatan (None, "open", "answered")
    closings: int = 0
    feedback_closing: int = 0
    reopenings: int = 0
    objection: str | None = None
    steps_done: tuple[StepDone, ...] = field(default_factory=tuple)
    version: int = 0  # events in the stream
    # what staff's expected_version is checked against: every event but notify's records of messages, so
    # that a confirmation arriving while someone works on the complaint does not make their action stale
    revision: int = 0

    @property
    def definition(self) -> sop.SopDefinition:
        return sop.definition_for(self.sop_version or sop.DEFAULT.version, self.sop_overrides)

    @property
    def waiting_role(self) -> str | None:
        """Whose turn it is (while documents are awaited, still step 2's role: they record the answer)."""
        if self.status == REFERRED:
            return REFERRAL_FOLLOW_UP_ROLE
        if self.status == OBJECTION:
            return OBJECTION_ROLE
        if self.status not in OPEN or self.current_step is None:
            return None
        return self.definition.step(self.current_step).role


# -- which action belongs to which step ---------------------------------------------------------------------
ACTION_STEP: dict[str, int] = {
    "verify-identity": 2,
    "request-documents": 2,
    "receive-documents": 2,
    "reject-identity": 2,
    "close-incomplete": 2,
    "register": 3,
    "dispose": 4,
    "redispose": 4,  # by step 4's role, while step 5 waits
    "refer": 4,
    "clarify": 5,
    "request-letter": 6,
    "draft-letter": 7,
    "review-letter": 8,
    "duplicate-letter": 9,
    "sign-letter": 10,
    "archive-letter": 11,
    "send-response": 12,
}
# what each action does, as an error message says it ("Staf tidak dapat menandai duplikat")
ACTION_NAMES: dict[str, str] = {
    "withdraw": "mencabut pengaduan",
    "mark-duplicate": "menandai pengaduan sebagai duplikat",
    "record-referral-answer": "mencatat tanggapan instansi penerima pelimpahan",
}
ANY_STEP_ROLES: dict[str, tuple[str, ...]] = {
    "withdraw": ("staf", "kasi", "sekcam", "camat"),
    "mark-duplicate": ("kasi", "sekcam", "camat"),
    "record-referral-answer": ("staf", "sekcam", "camat"),  # whoever receives the office's answer
}
# the Staf marks a duplicate as it registers (issue #18 item 3; docs/adr/0021): the register step's role, while the
# complaint waits at step 2 or 3; once the Camat has disposed of it, the roles above decide
DUPLICATE_REGISTER_STEPS = {2, 3}
WHILE_AWAITING_DOCUMENTS = {"receive-documents", "close-incomplete", "withdraw", "mark-duplicate"}
WHILE_REFERRED = {"record-referral-answer", "withdraw", "mark-duplicate"}
UNIT_BOUND_STEPS = {5, 6}  # the Kasi of the disposed unit clarifies and asks for the letter
CATEGORIZING_STEPS = {3, 4}  # where the category is set or corrected (issue #18 item 2)


def due_at(definition: sop.SopDefinition, step: int, start: datetime, calendar: Calendar) -> datetime:
    s = definition.step(step)
    if s.unit == "minutes":
        return calendar.add_office_minutes(start, s.standard_time)
    return calendar.add_working_days(start, s.standard_time)


def _check_may_act(state: Complaint, command: c.StaffCommand) -> None:
    action, actor = command.action, command.actor
    if state.version == 0:
        raise NotThisStep("pengaduan ini belum tercatat di alur kerja")
    if state.status == "closed":
        raise ComplaintClosed("pengaduan ini sudah ditutup")
    if state.status == OBJECTION and action != "answer-objection":
        raise AwaitingObjection("pengadu mengajukan keberatan; Camat menjawabnya lebih dahulu")
    if action == "answer-objection":
        if state.status != OBJECTION:
            raise NoObjection("tidak ada keberatan pengadu yang menunggu jawaban")
        if actor.role != OBJECTION_ROLE:
            raise RoleNotAllowed(f"Keberatan pengadu dijawab oleh Camat, bukan {sop.role_name(actor.role)}.")
        return
    if state.status == REFERRED and action not in WHILE_REFERRED:
        raise AwaitingReferralAnswer("pengaduan ini sudah dilimpahkan; catat tanggapan instansi penerima")
    if action == "record-referral-answer" and state.status != REFERRED:
        raise NotReferred("pengaduan ini tidak sedang dilimpahkan")
    if action in ANY_STEP_ROLES:
        registers = action == "mark-duplicate" and actor.role == state.definition.step(3).role  # the register's
        if registers and state.status in OPEN and state.current_step in DUPLICATE_REGISTER_STEPS:
            return
        if actor.role not in ANY_STEP_ROLES[action]:
            after = " setelah langkah 3 (registrasi)" if registers else ""
            raise RoleNotAllowed(f"{sop.role_name(actor.role)} tidak dapat {ACTION_NAMES[action]}{after}")
        return
    if action == "categorize":  # at step 3 or 4, by that step's role (issue #18 item 2)
        if state.current_step not in CATEGORIZING_STEPS or state.status != "in_progress":
            raise NotThisStep(
                "Kategori pengaduan ditetapkan atau dikoreksi pada langkah 3 (registrasi) atau 4 (disposisi)."
            )
        step = state.current_step
    else:
        step = ACTION_STEP[action]
    role = state.definition.step(step).role
    if actor.role != role:
        raise RoleNotAllowed(
            f"Langkah {step} ({state.definition.step(step).name}) dilakukan oleh {sop.role_name(role)}, "
            f"bukan {sop.role_name(actor.role)}."
        )
    if state.status == "awaiting_documents" and action not in WHILE_AWAITING_DOCUMENTS:
        raise AwaitingDocuments("menunggu dokumen dari pengadu")
    if action == "redispose":
        if state.current_step != 5:
            raise NotThisStep("disposisi hanya dapat dialihkan selama menunggu klarifikasi (langkah 5)")
        return
    if action in ("receive-documents", "close-incomplete") and state.status != "awaiting_documents":
        raise NotAwaitingDocuments("pengaduan ini tidak sedang menunggu dokumen")
    if state.current_step != step:
        raise NotThisStep(
            f"Pengaduan ini sekarang di langkah {state.current_step}, bukan langkah {step}; muat ulang halamannya."
        )
    if action == "archive-letter" and state.letter_document_id is None:
        raise LetterNotReady("surat yang ditandatangani masih disiapkan; coba lagi sebentar")
    if step in UNIT_BOUND_STEPS and role == "kasi" and state.unit and (actor.unit or "").casefold() != state.unit:
        raise WrongUnit(f"Disposisi ditujukan kepada unit lain ({state.unit}), bukan unit Anda.")


def check(state: Complaint, command: c.StaffCommand) -> None:
    """Raise the domain error ``decide`` would raise, before the handler hands out a number."""
    _check_may_act(state, command)


def decide(state: Complaint, command: c.Command, calendar: Calendar) -> list[Event]:
    if isinstance(command, c.RecordComplaint):
        return _receive(state, command, calendar)
    if isinstance(command, c.FlagOverdue):
        return _flag_overdue(state, command)
    if isinstance(command, c.ExpireDocumentsRequest):
        return _expire_documents(state, command)
    if isinstance(command, c.ExpireReferral):
        return _expire_referral(state, command)
    if isinstance(command, c.RecordLetterIssued):
        return _letter_issued(state, command)
    if isinstance(command, c.RecordNotification):
        return _notification(state, command.report)
    if isinstance(command, c.RecordReply):
        return _reply(state, command.reply)
    if isinstance(command, c.RecordFeedback):
        return _feedback(state, command, _calendar(calendar))
    if isinstance(command, c.AnswerObjection):
        _check_may_act(state, command)
        return _answer_objection(state, command, _calendar(calendar))
    _check_may_act(state, command)
    return [_STAFF[type(command)](state, command, calendar)]


def _receive(state: Complaint, command: c.RecordComplaint, calendar: Calendar) -> list[Event]:
    if state.version > 0:
        raise AlreadyReceived("this complaint is already in the workflow")
    s = command.submission
    definition = sop.with_overrides(sop.DEFAULT, command.sop_overrides)
    events: list[Event] = [
        ComplaintReceived(
            complaint_id=s.complaint_id,
            submission_id=s.submission_id,
            tracking_code=s.tracking_code,
            kecamatan=s.kecamatan,
            channel=s.channel,
            complainant=s.complainant,
            subject=s.subject,
            description=s.description,
            received_at=s.received_at,
            sop_version=sop.DEFAULT.version,
            sop_overrides=command.sop_overrides,
            output=definition.step(1).output,
            next_step=2,
            next_due_at=due_at(definition, 2, s.received_at, calendar),
            deadline_at=calendar.add_working_days(s.received_at, definition.completion_working_days),
            attachments=s.attachments,
            entered_at=s.entered_at,
            entered_by=s.entered_by,
            category=s.category,
        )
    ]
    if s.complainant.anonymous:  # nobody to verify: step 2 done at once, and the history says why (issue #17 item 5)
        events.append(
            IdentityVerified(
                notes=ANONYMOUS_VERIFICATION,
                step=2,
                output=definition.step(2).output,
                next_step=3,
                next_due_at=due_at(definition, 3, s.received_at, calendar),
            )
        )
    return events


ANONYMOUS_VERIFICATION = (
    "Pengaduan anonim (tanpa identitas), diterima karena kecamatan ini menerima pengaduan anonim: verifikasi "
    "identitas dilewati."
)


def _flag_overdue(state: Complaint, command: c.FlagOverdue) -> list[Event]:
    if (
        state.status != "in_progress"
        or state.overdue_flagged
        or not state.step_due_at
        or command.at <= state.step_due_at
    ):
        raise NothingOverdue("no step is overdue")
    unit = state.unit if state.current_step in UNIT_BOUND_STEPS else None
    # in progress, so a step and its role are set
    step, role = cast(int, state.current_step), cast(str, state.waiting_role)
    return [StepOverdue(step=step, role=role, unit=unit, due_at=state.step_due_at)]


def _letter_issued(state: Complaint, command: c.RecordLetterIssued) -> list[Event]:
    issued = command.issued
    if state.letter_number != issued.letter_number or state.letter_document_id is not None:
        raise LetterMismatch(f"letter {issued.letter_number} does not match the complaint's ({state.letter_number})")
    return [
        LetterIssued(
            letter_version=issued.letter_version,
            letter_number=issued.letter_number,
            document_id=issued.document_id,
            sha256=issued.sha256,
            size=issued.size,
            verify_url=issued.verify_url,
        )
    ]


def _expire_documents(state: Complaint, command: c.ExpireDocumentsRequest) -> list[Event]:
    if (
        state.status != "awaiting_documents"
        or not state.documents_close_after
        or command.at <= state.documents_close_after
    ):
        raise NothingOverdue("no documents request has expired")
    return [ClosedIncomplete(reason="Dokumen yang diminta tidak diterima dalam batas waktu.")]


def _expire_referral(state: Complaint, command: c.ExpireReferral) -> list[Event]:
    if state.status != REFERRED or not state.step_due_at or command.at <= state.step_due_at:
        raise NothingOverdue("no referral has passed its follow-up time")
    return [
        ReferralLapsed(
            reason="Instansi penerima pelimpahan belum memberi tanggapan sampai batas waktu pemantauan kecamatan."
        )
    ]


def _done(state: Complaint, command: c.StaffCommand, calendar: Calendar, next_step: int | None) -> dict[str, Any]:
    """The common fields of a step-completing event."""
    definition = state.definition
    step = ACTION_STEP[command.action]
    return {
        "step": step,
        "output": definition.step(step).output,
        "next_step": next_step,
        "next_due_at": due_at(definition, next_step, command.at, calendar) if next_step else None,
    }


def _verify(state: Complaint, cmd: c.VerifyIdentity, cal: Calendar) -> Event:
    return IdentityVerified(notes=cmd.notes, **_done(state, cmd, cal, 3))


def _request_documents(state: Complaint, cmd: c.RequestDocuments, cal: Calendar) -> Event:
    return DocumentsRequested(
        message=cmd.message, close_after=cal.add_working_days(cmd.at, cmd.close_after_working_days)
    )


def _receive_documents(state: Complaint, cmd: c.ReceiveDocuments, cal: Calendar) -> Event:
    return DocumentsReceived(notes=cmd.notes, next_due_at=due_at(state.definition, 2, cmd.at, cal))


def _reject_identity(state: Complaint, cmd: c.RejectIdentity, cal: Calendar) -> Event:
    return IdentityRejected(reason=cmd.reason)


def _close_incomplete(state: Complaint, cmd: c.CloseIncomplete, cal: Calendar) -> Event:
    return ClosedIncomplete(reason=cmd.reason)


def _register(state: Complaint, cmd: c.Register, cal: Calendar) -> Event:
    return ComplaintRegistered(
        register_number=cmd.register_number, register_year=cmd.register_year, **_done(state, cmd, cal, 4)
    )


def _dispose(state: Complaint, cmd: c.Dispose, cal: Calendar) -> Event:
    return DispositionIssued(unit=cmd.unit, instructions=cmd.instructions, **_done(state, cmd, cal, 5))


def _redispose(state: Complaint, cmd: c.Redispose, cal: Calendar) -> Event:
    if cmd.unit == state.unit:  # the same unit again would only restart the step's clock
        raise UnitUnchanged(f"disposisi sudah ditujukan kepada unit {state.unit}; pilih unit lain")
    return DispositionRedirected(
        unit=cmd.unit,
        previous_unit=state.unit,
        instructions=cmd.instructions,
        reason=cmd.reason,
        next_due_at=due_at(state.definition, 5, cmd.at, cal),
    )


def _refer(state: Complaint, cmd: c.Refer, cal: Calendar) -> Event:
    return ComplaintReferred(
        agency=cmd.agency,
        agency_kind=cmd.agency_kind,
        agency_address=cmd.agency_address,
        reason=cmd.reason,
        follow_up_by=cal.add_working_days(cmd.at, cmd.follow_up_working_days),
        letter_number=cmd.letter_number,
        letter_sequence=cmd.letter_sequence,
        letter_year=cmd.letter_year,
    )


def _record_referral_answer(state: Complaint, cmd: c.RecordReferralAnswer, cal: Calendar) -> Event:
    # a day of slack: the date is the office's, written in its own zone, perhaps just after midnight there
    if cmd.answered_on is not None and cmd.answered_on > (cmd.at + timedelta(days=1)).date():
        raise AnsweredInFuture("tanggal tanggapan tidak boleh sesudah hari ini")
    referred_at = state.step_started_at  # while referred: when it was referred
    if cmd.answered_on is not None and referred_at and cmd.answered_on < (referred_at - timedelta(days=1)).date():
        raise AnsweredBeforeReferral(
            f"tanggal tanggapan tidak boleh sebelum pengaduan dilimpahkan ({referred_at.date().isoformat()})"
        )
    return ReferralAnswered(answer=cmd.answer, answered_on=cmd.answered_on, reference=cmd.reference)


def _clarify(state: Complaint, cmd: c.Clarify, cal: Calendar) -> Event:
    return ClarificationGiven(explanation=cmd.explanation, **_done(state, cmd, cal, 6))


def _request_letter(state: Complaint, cmd: c.RequestLetter, cal: Calendar) -> Event:
    return LetterRequested(notes=cmd.notes, **_done(state, cmd, cal, 7))


def _draft(state: Complaint, cmd: c.DraftLetter, cal: Calendar) -> Event:
    return LetterDrafted(
        letter_version=state.letter_version + 1, perihal=cmd.perihal, body=cmd.body, **_done(state, cmd, cal, 8)
    )


def _review(state: Complaint, cmd: c.ReviewLetter, cal: Calendar) -> Event:
    if cmd.approved:
        return LetterApproved(letter_version=state.letter_version, notes=cmd.notes, **_done(state, cmd, cal, 9))
    return LetterReturned(
        letter_version=state.letter_version,
        notes=cmd.notes or "Perbaiki sesuai catatan.",
        **{**_done(state, cmd, cal, 7), "output": "Draf dikembalikan dengan catatan"},
    )


def _duplicate(state: Complaint, cmd: c.DuplicateLetter, cal: Calendar) -> Event:
    return LetterDuplicated(copies=cmd.copies, tembusan=cmd.tembusan, **_done(state, cmd, cal, 10))


def _sign(state: Complaint, cmd: c.SignLetter, cal: Calendar) -> Event:
    return LetterSigned(
        letter_version=cast(int, state.approved_letter_version),  # step 10 comes after the approval (step 9)
        letter_number=cmd.letter_number,
        letter_sequence=cmd.letter_sequence,
        letter_year=cmd.letter_year,
        signature_service=cmd.signature_service,
        **_done(state, cmd, cal, 11),
    )


def _archive(state: Complaint, cmd: c.ArchiveLetter, cal: Calendar) -> Event:
    letter_number = cast(str, state.letter_number)  # step 11 comes after the signing, which numbered the letter
    return LetterArchived(
        letter_number=letter_number, document_id=state.letter_document_id, **_done(state, cmd, cal, 12)
    )


ANONYMOUS_RELEASE = "Diumumkan pada halaman pelacakan: pengadu anonim membukanya dengan kode pelacakannya."


def _send(state: Complaint, cmd: c.SendResponse, cal: Calendar) -> Event:
    if cmd.channel == c.TRACKING_PAGE:
        if not state.anonymous:
            raise TrackingPageForAnonymousOnly(
                "hanya pengaduan anonim yang dijawab lewat halaman pelacakan; kirim otomatis, lewat pos atau langsung"
            )
        return ResponseSent(
            channel=cmd.channel, receipt=cmd.receipt or ANONYMOUS_RELEASE, **_done(state, cmd, cal, None)
        )
    if cmd.channel != c.ELECTRONIC:
        return ResponseSent(channel=cmd.channel, receipt=cmd.receipt, **_done(state, cmd, cal, None))
    if state.response_dispatched:
        raise AlreadyDispatched(
            "surat sudah dikirim dan menunggu tanda terima; bila gagal, kirim lewat pos atau langsung"
        )
    if not state.has_electronic_contact:
        if state.anonymous:
            raise NoContact("pengaduan anonim: umumkan surat tanggapan lewat halaman pelacakan (lacak)")
        raise NoContact("pengadu tidak meninggalkan e-mail atau nomor telepon; kirim lewat pos atau langsung")
    return ResponseDispatched(letter_number=state.letter_number, document_id=state.letter_document_id)


def _notification(state: Complaint, report: NotificationReport) -> list[Event]:
    """Notify's report goes on the complaint's history; at step 12 the first confirmed send of the letter is
    the tanda terima pengiriman and closes the complaint."""
    common: dict[str, Any] = dict(
        delivery_id=report.delivery_id,
        kind=report.kind,
        audience="complainant" if report.kind in COMPLAINANT_KINDS else "staff",
        channel=report.channel,
        recipient=report.recipient,
        provider=report.provider,
        provider_message_id=report.provider_message_id,  # sealed by the store under the complaint's key
        provider_message_hash=report.provider_message_hash,
    )
    events: list[Event]
    if report.state == "sent":
        events = [NotificationSent(**common)]
    elif report.state == "delivered":
        events = [NotificationDelivered(**common)]
    elif report.state == "failed":
        events = [NotificationFailed(**common, error=report.error or "gagal dikirim")]
    else:
        events = [NotificationUncertain(**common, error=report.error)]
    # a provider's acceptance is the receipt for e-mail and SMS; WhatsApp accepts messages it may still fail
    # to deliver (outside the 24-hour window), so there only the delivery receipt counts
    confirmed = report.state == "delivered" or (report.state == "sent" and report.channel != "whatsapp")
    if (
        report.kind == "response_letter"
        and confirmed
        and state.status in OPEN
        and state.current_step == 12
        and state.response_dispatched
    ):
        receipt = f"{report.channel} {report.recipient}"
        if report.provider_message_hash:  # the provider's id itself holds a WhatsApp recipient's number
            receipt += f", {provider_reference(report.provider, report.provider_message_hash)}"
        events.append(
            ResponseSent(
                channel=report.channel,
                receipt=receipt,
                step=12,
                output=state.definition.step(12).output,
                next_step=None,
                next_due_at=None,
            )
        )
    return events


COMPLAINANT_KINDS = {
    "acknowledgment",
    "documents_requested",
    "referred",
    "referral_answered",
    "referral_lapsed",
    "response_letter",
    "identity_rejected",
    "closed_incomplete",
    "withdrawn",
}


def _reply(state: Complaint, reply: intake.ComplainantReplied) -> list[Event]:
    if state.version == 0:
        raise NotThisStep("pengaduan ini belum tercatat di alur kerja")
    return [
        ComplainantReplied(
            channel=reply.channel,
            sender=_mask(reply.sender),
            text=reply.text,
            received_at=reply.received_at,
            attachments=[ReplyAttachment(**a.model_dump()) for a in reply.attachments],
        )
    ]


def _mask(address: str) -> str:
    """Events are read widely (dashboards, the feed): a contact appears masked."""
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    return address[:6] + "****" + address[-3:] if len(address) > 9 else "****"


def _calendar(calendar: Calendar | None) -> Calendar:
    if calendar is None:
        raise TypeError("this command needs the kecamatan's calendar")
    return calendar


# -- after the closing: the complainant's answer, reopening, keberatan (issue #18 item 1; docs/adr/0020) ------
def _feedback(state: Complaint, cmd: c.RecordFeedback, cal: Calendar) -> list[Event]:
    """The complainant's answer to the latest closing with a response: recorded once. "Not resolved" reopens the
    complaint when it comes within the window after that closing and the complaint was never reopened; otherwise
    it is a keberatan for the Camat, unless a keberatan was answered already (the kecamatan's procedure has ended:
    the answer is recorded, and the complainant may go to the Ombudsman). A repeated or stale answer (intake checks
    the same on its copy of the status) changes nothing."""
    f = cmd.feedback
    if state.version == 0:
        raise NotThisStep("pengaduan ini belum tercatat di alur kerja")
    if state.status != "closed" or state.outcome != "resolved" or f.closing != state.closings:
        return []
    if state.personal_data_erased:  # nobody to answer again (docs/adr/0017): recorded nowhere
        return []
    if state.feedback_closing >= f.closing:
        return []
    consequence: Literal["none", "reopened", "objection"] = "none"
    if not f.satisfied and state.objection is None:
        closed_at = state.closed_at or f.given_at
        window_ends = cal.add_working_days(closed_at, cmd.window_working_days)
        consequence = "reopened" if f.given_at <= window_ends and state.reopenings == 0 else "objection"
    events: list[Event] = [
        FeedbackReceived(
            closing=f.closing,
            satisfied=f.satisfied,
            rating=f.rating,
            comment=f.comment,
            given_at=f.given_at,
            consequence=consequence,
        )
    ]
    if consequence == "reopened":
        events.append(_reopened(state, "feedback", state.unit, None, cmd.at, cal))
    elif consequence == "objection":
        events.append(
            ObjectionRaised(closing=f.closing, due_at=cal.add_working_days(cmd.at, cmd.objection_working_days))
        )
    return events


def _reopened(
    state: Complaint,
    cause: Literal["feedback", "objection"],
    unit: str | None,
    instructions: str | None,
    at: datetime,
    cal: Calendar,
) -> ComplaintReopened:
    definition = state.definition
    return ComplaintReopened(
        cause=cause,
        reopening=state.reopenings + 1,
        unit=unit,
        instructions=instructions,
        next_due_at=due_at(definition, 5, at, cal),
        deadline_at=cal.add_working_days(at, definition.completion_working_days),
    )


def _answer_objection(state: Complaint, cmd: c.AnswerObjection, cal: Calendar) -> list[Event]:
    answered = ObjectionAnswered(decision=cmd.decision, answer=cmd.answer)
    if cmd.decision == "upheld":
        return [answered]
    return [answered, _reopened(state, "objection", cmd.unit or state.unit, cmd.answer, cmd.at, cal)]


def _withdraw(state: Complaint, cmd: c.Withdraw, cal: Calendar) -> Event:
    return ComplaintWithdrawn(reason=cmd.reason, step=state.current_step)


def _mark_duplicate(state: Complaint, cmd: c.MarkDuplicate, cal: Calendar) -> Event:
    return MarkedDuplicate(
        duplicate_of=cmd.duplicate_of or "", original_id=cmd.original, reason=cmd.reason, step=state.current_step
    )


def _categorize(state: Complaint, cmd: c.Categorize, cal: Calendar) -> Event:
    if cmd.category == state.category:
        raise SameCategory("Pengaduan ini sudah berkategori itu.")
    return CategorySet(category=cmd.category, previous=state.category, step=state.current_step or 3)


# each takes its own command class: the table is keyed by that class, so the pairs always match
_STAFF: dict[type[c.StaffCommand], Callable[[Complaint, Any, Calendar], Event]] = {
    c.VerifyIdentity: _verify,
    c.RequestDocuments: _request_documents,
    c.ReceiveDocuments: _receive_documents,
    c.RejectIdentity: _reject_identity,
    c.CloseIncomplete: _close_incomplete,
    c.Register: _register,
    c.Dispose: _dispose,
    c.Redispose: _redispose,
    c.Refer: _refer,
    c.RecordReferralAnswer: _record_referral_answer,
    c.Clarify: _clarify,
    c.RequestLetter: _request_letter,
    c.DraftLetter: _draft,
    c.ReviewLetter: _review,
    c.DuplicateLetter: _duplicate,
    c.SignLetter: _sign,
    c.ArchiveLetter: _archive,
    c.SendResponse: _send,
    c.Withdraw: _withdraw,
    c.MarkDuplicate: _mark_duplicate,
    c.Categorize: _categorize,
}

CLOSING = {
    IdentityRejected: "identity_rejected",
    ClosedIncomplete: "incomplete",
    ComplaintReferred: "referred",  # only one without follow_up_by (written before referrals were followed)
    ReferralAnswered: "referred",
    ReferralLapsed: "referred",
    ResponseSent: "resolved",
    ComplaintWithdrawn: "withdrawn",
    MarkedDuplicate: "duplicate",
}


# -- evolve ------------------------------------------------------------------------------------------------
def evolve(state: Complaint, event: Event, at: datetime | None = None, by: str | None = None) -> Complaint:
    """The state after ``event``. ``at`` and ``by`` come from the envelope (occurred_at, actor)."""
    s = replace(
        state, version=state.version + 1, revision=state.revision + (0 if isinstance(event, NotificationEvent) else 1)
    )
    if isinstance(event, ComplaintReceived):
        return replace(
            s,
            complaint_id=event.complaint_id,
            kecamatan=event.kecamatan,
            tracking_code=event.tracking_code,
            status="in_progress",
            current_step=2,
            step_started_at=event.received_at,
            step_due_at=event.next_due_at,
            deadline_at=event.deadline_at,
            sop_version=event.sop_version,
            sop_overrides=event.sop_overrides,
            steps_done=(StepDone(1, event.received_at, by),),
            has_electronic_contact=bool(event.complainant.email or event.complainant.phone),
            confidential=event.complainant.confidential,
            anonymous=event.complainant.anonymous,
            category=event.category,
        )
    if isinstance(event, CategorySet):
        return replace(s, category=event.category)
    if isinstance(event, FeedbackReceived):
        return replace(s, feedback_closing=max(s.feedback_closing, event.closing))
    if isinstance(event, ComplaintReopened):
        return replace(
            s,
            status="in_progress",
            outcome=None,
            closed_at=None,
            current_step=event.next_step,
            step_started_at=at,
            step_due_at=event.next_due_at,
            deadline_at=event.deadline_at,
            unit=event.unit,
            overdue_flagged=False,
            response_dispatched=False,
            approved_letter_version=None,
            letter_number=None,
            letter_document_id=None,
            reopenings=event.reopening,
            steps_done=tuple(d for d in s.steps_done if d.number < event.next_step),  # this round's, from step 5
        )
    if isinstance(event, ObjectionRaised):
        return replace(
            s,
            status=OBJECTION,
            outcome=None,
            current_step=None,
            closed_at=None,
            objection="open",
            step_started_at=at,
            step_due_at=event.due_at,
            overdue_flagged=False,
        )
    if isinstance(event, ObjectionAnswered):
        if event.decision == "reopened":  # the ComplaintReopened after it opens the complaint again
            return replace(s, objection="answered")
        return replace(
            s,
            status="closed",
            outcome="resolved",
            objection="answered",
            closed_at=at,
            step_due_at=None,
            closings=s.closings + 1,
        )
    if isinstance(event, StepOverdue):
        return replace(s, overdue_flagged=True)
    if isinstance(event, PersonalDataErased):
        return replace(s, personal_data_erased=True, has_electronic_contact=False)
    if isinstance(event, ComplainantDataCorrected):
        who = event.complainant
        return replace(s, has_electronic_contact=bool(who.email or who.phone) and not s.personal_data_erased)
    if isinstance(event, LetterIssued):
        return replace(s, letter_document_id=event.document_id)
    if isinstance(event, ResponseDispatched):
        return replace(s, response_dispatched=True)
    if isinstance(event, DocumentsRequested):
        return replace(s, status="awaiting_documents", step_due_at=None, documents_close_after=event.close_after)
    if isinstance(event, DispositionRedirected):
        return replace(s, unit=event.unit, step_started_at=at, step_due_at=event.next_due_at, overdue_flagged=False)
    if isinstance(event, ComplaintReferred) and event.follow_up_by is not None:
        return replace(
            s,
            status=REFERRED,
            step_started_at=at,
            step_due_at=event.follow_up_by,
            overdue_flagged=False,
            steps_done=(*s.steps_done, StepDone(4, at, by)),
        )
    if isinstance(event, DocumentsReceived):
        return replace(
            s,
            status="in_progress",
            step_started_at=at,
            step_due_at=event.next_due_at,
            documents_close_after=None,
            overdue_flagged=False,
        )
    if type(event) in CLOSING:
        return replace(
            s,
            status="closed",
            outcome=CLOSING[type(event)],
            closed_at=at,
            step_due_at=None,
            documents_close_after=None,
            steps_done=s.steps_done + ((StepDone(12, at, by),) if isinstance(event, ResponseSent) else ()),
            closings=s.closings + (1 if isinstance(event, ResponseSent) else 0),
        )
    if isinstance(event, StepCompleted):
        s = replace(
            s,
            current_step=event.next_step,
            step_started_at=at,
            step_due_at=event.next_due_at,
            overdue_flagged=False,
            steps_done=(*s.steps_done, StepDone(event.step, at, by))
            if not isinstance(event, LetterReturned)
            else s.steps_done,
        )
        if isinstance(event, ComplaintRegistered):
            return replace(s, register_number=event.register_number, register_year=event.register_year)
        if isinstance(event, DispositionIssued):
            return replace(s, unit=event.unit)
        if isinstance(event, LetterDrafted):
            return replace(s, letter_version=event.letter_version)
        if isinstance(event, LetterApproved):
            return replace(s, approved_letter_version=event.letter_version)
        if isinstance(event, LetterSigned):
            return replace(s, letter_number=event.letter_number)
        return s
    return s


def replay(envelopes: Iterable[EventEnvelope | Event]) -> Complaint:
    """Rebuild from stored envelopes (or bare events, for tests)."""
    state = Complaint()
    for e in envelopes:
        state = evolve(state, e) if isinstance(e, Event) else evolve(state, e.decode(), e.occurred_at, e.actor.user_id)
    return state
