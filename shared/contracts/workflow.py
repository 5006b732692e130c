"""Workflow events other services read (through the relay, projections and the feed). Contracts: add
fields, never rename or remove them; a breaking change is a new schema_version with an upcaster.

Every event that completes an SOP step says which step, the step's output (the SOP's "Output" column),
which step comes next and when that one is due. Who did it and when is in the envelope (actor,
occurred_at).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from shared.contracts.intake import Attachment, Complainant
from shared.events import Event, Frozen, registry


class StepCompleted(Event):
    step: int
    output: str
    next_step: int | None = None
    next_due_at: datetime | None = None


# what a complainant's name reads as once their personal data was erased (docs/adr/0017)
ERASED_NAME = "(data pribadi dihapus)"


@registry.register
class ComplaintReceived(Event):
    """Step 1 done: the complaint is in the workflow, step 2 (identity verification) waits."""

    type = "workflow.ComplaintReceived"
    schema_version = 1
    # sealed under the complaint's data key in the store; erased: a name that says so and nothing else, and no
    # attachments (their file names are the complainant's words; the scans themselves are deleted)
    PERSONAL = ("complainant", "attachments")
    ERASED = {"complainant": {"name": ERASED_NAME}, "attachments": []}

    complaint_id: UUID
    submission_id: UUID
    tracking_code: str
    kecamatan: str
    channel: str
    complainant: Complainant
    subject: str
    description: str
    received_at: datetime
    sop_version: str
    sop_overrides: dict[Any, Any] | None = None
    step: int = 1
    output: str = "Form Pengaduan"
    next_step: int = 2
    next_due_at: datetime | None = None
    deadline_at: datetime | None = None  # the 12-working-day promise
    attachments: list[Attachment] = []  # scans of KTP/SIM/KK, photos (bytes in the document store)
    entered_at: datetime | None = None  # a complaint-box form or a call typed in by staff: when, and by whom
    entered_by: str | None = None
    # the category the complainant picked (shared/contracts/categories.py, its kabupaten's list), if any; staff set
    # or correct it at step 3 or 4 (CategorySet)
    category: str | None = None


@registry.register
class IdentityVerified(StepCompleted):
    type = "workflow.IdentityVerified"
    notes: str | None = None


@registry.register
class DocumentsRequested(Event):
    """Step 2 paused: the complainant is asked for a missing document through their channel."""

    type = "workflow.DocumentsRequested"
    step: int = 2
    output: str = "Permintaan kelengkapan identitas kepada pengadu"
    message: str
    close_after: datetime  # closed as incomplete if nothing arrives by then


@registry.register
class DocumentsReceived(Event):
    """The complainant answered: step 2 starts again with its full standard time."""

    type = "workflow.DocumentsReceived"
    step: int = 2
    output: str = "Kelengkapan identitas diterima"
    notes: str | None = None
    next_due_at: datetime


@registry.register
class IdentityRejected(Event):
    type = "workflow.IdentityRejected"
    step: int = 2
    output: str = "Identitas pengadu ditolak"
    reason: str


@registry.register
class ClosedIncomplete(Event):
    type = "workflow.ClosedIncomplete"
    step: int = 2
    output: str = "Ditutup: kelengkapan identitas tidak diterima"
    reason: str


@registry.register
class ComplaintRegistered(StepCompleted):
    """Step 3: the number in the Buku Rekap Pengaduan, gapless per kecamatan per year."""

    type = "workflow.ComplaintRegistered"
    register_number: int
    register_year: int


@registry.register
class DispositionIssued(StepCompleted):
    """Step 4, within the kecamatan's duties (tupoksi): to a Kasi/Kasubag unit, with instructions."""

    type = "workflow.DispositionIssued"
    unit: str
    instructions: str


@registry.register
class DispositionRedirected(Event):
    """Step 5 waiting: the Camat sends the disposition to another unit (a stranded free-text disposition, a
    unit retired, a change of mind); the earlier disposition stays in the history. Step 5 starts again."""

    type = "workflow.DispositionRedirected"
    step: int = 5
    output: str = "Disposisi dialihkan"
    unit: str  # the unit's code
    previous_unit: str | None = None
    instructions: str
    reason: str
    next_due_at: datetime


AgencyKind = Literal["opd", "desa", "sp4n-lapor", "lainnya"]


