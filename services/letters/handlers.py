"""What the letters service does with the workflow's events, and the checks of a letter someone holds.

- ``ComplaintReceived``: the receipt (tanda terima), at once available to the complainant by tracking code.
- ``DispositionIssued`` (step 4), ``DispositionRedirected``: the Lembar Disposisi, one per disposition.
- ``ComplaintReferred`` (step 4): the surat pelimpahan to the receiving office, numbered by the workflow when the
  Camat referred, signed like the response letter (a referral recorded before referrals had letters: nothing).
- ``LetterDrafted`` (step 7): the draft rendered as a PDF (marked DRAF), one per version, all kept.
- ``LetterSigned`` (step 10): the signed response letter (below).
- ``ResponseSent`` (step 12): the signed letter released to the complainant.
- ``PersonalDataErased``: the complaint's documents erased (``erase_personal_data``, docs/adr/0017); a document
  task of an erased complaint that comes later (a redelivery) makes nothing.

The Kartu Kendali is not stored: it is read from the complaint's events whenever someone prints it
(``control_card``), since it changes with every step.

Each runs in one unit of work (``ctx.uow()``, services/letters/unit_of_work.py), one transaction. Every
document is one row per source event (a task that runs twice reuses it) and bytes stored content-addressed.

Once per ``LetterSigned`` event: the letter is rendered with the number the workflow gave it at signing,
PAdES-signed with the kecamatan's key (so the number is inside what the signature covers), stored
content-addressed, recorded in ``letters.documents`` (one row per event: a task that runs twice reuses the
document), and only then reported to the workflow (``LetterDocumentIssued``, through the outbox: handed to
the broker after the commit), which lets step 11 go on.

A letter is genuine when its signature is valid, it chains to a kecamatan served here, it is unchanged since
it was signed, and this service issued it (its SHA-256 is on record as a numbered letter: a response letter or
a surat pelimpahan):
``signed_letter`` and ``check_letter`` for the page behind a letter's QR code, ``check_upload`` for a PDF
someone sends.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol
from uuid import UUID

from services.letters.adapters.bsre import Appearance, EsignError, EsignUnavailable
from services.letters.adapters.lambang import LambangFiles
from services.letters.adapters.pdf import (
    layout_referral_letter,
    layout_response_letter,
    render_complaint_form,
    render_control_card,
    render_disposition_sheet,
    render_receipt,
    render_response_letter,
)
from services.letters.adapters.signing import SigningIdentity, Timestamping, ValidationData, sign_pdf
from services.letters.adapters.verification import Verification, verify_pdf
from services.letters.domain.control_card import control_card as read_control_card
from services.letters.domain.letter import (
    REFERRAL_PERIHAL,
    SIGNED_WITH_BSRE,
    SIGNED_WITH_DEVELOPMENT_CA,
    SIGNED_WITH_OWN_CERTIFICATE,
    DispositionSheet,
    Letterhead,
    Receipt,
    ReferralLetter,
    RenderedLetter,
    ResponseLetter,
    Signer,
    Zone,
)
from services.letters.unit_of_work import (
    DISPOSITION_SHEET,
    REFERRAL_LETTER,
    SIGNED_KINDS,
    StaffName,
    UnitOfWork,
)
from shared import masking
from shared.calendar import WorkingCalendar
from shared.contracts.intake import CHANNEL_LABELS, Complainant
from shared.contracts.letters import BSRE, EsignLetter, LetterDocumentIssued
from shared.contracts.organisation import ATAS_NAMA, ATAS_NAMA_OFFICES, DELEGATION_KINDS, PP17_UNITS, find_unit
from shared.contracts.workflow import (
    ComplaintReceived,
    ComplaintReferred,
    ComplaintRegistered,
    DispositionIssued,
    DispositionRedirected,
    LetterDrafted,
    LetterDuplicated,
    LetterSigned,
    PersonalDataErased,
    current_complainant,
)
from shared.events import Actor, Event, EventEnvelope
from shared.handoffs import Handoff
from shared.storage import DocumentStore
from shared.tenancy import Kecamatan

log = logging.getLogger(__name__)

NAMESPACE = uuid.UUID("2d0c6a55-6c65-7474-6572-732d70656e67")


class Directory(Protocol):
    """The kecamatan served here (``shared.tenancy.KecamatanDirectory``)."""

    def get(self, slug: str) -> Kecamatan | None: ...


class Keys(Protocol):
    """The kecamatan's signing keys, the roots their certificates chain to, what else signatures and timestamps are
    checked against, and the timestamp authority letters are timestamped by, if any (``adapters/keys.py``)."""

    def identity(self, kecamatan: Kecamatan) -> SigningIdentity: ...

    def trust_roots(self) -> list[bytes]: ...

    def validation_data(self) -> ValidationData: ...

    def timestamping(self) -> Timestamping | None: ...


class Esigner(Protocol):
    """The national e-signature service (``adapters/bsre.py``'s ``BsreClient``): signs a PDF as the official whose
    certificate is registered under ``nik``, with the passphrase they typed; raises ``EsignError``s."""

    def sign_pdf(
        self,
        pdf: bytes,
        *,
        nik: str,
        passphrase: str,
        reason: str,
        location: str,
        appearance: Appearance | None = None,
        deadline: float | None = None,
    ) -> bytes: ...


class Lambangs(Protocol):
    """Each kabupaten's lambang for the kop surat, a PNG (``adapters/lambang.py``)."""

    def of(self, kabupaten_slug: str) -> bytes: ...


@dataclass
class Context:
    """What the handlers need: a fresh unit of work per message or request, the kecamatan, the object store the
    PDFs go to, the signing keys, the base URL of the links printed on them, and the kabupaten's lambang (by
    default the neutral placeholder for every kabupaten). bootstrap.Letters adds what the processes need besides
    (settings, engine, store, broker)."""

    uow: Callable[[], UnitOfWork]
    directory: Directory
    documents: DocumentStore
    keys: Keys
    public_base_url: str
    lambang: Lambangs = field(default_factory=lambda: LambangFiles(None), kw_only=True)
    esign: Esigner | None = field(default=None, kw_only=True)  # None: PENGADUAN_BSRE_URL unset

    def kecamatan(self, slug: str) -> Kecamatan:
        found = self.directory.get(slug)
        if found is None:
            raise LookupError(f"kecamatan {slug} is not served here")
        return found


def document_id_for(event_id: UUID) -> UUID:
    """The same event always yields the same document id (and so the same QR code and verification URL)."""
    return uuid.uuid5(NAMESPACE, f"letter:{event_id}")


def verify_url(ctx: Context, document_id: UUID) -> str:
    return f"{ctx.public_base_url}/v1/letters/verify/{document_id}"


def _complaint_id(event: EventEnvelope) -> UUID:
    return UUID(event.stream_id.removeprefix("complaint-"))


def _event(uow: UnitOfWork, event_id: UUID, *kinds: type[Event]) -> EventEnvelope:
    """The event with this id, of one of ``kinds`` (any kind when none is given)."""
    event = uow.events.get(event_id)
    if event is None or (kinds and event.type not in {k.type for k in kinds}):
        names = " or ".join(k.__name__ for k in kinds)
        raise LookupError(f"no {names} event {event_id}" if kinds else f"no event {event_id}")
    return event


def _stream(uow: UnitOfWork, event: EventEnvelope) -> list[EventEnvelope]:
    """The complaint's stream, read once per task: whether its personal data was erased, and what the document
    prints, come from this one read."""
    return uow.events.stream(event.stream_id)


def _history(stream: list[EventEnvelope], event: EventEnvelope) -> list[Event]:
    """The complaint's events before ``event`` (of its ``stream``), decoded."""
    return [e.decode() for e in stream if e.version < event.version]


def _erased(stream: list[EventEnvelope], event: EventEnvelope, document: str) -> bool:
    """Whether the complainant's personal data was erased (``PersonalDataErased`` in the complaint's stream): then
    no document is made for it any more (its name would read as erased, and the erasure has already run), which is
    logged. Asked before a document is made, without a lock (making it takes time: rendering, a timestamp from the
    TSA, the store); ``_held`` asks again, holding, just before the document is recorded."""
    if not any(e.type == PersonalDataErased.type for e in stream):
        return False
    log.info(
        "document not made: the complainant's personal data was erased",
        extra={"event_id": str(event.event_id), "kecamatan": event.kecamatan, "document": document},
    )
    return True


def _held(ctx: Context, uow: UnitOfWork, event: EventEnvelope, sha256: str, document: str) -> bool:
    """Just before a document made for the complainant is recorded: True while their personal data is not erased, and
    an erasure then waits for this unit of work to end, so letters' erasure finds the document
    (``hold_personal_data``; held only for the insert and the commit, not while the document was made). False when
    it was erased while the document was made: nothing is recorded, and the PDF just stored is deleted unless a row
    of another complaint holds the same bytes (docs/adr/0017, decision 12)."""
    complaint_id = _complaint_id(event)
    if uow.events.hold_personal_data(complaint_id):
        return True
    if not uow.documents.kept_elsewhere({sha256}, complaint_id):
        ctx.documents.delete(sha256)
    log.info(
        "document not recorded: the complainant's personal data was erased while it was made",
        extra={"event_id": str(event.event_id), "kecamatan": event.kecamatan, "document": document},
    )
    return False


def _zone(kecamatan: Kecamatan) -> Zone:
    return Zone(kecamatan.time_zone, kecamatan.time_zone_label)


def _complainant(history: list[Event]) -> Complainant:
    """The complainant as letters name them: as corrected on their request since, else as received (the receipt
    alone shows what was received)."""
    found = current_complainant(history)
    if found is None:
        raise LookupError("no ComplaintReceived in the complaint's history")
    return found


def _named(history: list[Event]) -> str:
    """The complainant's name on a document that travels beyond the complainant and the Camat (the Lembar Disposisi
    goes to the disposed unit through the Staf, the surat pelimpahan to another office): a confidential complainant
    (pelapor rahasia, issue #17 item 5) is not named."""
    person = _complainant(history)
    return masking.CONFIDENTIAL_NAME if person.confidential else person.name


def _code(history: list[Event], received: ComplaintReceived) -> str:
    """The tracking code on those documents: a pelapor rahasia's opens their receipt, which names them."""
    return masking.CONFIDENTIAL_NAME if _complainant(history).confidential else received.tracking_code


def _channel(received: ComplaintReceived) -> str:
    return CHANNEL_LABELS.get(received.channel, received.channel)


# -- the workflow's events ----------------------------------------------------------------------------------
def issue_signed_letter(ctx: Context, event_id: UUID) -> LetterDocumentIssued | None:
    """None: never issued, and the complainant's personal data has been erased since (nothing made)."""
    with ctx.uow() as uow:
        signed_event = _event(uow, event_id, LetterSigned)
        signed = signed_event.decode()
        assert isinstance(signed, LetterSigned)  # noqa: S101
        complaint_id = _complaint_id(signed_event)
        # not issued yet (or a previous attempt died before its commit): make it
        row = uow.documents.of_source_event(event_id)
        stream = _stream(uow, signed_event) if row is None else []
        if row is None and _erased(stream, signed_event, "response_letter"):
            return None
        made = row is None
        if row is None:
            row = _make(ctx, uow, signed_event, signed, complaint_id, document_id_for(event_id), stream)
            if row is None:
                return None
        issued = LetterDocumentIssued(
            message_id=row["id"],
            complaint_id=complaint_id,
            kecamatan=row["kecamatan"],
            document_id=row["id"],
            letter_version=row["letter_version"],
            letter_number=row["letter_number"],
            sha256=row["sha256"],
            size=row["size"],
            verify_url=verify_url(ctx, row["id"]),
        )
        # in the ledger (letters.handoffs) with the document, handed to the broker after the commit: a crash
        # before the send redelivers this task, which finds the row and sends again, and the ledger has it
        # sent again should the broker lose it
        uow.outbox.add(
            Handoff(
                consumer=LetterDocumentIssued.TASK,
                message_id=issued.message_id,
                queue=LetterDocumentIssued.QUEUE,
                task_id=f"letter-issued:{row['id']}",
                payload=issued.model_dump(mode="json"),
            )
        )
        uow.commit()
    if made:
        log.info("signed letter issued", extra={"document_id": str(row["id"]), "kecamatan": row["kecamatan"]})
    return issued


class EsignRefused(Exception):
    """Step 10's signature through BSrE did not happen: ``code`` one of ``shared.contracts.letters.ESIGN_ERRORS``,
    ``message`` for the signer (Bahasa Indonesia)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def esign_letter(ctx: Context, request: EsignLetter, *, signer: str, signer_kecamatan: str | None) -> dict[str, Any]:
    """Step 10 where the kecamatan signs through BSrE (docs/adr/0016): the numbered letter rendered as it will be
    issued, signed by BSrE with the passphrase the signer typed, stored, and kept under the id the workflow's
    ``LetterSigned`` will have; the row kept (the same request again: the PDF signed the first time, no second
    signature). ``signer``: who asked (their token), who must be the one the event will name. The passphrase goes to
    BSrE and nowhere else. No transaction is open while BSrE signs: the checks and the letter are read in one unit
    of work, the row is written in another, which checks again. Raises ``EsignRefused``."""
    if request.actor.user_id != signer or request.kecamatan != signer_kecamatan:
        raise EsignRefused("letter_not_ready", "Hanya penanda tangan surat ini yang dapat menandatanganinya.")
    with ctx.uow() as uow:
        kept = _kept_for(uow, request, signer)
        if kept is not None:
            return kept
        stream = _check_unsigned(uow, request)
        try:
            kecamatan = ctx.kecamatan(request.kecamatan)
        except LookupError:  # added a moment ago: this process's directory reloads within a minute
            raise EsignRefused(
                "esign_unavailable", "Layanan surat belum mengenal kecamatan ini. Coba lagi sebentar lagi."
            ) from None
        official = uow.staff.get(signer)
        if official is None or not official.tte_nik:
            raise EsignRefused(
                "signer_without_nik",
                "NIK untuk tanda tangan elektronik (BSrE) belum tercatat pada akun Anda. Minta admin mengisinya "
                "(pengaduan users rank --tte-nik), lalu coba lagi.",
            )
        if ctx.esign is None:
            raise EsignRefused(
                "esign_unavailable",
                "Layanan tanda tangan elektronik (BSrE) belum dihubungkan di server ini. Hubungi admin kabupaten.",
            )
        letter = _response_letter(
            ctx,
            uow,
            kecamatan,
            stream,
            letter_version=request.letter_version,
            letter_number=request.letter_number,
            through_bsre=True,
            actor=request.actor,
            signed_at=request.signed_at,
            document_id=document_id_for(request.event_id),
        )
    rendered = layout_response_letter(letter.letter)
    box = rendered.signature_box
    appearance = None
    if box is not None:
        x1, y1, x2, y2 = box.box
        appearance = Appearance(page=box.page_index + 1, x=x1, y=y1, width=x2 - x1, height=y2 - y1)
    deadline = None
    if request.deadline is not None:  # the workflow's, as time left on this process's clock
        deadline = time.monotonic() + (request.deadline - datetime.now(UTC)).total_seconds()
    try:
        pdf = ctx.esign.sign_pdf(
            rendered.pdf,
            nik=official.tte_nik,
            passphrase=request.passphrase.get_secret_value(),
            reason=f"Surat tanggapan pengaduan {letter.tracking_code}",
            location=kecamatan.name,
            appearance=appearance,
            deadline=deadline,
        )
    except EsignUnavailable as exc:
        log.warning("BSrE unavailable at step 10", extra={"complaint_id": str(request.complaint_id)})
        raise EsignRefused(exc.code, str(exc)) from None
    except EsignError as exc:
        log.info("BSrE refused a signature", extra={"complaint_id": str(request.complaint_id), "code": exc.code})
        raise EsignRefused(exc.code, str(exc)) from None
    stored = ctx.documents.put(pdf, "application/pdf")
    with ctx.uow() as uow:
        kept = _kept_for(uow, request, signer)  # a twin request kept one meanwhile: that one stands
        if kept is not None:
            return kept
        _check_unsigned(uow, request)
        row = uow.esigned.add(
            {
                "event_id": request.event_id,
                "complaint_id": request.complaint_id,
                "kecamatan": request.kecamatan,
                "letter_version": request.letter_version,
                "letter_number": request.letter_number,
                "signer": signer,
                "sha256": stored.sha256,
                "size": stored.size,
            }
        )
        uow.commit()
    log.info("letter signed through BSrE", extra={"complaint_id": str(request.complaint_id)})
    return row


def _kept_for(uow: UnitOfWork, request: EsignLetter, signer: str) -> dict[str, Any] | None:
    """The PDF already kept for this event id, if it is this very request's (same complaint, version, number and
    signer); another request naming the same id is refused."""
    kept = uow.esigned.get(request.event_id)
    if kept is None:
        return None
    same = (kept["complaint_id"], kept["letter_version"], kept["letter_number"], kept["signer"])
    if same != (request.complaint_id, request.letter_version, request.letter_number, signer):
        raise EsignRefused("letter_not_ready", "Permintaan tanda tangan ini tidak sesuai dengan yang tercatat.")
    return kept


def _check_unsigned(uow: UnitOfWork, request: EsignLetter) -> list[EventEnvelope]:
    """The complaint is of that kecamatan, the draft of that version exists, and it is not signed yet: its stream."""
    stream = uow.events.stream(f"complaint-{request.complaint_id}")
    if not stream or stream[0].kecamatan != request.kecamatan:
        raise EsignRefused("letter_not_ready", "Pengaduan tidak ditemukan di kecamatan ini.")
    decoded = [e.decode() for e in stream]
    if not any(isinstance(e, LetterDrafted) and e.letter_version == request.letter_version for e in decoded):
        raise EsignRefused("letter_not_ready", "Konsep surat yang akan ditandatangani tidak ditemukan.")
    if any(isinstance(e, LetterSigned) and e.letter_version == request.letter_version for e in decoded):
        raise EsignRefused("letter_not_ready", "Surat ini sudah ditandatangani.")
    return stream


def _make(
    ctx: Context,
    uow: UnitOfWork,
    signed_event: EventEnvelope,
    signed: LetterSigned,
    complaint_id: UUID,
    document_id: UUID,
    stream: list[EventEnvelope],
) -> dict[str, Any] | None:
    """The response letter as signed at step 10 (``stream``: the complaint's), stored and recorded (None: the complainant's personal data was
    erased meanwhile, nothing recorded): signed now with the kecamatan's key, or, where
    it was signed through BSrE when the Camat signed (``signature_service``), the PDF BSrE signed then."""
    kecamatan = ctx.kecamatan(signed_event.kecamatan)
    through_bsre = signed.signature_service == BSRE
    kept = uow.esigned.get(signed_event.event_id) if through_bsre else None
    if through_bsre and kept is None:  # not retried: nobody can sign it now without the passphrase; an operator looks
        raise EsignedLetterMissing(
            f"LetterSigned {signed_event.event_id} was signed through BSrE but letters.esigned has no PDF for it"
        )
    letter = _response_letter(
        ctx,
        uow,
        kecamatan,
        stream,
        letter_version=signed.letter_version,
        letter_number=signed.letter_number,
        through_bsre=through_bsre,
        actor=signed_event.actor,
        signed_at=signed_event.occurred_at,
        document_id=document_id,
    )
    if kept is not None:
        sha256, size = kept["sha256"], kept["size"]
    else:
        pdf = _sign(
            ctx,
            kecamatan,
            layout_response_letter(letter.letter),
            signed_event,
            f"Surat tanggapan pengaduan {letter.tracking_code}",
            signer_name=letter.camat.full_name if letter.camat else None,
        )
        stored = ctx.documents.put(pdf, "application/pdf")
        sha256, size = stored.sha256, stored.size
    if not _held(ctx, uow, signed_event, sha256, "response_letter"):
        return None
    return uow.documents.add(
        {
            "id": document_id,
            "source_event_id": signed_event.event_id,
            "complaint_id": complaint_id,
            "tracking_code": letter.tracking_code,
            "kecamatan": kecamatan.slug,
            "kind": "response_letter",
            "letter_version": signed.letter_version,
            "letter_number": signed.letter_number,
            "perihal": letter.letter.perihal,
            "signer": letter.camat.full_name if letter.camat else None,
            "signed_on": letter.letter.date,
            "sha256": sha256,
            "size": size,
        }
    )


class EsignedLetterMissing(LookupError):
    """A ``LetterSigned`` signed through BSrE whose PDF letters does not hold (docs/adr/0016): never expected, and not
    retried (nobody can sign it again without the Camat's passphrase); the task goes to the dead letters."""


@dataclass(frozen=True)
class _Response:
    letter: ResponseLetter
    tracking_code: str
    camat: StaffName | None


def _response_letter(
    ctx: Context,
    uow: UnitOfWork,
    kecamatan: Kecamatan,
    stream: list[EventEnvelope],
    *,
    letter_version: int,
    letter_number: str | None,
    through_bsre: bool,
    actor: Actor,
    signed_at: datetime,
    document_id: UUID,
) -> _Response:
    """The response letter as it is signed: the draft the Sekcam approved (its body only: the clarification of step
    5 is what it was written from), the Tembusan chosen when it was duplicated (step 9), dated the day it was signed
    in the kabupaten's time zone (a letter signed at 18.30 UTC is dated the next day in WIB), the foot of its pages
    saying how it is signed."""
    decoded = [e.decode() for e in stream]
    received = next(e for e in decoded if isinstance(e, ComplaintReceived))
    person = _complainant(decoded)
    draft = next(e for e in reversed(decoded) if isinstance(e, LetterDrafted) and e.letter_version == letter_version)
    duplicated = next((e for e in reversed(decoded) if isinstance(e, LetterDuplicated)), None)
    camat = uow.staff.get(actor.user_id or "")
    footer = SIGNED_WITH_BSRE if through_bsre else _local_footer(ctx, kecamatan)
    letter = ResponseLetter(
        letterhead=_letterhead(ctx, kecamatan),
        number=letter_number,
        date=signed_at.astimezone(kecamatan.time_zone).date(),  # the day its number's year is of
        perihal=draft.perihal,
        addressee_name=person.name,
        addressee_address=person.address,
        body=draft.body,
        signer=_signer(kecamatan, actor, camat),
        verify_url=verify_url(ctx, document_id),
        tembusan=tuple(duplicated.tembusan) if duplicated else (),
        footer=footer,
    )
    return _Response(letter, received.tracking_code, camat)


def _local_footer(ctx: Context, kecamatan: Kecamatan) -> str:
    """The foot of a letter signed with the kecamatan's own key: plainly a test signature with the development CA."""
    return SIGNED_WITH_DEVELOPMENT_CA if ctx.keys.identity(kecamatan).development else SIGNED_WITH_OWN_CERTIFICATE


def _sign(
    ctx: Context,
    kecamatan: Kecamatan,
    rendered: RenderedLetter,
    event: EventEnvelope,
    reason: str,
    *,
    signer_name: str | None = None,
) -> bytes:
    """PAdES-sign a rendered letter with the kecamatan's key, dated when the event says it was signed, timestamped
    by the configured TSA (B-T/B-LTA; none: B-B), the signature's appearance in the room the layout left for it (on
    page 1; elsewhere, invisible) naming the signer and the time in the kabupaten's zone."""
    box = rendered.signature_box
    return sign_pdf(
        rendered.pdf,
        ctx.keys.identity(kecamatan),
        reason=reason,
        location=kecamatan.name,
        signed_at=event.occurred_at,
        visible_box=box.box if box and box.page_index == 0 else None,
        signer_name=signer_name,
        zone=kecamatan.time_zone,
        zone_label=kecamatan.time_zone_label,
        timestamping=ctx.keys.timestamping(),
    )


def _signer(kecamatan: Kecamatan, actor: Actor, camat: StaffName | None) -> Signer:
    """The signature block: "CAMAT PEGANTENAN", or "Plh. CAMAT PEGANTENAN" / "Plt. ..." when a delegate signed
    for the Camat, or "a.n. CAMAT PEGANTENAN" over the signer's own office ("SEKRETARIS KECAMATAN") when an
    official signed on the Camat's behalf as the kecamatan allows (the event's actor says which, docs/adr/0014);
    the signer's own name, pangkat (golongan) and NIP."""
    title = f"CAMAT {kecamatan.name.upper()}"
    office = None
    if actor.acting_for == "camat" and actor.acting_kind in DELEGATION_KINDS:
        title = f"{DELEGATION_KINDS[actor.acting_kind]} {title}"
    elif actor.acting_for == "camat" and actor.acting_kind == ATAS_NAMA:
        title = f"a.n. {title}"
        office = ATAS_NAMA_OFFICES.get(actor.role or "", (actor.role or "").upper()) or None
    rank = None
    if camat is not None and camat.pangkat:
        rank = f"{camat.pangkat} ({camat.golongan})" if camat.golongan else camat.pangkat
    return Signer(
        title=title,
        name=camat.full_name if camat else actor.user_id or "",
        rank=rank,
        nip=camat.nip if camat else None,
        office=office,
    )


def _letterhead(ctx: Context, kecamatan: Kecamatan) -> Letterhead:
    """The kop surat from the kecamatan's ``letterhead`` (keys ``pemerintah``, ``kecamatan``, ``address``,
    ``phone``, ``website``, ``email``, ``postal_code``, ``city``; shared.tenancy) and its kabupaten's lambang."""
    head = kecamatan.letterhead
    return Letterhead(
        pemerintah=head.get("pemerintah", f"PEMERINTAH {kecamatan.kabupaten_name.upper()}"),
        kecamatan=head.get("kecamatan", f"KECAMATAN {kecamatan.name.upper()}"),
        address=head.get("address", ""),
        phone=head.get("phone"),
        city=head.get("city", kecamatan.name),
        logo_png=ctx.lambang.of(kecamatan.kabupaten_slug),
        website=head.get("website"),
        email=head.get("email"),
        postal_code=head.get("postal_code"),
    )


@lru_cache(maxsize=128)
def _blank_form(letterhead: Letterhead) -> tuple[bytes, str]:
    pdf = render_complaint_form(letterhead)
    return pdf, hashlib.sha256(pdf).hexdigest()


def complaint_form(ctx: Context, slug: str) -> tuple[bytes, str] | None:
    """The blank Formulir Pengaduan of an active kecamatan with its letterhead, and its SHA-256 (for the ETag);
    None for a kecamatan not served here. Rendered once per letterhead and process: a new letterhead is a new
    key, so an edited address is printed as soon as the directory reloads."""
    kecamatan = ctx.directory.get(slug)
    return None if kecamatan is None else _blank_form(_letterhead(ctx, kecamatan))


def issue_receipt(ctx: Context, event_id: UUID) -> dict[str, Any] | None:
    """The tanda terima of a complaint the workflow has received: in the kabupaten's time zone, with the SOP's
    promised date, the files received, and the officer who typed in a complaint-box form or a call (by their
    name in the staff directory; their username if it has none). None: the complainant's personal data was erased
    before it was made."""
    with ctx.uow() as uow:
        existing = uow.documents.of_source_event(event_id)
        if existing:
            return existing
        event = _event(uow, event_id, ComplaintReceived)
        if _erased(_stream(uow, event), event, "receipt"):
            return None
        received = event.decode()
        assert isinstance(received, ComplaintReceived)  # noqa: S101
        kecamatan = ctx.kecamatan(event.kecamatan)
        officer = None
        if received.entered_by:
            staff = uow.staff.get(received.entered_by)
            officer = staff.full_name if staff else received.entered_by
        pdf = render_receipt(
            Receipt(
                letterhead=_letterhead(ctx, kecamatan),
                tracking_code=received.tracking_code,
                received_at=received.received_at,
                channel=received.channel if received.channel in CHANNEL_LABELS else "web",
                complainant_name=received.complainant.name,
                subject=received.subject,
                track_url=f"{ctx.public_base_url}/lacak/{received.tracking_code}",  # the web app's tracking page
                zone=_zone(kecamatan),
                respond_by=received.deadline_at,
                documents=tuple(a.kind or "lainnya" for a in received.attachments),
                received_by=officer,
            )
        )
        stored = ctx.documents.put(pdf, "application/pdf")
        if not _held(ctx, uow, event, stored.sha256, "receipt"):
            return None
        row = uow.documents.add(
            {
                "id": uuid.uuid5(NAMESPACE, f"receipt:{event_id}"),
                "source_event_id": event_id,
                "complaint_id": received.complaint_id,
                "tracking_code": received.tracking_code,
                "kecamatan": kecamatan.slug,
                "kind": "receipt",
                "perihal": "Tanda Terima Pengaduan",
                "sha256": stored.sha256,
                "size": stored.size,
                "released_at": received.received_at,
            }
        )
        uow.commit()
    return row


def render_draft(ctx: Context, event_id: UUID) -> dict[str, Any] | None:
    """A draft of the response letter (step 7), as staff will see it, marked DRAF; every version kept. No
    Tembusan yet: the offices are chosen when the approved letter is duplicated (step 9). None: the complainant's
    personal data was erased before it was made."""
    with ctx.uow() as uow:
        existing = uow.documents.of_source_event(event_id)
        if existing:
            return existing
        event = _event(uow, event_id, LetterDrafted)
        stream = _stream(uow, event)
        if _erased(stream, event, "draft"):
            return None
        draft = event.decode()
        assert isinstance(draft, LetterDrafted)  # noqa: S101
        history = _history(stream, event)
        received = next(e for e in history if isinstance(e, ComplaintReceived))
        person = _complainant(history)
        kecamatan = ctx.kecamatan(event.kecamatan)
        pdf = render_response_letter(
            ResponseLetter(
                letterhead=_letterhead(ctx, kecamatan),
                number=None,
                date=event.occurred_at.astimezone(kecamatan.time_zone).date(),
                perihal=draft.perihal,
                addressee_name=person.name,
                addressee_address=person.address,
                body=draft.body,  # what will be signed: the clarification (step 5) is not pasted after it
                signer=Signer(title=f"CAMAT {kecamatan.name.upper()}", name="", rank=None, nip=None),
            )
        )
        stored = ctx.documents.put(pdf, "application/pdf")
        if not _held(ctx, uow, event, stored.sha256, "draft"):
            return None
        row = uow.documents.add(
            {
                "id": uuid.uuid5(NAMESPACE, f"draft:{event_id}"),
                "source_event_id": event_id,
                "complaint_id": _complaint_id(event),
                "tracking_code": received.tracking_code,
                "kecamatan": kecamatan.slug,
                "kind": "draft",
                "letter_version": draft.letter_version,
                "perihal": draft.perihal,
                "sha256": stored.sha256,
                "size": stored.size,
            }
        )
        uow.commit()
    return row


def release_letter(ctx: Context, event_id: UUID) -> int:
    """Step 12 done: the complainant may now download the signed letter by tracking code."""
    with ctx.uow() as uow:
        event = _event(uow, event_id)
        released = uow.documents.release(_complaint_id(event), event.occurred_at)
        uow.commit()
    return released


def erase_personal_data(ctx: Context, event_id: UUID) -> int:
    """The complainant's personal data erased (``PersonalDataErased``, docs/adr/0017): every document of the
    complaint (receipt, drafts, response letter, Lembar Disposisi, surat pelimpahan) and every letter signed for it
    through BSrE is marked erased and its PDF deleted from the document store, unless a row of another complaint
    still holds the same bytes (the store is content-addressed). The rows stay: a signed letter's number, date and
    SHA-256 remain on record, so a copy someone holds still verifies as issued; the ``perihal`` (staff's free text,
    which may name the complainant) goes. The rows in one unit of work; the PDFs after its commit, every PDF of the
    complaint's rows whether marked now or before, so a delete that failed (the task fails, and is retried or
    replayed) is done by the next run, which marks nothing more. How many rows were marked now (0 the second time).
    """
    with ctx.uow() as uow:
        event = _event(uow, event_id, PersonalDataErased)
        complaint_id = _complaint_id(event)
        marked = uow.documents.erase(complaint_id, event.occurred_at) + uow.esigned.erase(
            complaint_id, event.occurred_at
        )
        rows = [*uow.documents.of_complaint(complaint_id), *uow.esigned.of_complaint(complaint_id)]
        pdfs = {row["sha256"] for row in rows}
        needed = uow.documents.kept_elsewhere(pdfs, complaint_id)
        uow.commit()
    deleted = sum(ctx.documents.delete(sha256) for sha256 in sorted(pdfs - needed))
    log.info(
        "the complainant's documents erased",
        extra={
            "event_id": str(event_id),
            "complaint_id": str(complaint_id),
            "kecamatan": event.kecamatan,
            "rows_marked": marked,
            "pdfs_deleted": deleted,
            "pdfs_kept_for_other_complaints": len(needed),
        },
    )
    return marked


# -- the SOP's instruments ------------------------------------------------------------------------------------
def issue_disposition_sheet(ctx: Context, event_id: UUID) -> dict[str, Any] | None:
    """The Lembar Disposisi of a disposition (step 4) or of its redirect to another unit: from the complaint's
    particulars, to the head of the unit named (as the unit directory has them when it is made), with the
    instructions and the signature block of the one who disposed, to sign by hand (an internal paper). None: the
    complainant's personal data was erased before it was made."""
    with ctx.uow() as uow:
        existing = uow.documents.of_source_event(event_id)
        if existing:
            return existing
        event = _event(uow, event_id, DispositionIssued, DispositionRedirected)
        stream = _stream(uow, event)
        if _erased(stream, event, DISPOSITION_SHEET):
            return None
        disposed = event.decode()
        assert isinstance(disposed, (DispositionIssued, DispositionRedirected))  # noqa: S101
        history = _history(stream, event)
        received = next(e for e in history if isinstance(e, ComplaintReceived))
        registered = next((e for e in reversed(history) if isinstance(e, ComplaintRegistered)), None)
        kecamatan = ctx.kecamatan(event.kecamatan)
        letterhead = _letterhead(ctx, kecamatan)
        unit = _unit(uow, kecamatan, disposed.unit)
        redirected_from = reason = None
        if isinstance(disposed, DispositionRedirected):
            previous = disposed.previous_unit
            redirected_from, reason = (_unit(uow, kecamatan, previous).title if previous else "-"), disposed.reason
        disposer = uow.staff.get(event.actor.user_id or "")
        pdf = render_disposition_sheet(
            DispositionSheet(
                letterhead=letterhead,
                zone=_zone(kecamatan),
                city=letterhead.city,
                complainant_name=_named(history),  # it travels through the office: a pelapor rahasia unnamed
                channel=_channel(received),
                tracking_code=_code(history, received),
                register_number=f"{registered.register_number}/{registered.register_year}" if registered else None,
                received_at=received.received_at,
                subject=received.subject,
                to_title=unit.head_title,
                to_name=unit.head_name,
                instructions=disposed.instructions,
                disposed_at=event.occurred_at,
                signer=_signer(kecamatan, event.actor, disposer),
                redirected_from=redirected_from,
                redirect_reason=reason,
            )
        )
        stored = ctx.documents.put(pdf, "application/pdf")
        if not _held(ctx, uow, event, stored.sha256, DISPOSITION_SHEET):
            return None
        row = uow.documents.add(
            {
                "id": uuid.uuid5(NAMESPACE, f"disposition:{event_id}"),
                "source_event_id": event_id,
                "complaint_id": _complaint_id(event),
                "tracking_code": received.tracking_code,
                "kecamatan": kecamatan.slug,
                "kind": DISPOSITION_SHEET,
                "perihal": f"Lembar Disposisi kepada {unit.head_title}",
                "signer": disposer.full_name if disposer else None,
                "sha256": stored.sha256,
                "size": stored.size,
            }
        )
        uow.commit()
    return row


def issue_referral_letter(ctx: Context, event_id: UUID) -> dict[str, Any] | None:
    """The surat pelimpahan of a referral (step 4): rendered with the number the workflow gave it when the Camat
    referred, PAdES-signed with the kecamatan's key like the response letter, stored and recorded (one per
    event). A referral recorded before referrals had letters (no number), or one whose complainant's personal data
    was erased before its letter was made: nothing, and nothing recorded."""
    with ctx.uow() as uow:
        existing = uow.documents.of_source_event(event_id)
        if existing:
            return existing
        event = _event(uow, event_id, ComplaintReferred)
        referred = event.decode()
        assert isinstance(referred, ComplaintReferred)  # noqa: S101
        stream = _stream(uow, event) if referred.letter_number else []
        if not referred.letter_number or _erased(stream, event, REFERRAL_LETTER):
            return None
        history = _history(stream, event)
        received = next(e for e in history if isinstance(e, ComplaintReceived))
        kecamatan = ctx.kecamatan(event.kecamatan)
        tz = kecamatan.time_zone
        document_id = document_id_for(event_id)
        camat = uow.staff.get(event.actor.user_id or "")
        signed_on = event.occurred_at.astimezone(tz).date()  # the day its number's year is of
        rendered = layout_referral_letter(
            ReferralLetter(
                letterhead=_letterhead(ctx, kecamatan),
                kecamatan=kecamatan.name,
                number=referred.letter_number,
                signed_on=signed_on,
                agency=referred.agency,
                agency_address=referred.agency_address,
                tracking_code=_code(history, received),
                received_on=received.received_at.astimezone(tz).date(),
                channel=_channel(received),
                complainant_name=_named(history),  # to another office: a pelapor rahasia unnamed
                subject=received.subject,
                description=received.description,
                reason=referred.reason,
                signer=_signer(kecamatan, event.actor, camat),
                follow_up_by=referred.follow_up_by.astimezone(tz).date() if referred.follow_up_by else None,
                verify_url=verify_url(ctx, document_id),
                footer=_local_footer(ctx, kecamatan),
            )
        )
        pdf = _sign(
            ctx,
            kecamatan,
            rendered,
            event,
            f"Surat pelimpahan pengaduan {received.tracking_code}",
            signer_name=camat.full_name if camat else None,
        )
        stored = ctx.documents.put(pdf, "application/pdf")
        if not _held(ctx, uow, event, stored.sha256, REFERRAL_LETTER):
            return None
        row = uow.documents.add(
            {
                "id": document_id,
                "source_event_id": event_id,
                "complaint_id": _complaint_id(event),
                "tracking_code": received.tracking_code,
                "kecamatan": kecamatan.slug,
                "kind": REFERRAL_LETTER,
                "letter_number": referred.letter_number,
                "perihal": f"{REFERRAL_PERIHAL} kepada {referred.agency}",  # its own is the same for every one
                "signer": camat.full_name if camat else None,
                "signed_on": signed_on,
                "sha256": stored.sha256,
                "size": stored.size,
            }
        )
        uow.commit()
    log.info("referral letter issued", extra={"document_id": str(row["id"]), "kecamatan": row["kecamatan"]})
    return row


@dataclass(frozen=True)
class _UnitName:
    title: str  # "Seksi Pemerintahan"
    head_title: str  # "Kepala Seksi Pemerintahan"
    head_name: str | None


def _unit(uow: UnitOfWork, kecamatan: Kecamatan, code: str) -> _UnitName:
    """A unit by its code as people read it, with its head's name: from the kecamatan's units; else, for a unit
    the directory does not know (or an old free-text disposition), PP 17/2018's name for it, or the text as
    written."""
    entry = uow.units.get(kecamatan.slug, code)
    if entry is not None:
        return _UnitName(entry.unit.title, entry.unit.head_title, entry.head_name)
    known = find_unit(PP17_UNITS, code)
    if known is not None:
        return _UnitName(known.title, known.head_title, None)
    return _UnitName(code, code, None)


@dataclass(frozen=True)
class ComplaintEvents:
    """A complaint's events, in version order, and its kecamatan."""

    kecamatan: Kecamatan
    events: list[EventEnvelope]


def complaint_events(ctx: Context, complaint_id: UUID) -> ComplaintEvents | None:
    """The events of a complaint of a kecamatan served here; None for an unknown complaint."""
    with ctx.uow() as uow:
        events = uow.events.stream(f"complaint-{complaint_id}")
    if not events or events[0].type != ComplaintReceived.type:
        return None
    kecamatan = ctx.directory.get(events[0].kecamatan)
    return None if kecamatan is None else ComplaintEvents(kecamatan, events)


class _Calendars:
    """One working calendar per kecamatan, made again when its settings change (making one reads the holidays)."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[str, WorkingCalendar]] = {}

    def of(self, kecamatan: Kecamatan) -> WorkingCalendar:
        key = kecamatan.calendar_key()
        cached = self._cache.get(kecamatan.slug)
        if cached is None or cached[0] != key:
            cached = (key, kecamatan.calendar())
            self._cache[kecamatan.slug] = cached
        return cached[1]


_CALENDARS = _Calendars()


def control_card(ctx: Context, complaint: ComplaintEvents, now: datetime) -> bytes:
    """The Kartu Kendali of a complaint as it stands at ``now`` (not stored: it changes with every step), with
    the names of who acted (the staff directory) and of the units it was disposed to."""
    events, kecamatan = complaint.events, complaint.kecamatan
    received = events[0].decode()
    assert isinstance(received, ComplaintReceived)  # noqa: S101
    users = {e.actor.user_id for e in events if e.actor.kind == "user" and e.actor.user_id}
    if received.entered_by:
        users.add(received.entered_by)
    codes = {
        str(e.payload[key])
        for e in events
        if e.type in (DispositionIssued.type, DispositionRedirected.type)
        for key in ("unit", "previous_unit")
        if e.payload.get(key)
    }
    with ctx.uow() as uow:
        people = {u: found.full_name for u in users if (found := uow.staff.get(u)) is not None}
        units = {code: _unit(uow, kecamatan, code).title for code in codes}
    card = read_control_card(
        events,
        letterhead=_letterhead(ctx, kecamatan),
        zone=_zone(kecamatan),
        calendar=_CALENDARS.of(kecamatan),
        now=now,
        people=people,
        units=units,
    )
    return render_control_card(card)


# -- is this letter genuine? -----------------------------------------------------------------------------------
def is_signed_letter(row: dict[str, Any] | None) -> bool:
    """Only a numbered, signed letter (a response letter or a surat pelimpahan) is verified: a receipt, a draft or
    a disposition sheet is no such letter (and is not shown to anyone who merely knows its id)."""
    return row is not None and row["kind"] in SIGNED_KINDS and bool(row["letter_number"])


def signed_letter(ctx: Context, document_id: UUID) -> dict[str, Any] | None:
    """The signed letter with this id (a receipt's, a draft's or an unknown id: None)."""
    with ctx.uow() as uow:
        row = uow.documents.get(document_id)
    return row if is_signed_letter(row) else None


@dataclass(frozen=True)
class LetterCheck:
    """What the check of a PDF found: its signature's verdict, and the signed letter on record with exactly
    these bytes (None: not issued here, or changed since)."""

    signature: Verification
    letter: dict[str, Any] | None
    kecamatan_name: str | None  # the letter's kecamatan as people call it

    @property
    def valid(self) -> bool:
        return self.signature.valid and self.letter is not None


def check_letter(ctx: Context, pdf: bytes, letter: dict[str, Any] | None) -> LetterCheck:
    """Check ``pdf`` against the trust roots and against ``letter``, the signed letter it claims to be."""
    verdict = verify_pdf(pdf, ctx.keys.trust_roots(), validation=ctx.keys.validation_data())
    if letter is None or letter["sha256"] != verdict.sha256:
        return LetterCheck(verdict, None, None)
    kecamatan = ctx.directory.get(letter["kecamatan"])
    return LetterCheck(verdict, letter, kecamatan.name if kecamatan else letter["kecamatan"])


def check_upload(ctx: Context, pdf: bytes) -> LetterCheck:
    """A PDF someone holds: the signed letter on record with its bytes, if any, and the check against it."""
    with ctx.uow() as uow:
        row = uow.documents.signed_letter_with(hashlib.sha256(pdf).hexdigest())
    return check_letter(ctx, pdf, row if is_signed_letter(row) else None)
