"""Commands on a complaint: imperative, one per thing a person (or the system) can do."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Final, Literal
from uuid import UUID

from pydantic import AfterValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from shared.contracts.intake import ComplainantReplied, ComplaintSubmitted, FeedbackGiven
from shared.contracts.letters import LetterDocumentIssued
from shared.contracts.notify import NotificationReport
from shared.contracts.workflow import AgencyKind
from shared.events import Frozen
from shared.text import FreeText, OneLine

Role = Literal["staf", "kasi", "sekcam", "camat"]


def _filled(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("missing", "Wajib diisi.")
    return value


Filled = Annotated[FreeText, AfterValidator(_filled)]  # free text that says something (not only spaces)


class RecordComplaint(Frozen):
    """Take a submission from intake into the workflow (step 1 of the SOP)."""

    submission: ComplaintSubmitted
    sop_overrides: dict[Any, Any] | None = None


class Actor(Frozen):
    user_id: str
    role: Role
    unit: str | None = None


class StaffCommand(Frozen):
    """What every staff action carries: who, when. ``action`` is its name in the API."""

    action: ClassVar[str]
    actor: Actor
    at: datetime


class VerifyIdentity(StaffCommand):
    action = "verify-identity"
    notes: FreeText | None = None


class RequestDocuments(StaffCommand):
    action = "request-documents"
    message: FreeText
    close_after_working_days: int = Field(10, ge=1, le=60)


class ReceiveDocuments(StaffCommand):
    action = "receive-documents"
    notes: FreeText | None = None


class RejectIdentity(StaffCommand):
    action = "reject-identity"
    reason: FreeText


class CloseIncomplete(StaffCommand):
    action = "close-incomplete"
    reason: FreeText = "Dokumen yang diminta tidak diterima dalam batas waktu."


class Register(StaffCommand):
    action = "register"
    register_number: int  # handed out by the handler from the kecamatan's counter, in the same transaction
    register_year: int


class Dispose(StaffCommand):
    """To a unit of the kecamatan: the handler has resolved what the Camat wrote into the unit's code."""

    action = "dispose"
    unit: OneLine
    instructions: FreeText

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str) -> str:
        value = " ".join(value.split()).casefold()
        if not value:
            raise ValueError("unit must name a Kasi/Kasubag unit")
        return value


class Redispose(Dispose):
    """The Camat sends a disposition waiting at step 5 to another unit."""

    action = "redispose"
    reason: FreeText


class Refer(StaffCommand):
    """Step 4, not within the kecamatan's duties: referred (dilimpahkan) with a surat pelimpahan. The referral
    is followed until staff record the receiving office's answer or ``follow_up_working_days`` pass."""

    action = "refer"
    # bounded: each is printed in the surat pelimpahan, whose signature must stay on its one page
    agency: OneLine = Field(min_length=1, max_length=200)
    agency_kind: AgencyKind = "opd"
    agency_address: OneLine | None = Field(None, max_length=300)
    reason: Filled = Field(max_length=2000)
    follow_up_working_days: int = Field(14, ge=1, le=60)
    klasifikasi: str | None = Field(None, max_length=40)  # of the surat pelimpahan's number, as SignLetter's
    # the surat pelimpahan's number, handed out by the handler from the kecamatan's counter
    letter_number: str | None = None
    letter_sequence: int | None = None
    letter_year: int | None = None


class RecordReferralAnswer(StaffCommand):
    """Staff record what the office a complaint was referred to answered (its letter, a message, a call)."""

    action = "record-referral-answer"
    answer: Filled = Field(max_length=4000)
    answered_on: date | None = None
    reference: OneLine | None = Field(None, max_length=200)


class Clarify(StaffCommand):
    action = "clarify"
    explanation: FreeText


class RequestLetter(StaffCommand):
    action = "request-letter"
    notes: FreeText | None = None


class DraftLetter(StaffCommand):
    action = "draft-letter"
    perihal: OneLine
    body: FreeText


class ReviewLetter(StaffCommand):
    action = "review-letter"
    approved: bool
    notes: FreeText | None = None


MAX_TEMBUSAN = 10  # what the foot of a one-page letter holds
MAX_TEMBUSAN_LENGTH = 200


def _office(value: str) -> str:
    """An office a letter's copy goes to, as its Tembusan prints it: spaces folded, not empty, not too long."""
    folded = " ".join(value.split())
    if not folded:
        raise PydanticCustomError("tembusan_empty", "Nama penerima tembusan tidak boleh kosong.")
    if len(folded) > MAX_TEMBUSAN_LENGTH:
        raise PydanticCustomError(
            "tembusan_too_long", "Nama penerima tembusan paling banyak {max} karakter.", {"max": MAX_TEMBUSAN_LENGTH}
        )
    return folded


Tembusan = Annotated[OneLine, AfterValidator(_office)]  # one line (no line breaks), then folded and bounded


class DuplicateLetter(StaffCommand):
    """Step 9: the approved letter duplicated. ``tembusan``: the offices that get a copy (e.g. "Bupati Pamekasan
    (sebagai laporan)", "Inspektur Kabupaten Pamekasan"), printed in that order on the signed letter."""

    action = "duplicate-letter"
    copies: list[OneLine] = Field(default_factory=lambda: ["pengadu", "arsip"])
    tembusan: list[Tembusan] = Field(default_factory=list, max_length=MAX_TEMBUSAN)