@registry.register
class ComplaintReferred(Event):
    """Step 4, not within its duties: referred (dilimpahkan) to a competent agency; the complainant is told."""

    type = "workflow.ComplaintReferred"
    step: int = 4
    output: str = "Disposisi Tindak Lanjut (dilimpahkan)"
    agency: str
    agency_kind: AgencyKind
    reason: str
    # The referral stays open (dilimpahkan) until staff record the receiving office's answer
    # (``ReferralAnswered``) or this time passes (``ReferralLapsed``); the complainant is told at both
    # moments. None on events written before it existed: those closed the complaint at once.
    follow_up_by: datetime | None = None
    agency_address: str | None = None  # where the surat pelimpahan goes
    # the surat pelimpahan to the receiving office, numbered when the Camat refers (the letters worker renders
    # and signs it with the number inside what the signature covers)
    letter_number: str | None = None
    letter_sequence: int | None = None
    letter_year: int | None = None


@registry.register
class ReferralAnswered(Event):
    """Staff record the receiving office's answer to a referral; the complaint closes as referred and the
    complainant is told what the office answered."""

    type = "workflow.ReferralAnswered"
    step: int = 4
    output: str = "Tanggapan instansi penerima pelimpahan"
    answer: str
    answered_on: date | None = None  # the date of the office's letter or message
    reference: str | None = None  # its number, or how it came (e.g. "surat 100/23/2026", "telepon")


@registry.register
class ReferralLapsed(Event):
    """No answer from the receiving office by ``follow_up_by``: the kecamatan stops following the referral, the
    complaint closes as referred and the complainant is told where to ask."""

    type = "workflow.ReferralLapsed"
    step: int = 4
    output: str = "Batas waktu pemantauan pelimpahan berakhir"
    reason: str


@registry.register
class ClarificationGiven(StepCompleted):
    type = "workflow.ClarificationGiven"
    explanation: str


@registry.register
class LetterRequested(StepCompleted):
    type = "workflow.LetterRequested"
    notes: str | None = None


@registry.register
class LetterDrafted(StepCompleted):
    """Step 7: a draft; every revision is a new version and all are kept."""

    type = "workflow.LetterDrafted"
    letter_version: int
    perihal: str
    body: str


@registry.register
class LetterApproved(StepCompleted):
    """Step 8: the Sekcam's paraf on one version."""

    type = "workflow.LetterApproved"
    letter_version: int
    notes: str | None = None


@registry.register
class LetterReturned(StepCompleted):
    """Step 8: not approved; back to step 7 with the reviewer's notes."""

    type = "workflow.LetterReturned"
    letter_version: int
    notes: str


@registry.register
class LetterDuplicated(StepCompleted):
    """Step 9: the approved letter duplicated; ``tembusan``: the offices that get a copy, printed on the signed
    letter's Tembusan ("Bupati Pamekasan (sebagai laporan)"; [] before it existed)."""

    type = "workflow.LetterDuplicated"
    copies: list[str]
    tembusan: list[str] = []


@registry.register
class LetterSigned(StepCompleted):
    """Step 10: the Camat signs; the letter gets its number now, so that the number is inside what the
    digital signature covers (the letters worker renders, signs and stores it: ``LetterIssued``)."""

    type = "workflow.LetterSigned"
    letter_version: int
    letter_number: str | None = None
    letter_sequence: int | None = None
    letter_year: int | None = None
    # "bsre": signed through the national e-signature service when the Camat signed (the letters service holds that
    # PDF, docs/adr/0016); None: the letters worker signs it now with the kecamatan's own key
    signature_service: str | None = None


@registry.register
class LetterIssued(Event):
    """The letters worker reports the signed document: its id (the QR code's verification page) and hash."""

    type = "workflow.LetterIssued"
    step: int = 10
    output: str = "Dokumen surat tanggapan (ditandatangani secara elektronik)"
    letter_version: int
    letter_number: str
    document_id: UUID
    sha256: str
    size: int
    verify_url: str


@registry.register
class LetterArchived(StepCompleted):
    """Step 11: the numbered, signed letter archived and recorded in the register."""

    type = "workflow.LetterArchived"
    letter_number: str
    document_id: UUID | None = None


@registry.register
class ResponseSent(StepCompleted):
    """Step 12: the response went to the complainant, with the delivery receipt (tanda terima). The workflow writes
    a provider's confirmation as ``"<channel> <masked recipient>, <provider> ref <16 hex digits>"``
    (``provider_reference``); staff write their own for the post or by hand."""

    type = "workflow.ResponseSent"
    channel: str
    receipt: str | None = None


REFERENCE_DIGITS = 16


def provider_reference(provider: str | None, provider_message_hash: str) -> str:
    """How a receipt names the provider's message: by the first 16 hex digits of its keyed hash, never by the
    provider's id (a WhatsApp id holds the recipient's phone number: docs/adr/0017, decision 7). Enough to find the
    delivery among notify's rows (``provider_message_hash``) and the notification event that sealed the id."""
    return f"{provider or 'penyedia'} ref {provider_message_hash[:REFERENCE_DIGITS]}"


@registry.register
class ComplaintWithdrawn(Event):
    type = "workflow.ComplaintWithdrawn"
    step: int | None = None  # the step it was at
    output: str = "Pengaduan dicabut"
    reason: str


@registry.register
class CategorySet(Event):
    """Staff set or corrected the complaint's category at step 3 or 4 (issue #18 item 2): its code in the kabupaten's
    list (shared/contracts/categories.py) and the one it had, if any."""

    type = "workflow.CategorySet"
    step: int  # the step it was at
    output: str = "Kategori pengaduan ditetapkan"
    category: str
    previous: str | None = None


@registry.register
class FeedbackReceived(Event):
    """The complainant answered whether their complaint, as closed, is resolved, and rated the handling (issue #18
    item 1; docs/adr/0020): once per closing. ``closing`` counts the closings with a response (1 the first)."""

    type = "workflow.FeedbackReceived"
    # what the complainant wrote is theirs: sealed; erased, gone
    PERSONAL = ("comment",)
    ERASED = {"comment": None}
    output: str = "Penilaian pengadu diterima"
    closing: int
    satisfied: bool
    rating: int  # 1 (tidak baik) .. 4 (sangat baik), as public-service satisfaction surveys ask
    comment: str | None = None
    given_at: datetime  # when the complainant sent it (the window is measured to it, not to its processing)
    # what it led to: nothing (satisfied, or after a keberatan was answered), a reopening or a keberatan
    consequence: Literal["none", "reopened", "objection"] = "none"


@registry.register
class ComplaintReopened(Event):
    """A closed complaint handled again from the disposed unit's clarification (step 5), with a new due time and a
    new 12-working-day promise; the earlier letter stays as it was (issue #18 item 1). ``cause``: the complainant's
    "not resolved" within the window, or the Camat's answer to a keberatan."""

    type = "workflow.ComplaintReopened"
    output: str = "Pengaduan dibuka kembali"
    cause: Literal["feedback", "objection"]
    reopening: int  # 1 the first time
    unit: str | None  # the unit that clarifies again
    instructions: str | None = None  # the Camat's, when a keberatan reopened it
    step: int = 5
    next_step: int = 5
    next_due_at: datetime
    deadline_at: datetime


@registry.register
class ObjectionRaised(Event):
    """A keberatan: the complainant is still not satisfied after the window, or after a reopening; escalated to the
    Camat, who answers it by a due time (issue #18 item 1)."""

    type = "workflow.ObjectionRaised"
    output: str = "Keberatan diteruskan kepada Camat"
    closing: int
    role: str = "camat"
    due_at: datetime


@registry.register
class ObjectionAnswered(Event):
    """The Camat's answer to a keberatan: ``upheld`` (the response stands: closed again with this answer sent to the
    complainant) or ``reopened`` (handled again: a ComplaintReopened follows in the same transaction)."""

    type = "workflow.ObjectionAnswered"
    output: str = "Keberatan dijawab Camat"
    decision: Literal["upheld", "reopened"]
    answer: str


@registry.register
class MarkedDuplicate(Event):
    type = "workflow.MarkedDuplicate"
    step: int | None = None  # the step it was at
    output: str = "Ditandai sebagai duplikat"
    # the tracking code of the original complaint; "(pelapor rahasia)" or its register number where the original's
    # complainant is confidential (their code opens their receipt; docs/adr/0021)
    duplicate_of: str
    reason: str | None = None
    original_id: UUID | None = None  # the original complaint (docs/adr/0021); None before, or for a code not found


@registry.register
class StepOverdue(Event):
    """A step passed its due time (once per step occurrence); the role and its superior are told."""

    type = "workflow.StepOverdue"
    step: int
    role: str
    unit: str | None = None  # at the unit-bound steps, the Kasi unit that must act
    due_at: datetime


@registry.register
class ResponseDispatched(Event):
    """Step 12 under way: the signed letter is released and handed to notify for the complainant's own
    channel. The complaint closes (``ResponseSent``) when a provider confirms a send: that confirmation is
    the tanda terima pengiriman."""

    type = "workflow.ResponseDispatched"
    step: int = 12
    output: str = "Surat tanggapan dikirim melalui saluran pengadu"
    letter_number: str | None = None
    document_id: UUID | None = None