class SignLetter(StaffCommand):
    action = "sign-letter"
    # the classification code (kode klasifikasi arsip) of the letter's number, one of the kabupaten's list
    # (shared.contracts.numbering), checked by the handler; None: the kabupaten's default, which the handler writes in
    klasifikasi: str | None = Field(None, max_length=40)
    letter_number: str  # handed out by the handler from the kecamatan's counter
    letter_sequence: int
    letter_year: int
    # set by the handler: "bsre" when the kecamatan signs through BSrE and BSrE signed it (docs/adr/0016)
    signature_service: str | None = None


class ArchiveLetter(StaffCommand):
    action = "archive-letter"


class RecordLetterIssued(Frozen):
    """The letters worker's report: the signed document exists."""

    issued: LetterDocumentIssued


ELECTRONIC: Final = "otomatis"
MANUAL_CHANNELS = ("pos", "langsung", "kurir")
TRACKING_PAGE: Final = "lacak"  # an anonymous complaint's only way: the letter released to its tracking code


class SendResponse(StaffCommand):
    """Step 12. ``otomatis``: notify sends the signed letter on the complainant's own channel and the
    provider's confirmation closes the complaint. ``pos``/``langsung``/``kurir``: staff sent or handed it
    themselves and record the delivery receipt (tanda terima) now; also the way out when sending failed.
    ``lacak``: an anonymous complaint's letter is released to its tracking code (the complainant holds it; there is
    no one else to send it to) and the complaint closes."""

    action = "send-response"
    channel: Literal["otomatis", "pos", "langsung", "kurir", "lacak"] = ELECTRONIC
    receipt: str | None = None


class RecordNotification(Frozen):
    """Notify's report on one message (see shared/contracts/notify.py)."""

    report: NotificationReport


class RecordReply(Frozen):
    """Intake's: the complainant wrote again on a channel."""

    reply: ComplainantReplied


class RecordFeedback(Frozen):
    """Intake's: the complainant said whether the closed complaint is resolved (issue #18 item 1). ``window`` and
    ``objection_working_days`` are the deployment's settings (docs/adr/0020)."""

    feedback: FeedbackGiven
    at: datetime  # when the workflow takes it
    window_working_days: int
    objection_working_days: int


class AnswerObjection(StaffCommand):
    """The Camat's answer to a keberatan: ``upheld`` (the response stands; the answer is sent to the complainant) or
    ``reopened`` (the disposed unit, or ``unit``, clarifies again from step 5, with the answer as instructions)."""

    action = "answer-objection"
    decision: Literal["upheld", "reopened"]
    answer: Annotated[Filled, Field(max_length=3000)]  # sent to the complainant (a WhatsApp text: 4,096 at most)
    unit: OneLine | None = Field(None, max_length=64)


class Withdraw(StaffCommand):
    action = "withdraw"
    reason: FreeText = "Dicabut oleh pengadu."


class MarkDuplicate(StaffCommand):
    """Close the complaint as a duplicate of an earlier one (docs/adr/0021), named by ``original`` (its id: the staff
    page's "Tandai duplikat dari ini" on a possible duplicate) or ``duplicate_of`` (its tracking code, typed); the
    handler finds the original among its kecamatan's complaints and records both."""

    action = "mark-duplicate"
    duplicate_of: OneLine | None = None
    original: UUID | None = None
    reason: FreeText | None = None

    @model_validator(mode="after")
    def _names_the_original(self) -> MarkDuplicate:
        if not self.duplicate_of and self.original is None:
            raise PydanticCustomError(
                "original_required", "Sebutkan pengaduan aslinya: kode pelacakan (duplicate_of) atau id (original)."
            )
        return self


class Categorize(StaffCommand):
    """Set or correct the complaint's category (issue #18 item 2): at step 3 or 4, by that step's role. The code is
    one of the kabupaten's list (shared/contracts/categories.py), checked by the handler, which knows the list."""

    action = "categorize"
    category: str = Field(min_length=2, max_length=40, pattern=r"^[a-z0-9-]+$")


class FlagOverdue(Frozen):
    """The scheduler's: the current step is past its due time."""

    at: datetime


class ExpireDocumentsRequest(Frozen):
    """The scheduler's: the complainant did not send the requested documents in time."""

    at: datetime


class ExpireReferral(Frozen):
    """The scheduler's: the office a complaint was referred to did not answer in time."""

    at: datetime


STAFF_COMMANDS: dict[str, type[StaffCommand]] = {
    c.action: c
    for c in (
        VerifyIdentity,
        RequestDocuments,
        ReceiveDocuments,
        RejectIdentity,
        CloseIncomplete,
        Register,
        Dispose,
        Redispose,
        Refer,
        RecordReferralAnswer,
        Clarify,
        RequestLetter,
        DraftLetter,
        ReviewLetter,
        DuplicateLetter,
        SignLetter,
        ArchiveLetter,
        SendResponse,
        Withdraw,
        MarkDuplicate,
        Categorize,
        AnswerObjection,
    )
}

# what decide() takes: the system's commands and every staff action
Command = (
    RecordComplaint
    | RecordLetterIssued
    | RecordNotification
    | RecordReply
    | RecordFeedback
    | FlagOverdue
    | ExpireDocumentsRequest
    | ExpireReferral
    | StaffCommand
)