class NotificationEvent(Event):
    """What became of one message of notify (to the complainant or to staff), on the complaint's history.

    The provider's message id is the complainant's data (a WhatsApp id is ``wamid.`` and base64 holding their phone
    number): sealed under the complaint's data key, and erased with it. ``provider_message_hash`` (HMAC-SHA256 of the
    id, ``shared.privacy.ProviderIdHashes``) stays in clear: what intake's erasure ties the delivery receipts by
    once the id no longer reads (docs/adr/0017, decision 7). Events recorded before both existed carried the id in
    clear; migration 0025 sealed them and added the hash."""

    PERSONAL = ("provider_message_id",)
    ERASED = {"provider_message_id": None}

    delivery_id: UUID
    kind: str
    audience: str = "complainant"
    channel: str
    recipient: str  # masked
    provider: str | None = None
    provider_message_id: str | None = None
    provider_message_hash: str | None = None


@registry.register
class NotificationSent(NotificationEvent):
    """The provider accepted the message (SMTP 250, the gateway's message id)."""

    type = "workflow.NotificationSent"


@registry.register
class NotificationDelivered(NotificationEvent):
    """The provider's delivery receipt came back."""

    type = "workflow.NotificationDelivered"


@registry.register
class NotificationFailed(NotificationEvent):
    """The message will not reach the complainant this way (a permanent error, or retries exhausted):
    staff see it and use another way (for the letter: by post or by hand, ``send-response``)."""

    type = "workflow.NotificationFailed"
    error: str


@registry.register
class NotificationUncertain(NotificationEvent):
    """A send whose outcome was lost (the worker died during the provider call) and the provider cannot be
    asked: not sent again blindly; staff check with the complainant."""

    type = "workflow.NotificationUncertain"
    error: str | None = None


class ReplyAttachment(Frozen):
    sha256: str
    content_type: str
    size: int
    filename: str | None = None
    kind: str | None = None


@registry.register
class ComplainantReplied(Event):
    """The complainant wrote again (e.g. sent the requested KTP photo) on a channel: staff see it at step 2."""

    type = "workflow.ComplainantReplied"
    # what the complainant wrote, from where (masked), and the file names they gave: sealed; erased, gone
    PERSONAL = ("text", "sender", "attachments")
    ERASED = {"text": ERASED_NAME, "sender": "-", "attachments": []}
    channel: str
    sender: str  # masked
    text: str
    attachments: list[ReplyAttachment] = []
    received_at: datetime


@registry.register
class PersonalDataErased(Event):
    """The complainant's personal data was erased (UU 27/2022 PDP; docs/adr/0017): the complaint's data key was
    destroyed in the transaction that appended this event, so its sealed values read as erased everywhere. Every
    service that keeps a copy of them (intake's submissions, outbox, inbound messages and scans; notify's
    deliveries; letters' documents; the dashboard's read model; dead letters) removes it when this event reaches
    it. The history, the register number and the letter numbers remain."""

    type = "workflow.PersonalDataErased"
    reason: str  # why: "permintaan pengadu", "masa retensi berakhir", ...
    requested_by: str  # the admin (or the retention job) who asked
    request_id: UUID  # the erasure request, as its API answered it


@registry.register
class ComplainantDataCorrected(Event):
    """The complainant's data corrected on their request (UU 27/2022 PDP, art. 6; issue #17): a wrong phone number
    or e-mail address, a misspelt name or address, a NIK typed wrongly. ``complainant`` is the whole record as
    corrected (the one every reader uses from now on: ``current_complainant``); ``corrected`` names the fields that
    changed. The earlier values stay in the history, sealed under the same key (erased with it)."""

    type = "workflow.ComplainantDataCorrected"
    # the corrected record and the reason (it may quote the person's values): sealed; erased, as the complainant
    PERSONAL = ("complainant", "reason")
    ERASED = {"complainant": {"name": ERASED_NAME}, "reason": ERASED_NAME}
    complainant: Complainant
    corrected: list[str]  # name, nik, phone, email, address
    reason: str
    request_id: UUID  # the request, as privacy.requests records it


def current_complainant(events: list[Event]) -> Complainant | None:
    """The complainant as the complaint knows them now: the latest correction's record, else the one received (None
    for a history without ``ComplaintReceived``). Every reader that writes to the complainant or names them (letters,
    notify, the read models) takes it from here."""
    found: Complainant | None = None
    for event in events:
        if isinstance(event, ComplainantDataCorrected) or (isinstance(event, ComplaintReceived) and found is None):
            found = event.complainant
    return found
