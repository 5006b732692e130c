"""Is this letter genuine? The page behind each signed letter's QR code (a response letter the complainant holds,
a surat pelimpahan the receiving office holds), and the check of a PDF someone holds (what makes a letter
genuine: services/letters/handlers.py). Here: the answers, in words a citizen reads: who signed, when (in the
kabupaten's time zone, by the timestamp when the letter has a valid one), under which certificate, whether the
timestamp is valid and whether the validation data is embedded (services/letters/adapters/verification.py).

A letter erased with the complainant's personal data (docs/adr/0017) stays on record: its page says it was issued
(number, date, kecamatan) and that its stored copy is gone, and a PDF of it someone uploads is still recognised by
its SHA-256 and checked by the signature it carries."""

from __future__ import annotations

import html
import logging
from datetime import UTC, date, datetime, tzinfo
from typing import Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from services.letters import handlers
from services.letters.entrypoints.deps import NOT_FOUND, PDF, LettersDep
from shared.http import ApiError, ErrorBody
from shared.ratelimit import RATE_LIMITED_DOC, per_address
from shared.storage import DocumentCorrupted, DocumentNotFound
from shared.tanggal import format_tanggal

log = logging.getLogger(__name__)

router = APIRouter()

KIND_NAMES = {"response_letter": "Surat tanggapan pengaduan", "referral_letter": "Surat pelimpahan pengaduan"}
DEFAULT_ZONE, DEFAULT_ZONE_LABEL = ZoneInfo("Asia/Jakarta"), "WIB"  # a PDF not on record: no kabupaten to ask
ERASED_LETTER_MESSAGE = (
    "Surat ini tercatat diterbitkan oleh layanan ini (nomor, tanggal dan kecamatannya di bawah), tetapi salinannya "
    "di arsip sudah dihapus karena data pribadi pengadu dihapus, atas permintaan pengadu atau karena masa simpannya "
    "berakhir. Isi surat tidak dapat dicocokkan di sini; berkas PDF surat ini tetap dapat diperiksa dengan "
    "mengunggahnya."
)
ERASED_COPY_WORDS = "Sudah dihapus karena data pribadi pengadu dihapus"


class CertificateOut(BaseModel):
    """The signer's certificate."""

    subject: str | None  # its CN, e.g. "Camat Pegantenan"
    issuer: str | None  # the issuing CA's CN
    serial: str  # hexadecimal
    valid_from: datetime
    valid_until: datetime


class TimestampOut(BaseModel):
    """The signature's RFC 3161 timestamp (PAdES B-T and above)."""

    present: bool
    valid: bool = False  # it matches the signature and its TSA's certificate chains to a trusted root
    time: datetime | None = None  # in the kabupaten's time zone
    authority: str | None = None  # the TSA's certificate CN


class VerificationOut(BaseModel):
    valid: bool
    intact: bool
    trusted: bool
    message: str
    sha256: str
    document_id: UUID | None = None
    kind: str | None = None  # response_letter or referral_letter
    letter_number: str | None = None
    signed_on: date | None = None
    signer: str | None = None
    kecamatan: str | None = None
    # no perihal: it is free text the masking policy hides, and the holder of the letter has it on paper
    certificate_signer: str | None = None  # the certificate's CN, whoever's name the letter prints
    signed_at: datetime | None = None  # in the kabupaten's zone: the timestamp's time when valid, else the claim
    signed_at_source: Literal["timestamp", "signer"] | None = None
    time_zone: str | None = None  # WIB, WITA or WIT: the zone signed_at and timestamp.time are given in
    certificate: CertificateOut | None = None
    timestamp: TimestampOut = Field(default_factory=lambda: TimestampOut(present=False))
    pades_level: str | None = None  # B-B, B-T, B-LT or B-LTA
    validation_data_embedded: bool = False  # certificates and revocation data in the letter (DSS): LTV
    trusted_as_of: datetime | None = None  # when the certificate was found valid: now, or the proven signing time
    development_signature: bool = False  # signed under the development CA: a test signature, not a BSrE one
    # the letter is on record but its stored copy was erased with the complainant's personal data (docs/adr/0017):
    # the page behind its QR code cannot check it (valid, intact and trusted are then false: nothing was checked)
    stored_copy_erased: bool = False


# the file as it is, whatever its declared type (a client that knows no better sends octet-stream)
PDF_BODY = {"requestBody": {"required": True, "content": {**PDF, "application/octet-stream": PDF["application/pdf"]}}}
VERIFY_PAGE = {
    200: {
        "content": {"text/html": {"schema": {"type": "string"}}},
        "description": "The verdict (JSON), or a page for a browser (`Accept: text/html`)",
    }
}


@router.get(
    "/v1/letters/verify/{document_id}",
    response_model=VerificationOut,
    responses={**NOT_FOUND, **VERIFY_PAGE, **RATE_LIMITED_DOC},
    dependencies=[Depends(per_address("tracking"))],
    summary="The page behind a signed letter's QR code (a response or referral letter): is this letter genuine? "
    "(receipts, drafts, disposition sheets: 404)",
)
def verify_issued(document_id: UUID, request: Request, wf: LettersDep) -> Response:
    row = handlers.signed_letter(wf, document_id)
    if row is None:  # a receipt, a draft, a disposition sheet or an unknown id: the same answer
        raise ApiError(404, "letter_not_found", "Surat dengan kode ini tidak tercatat di layanan ini.")
    result = _erased(wf, row) if row["erased_at"] is not None else _checked(wf, row)
    if "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(_page(result))
    return JSONResponse(result.model_dump(mode="json"))


def _checked(wf: LettersDep, row: dict[str, Any]) -> VerificationOut:
    """The letter on record checked against its stored copy."""
    try:
        stored = wf.documents.get(row["sha256"])
    except (DocumentNotFound, DocumentCorrupted):
        log.error("a signed letter's stored copy is missing or damaged", extra={"document_id": str(row["id"])})
        return VerificationOut(
            valid=False,
            intact=False,
            trusted=False,
            sha256=row["sha256"],
            message="Salinan surat ini di arsip tidak dapat diperiksa. Hubungi kantor kecamatan.",
        )
    return _answer(handlers.check_letter(wf, stored, row), _zone(wf, row["kecamatan"]))


def _erased(wf: LettersDep, row: dict[str, Any]) -> VerificationOut:
    """A letter on record whose stored copy was erased with the complainant's personal data: what the record says
    (issued: its kind, number, date, signer and kecamatan), nothing checked."""
    kecamatan = wf.directory.get(row["kecamatan"])
    return VerificationOut(
        valid=False,
        intact=False,
        trusted=False,
        sha256=row["sha256"],
        message=ERASED_LETTER_MESSAGE,
        document_id=row["id"],
        kind=row["kind"],
        letter_number=row["letter_number"],
        signed_on=row["signed_on"],
        signer=row["signer"],
        kecamatan=kecamatan.name if kecamatan else row["kecamatan"],
        stored_copy_erased=True,
    )


@router.post(
    "/v1/letters/verify",
    response_model=VerificationOut,
    openapi_extra=PDF_BODY,
    responses={
        413: {"model": ErrorBody, "description": "Larger than 10 MiB"},
        422: {"model": ErrorBody, "description": "No PDF sent (`empty_document`)"},
    },
    summary="Check a PDF someone holds: signed by a kecamatan here, unchanged, and on record?",
)
async def verify_upload(request: Request, wf: LettersDep) -> VerificationOut:
    pdf = await request.body()
    if not pdf:
        raise ApiError(422, "empty_document", "Kirim berkas PDF surat yang akan diperiksa.")
    # parsing and checking a PDF is CPU work and the lookup blocks: off the event loop
    check = await run_in_threadpool(handlers.check_upload, wf, pdf)
    return _answer(check, _zone(wf, check.letter["kecamatan"] if check.letter else None))


def _zone(wf: LettersDep, slug: str | None) -> tuple[tzinfo, str]:
    """The kabupaten's time zone of the letter's kecamatan (WIB for a PDF not on record)."""
    kecamatan = wf.directory.get(slug) if slug else None
    if kecamatan is None:
        return DEFAULT_ZONE, DEFAULT_ZONE_LABEL
    return kecamatan.time_zone, kecamatan.time_zone_label


def _message(valid: bool, intact: bool, trusted: bool, known: bool) -> str:
    if valid and known:
        return "Surat ini asli: tanda tangan elektroniknya sah dan isinya tidak berubah sejak ditandatangani."
    if not intact:
        return "Surat ini TIDAK asli: isinya berubah setelah ditandatangani, atau tidak bertanda tangan elektronik."
    if not trusted:
        return "Tanda tangan pada surat ini tidak berasal dari kecamatan yang terdaftar di layanan ini."
    return "Surat ini tidak tercatat di layanan ini."


def _answer(check: handlers.LetterCheck, zone: tuple[tzinfo, str]) -> VerificationOut:
    signature, letter = check.signature, check.letter
    tz, label = zone
    stamp = signature.timestamp
    when, source = (stamp.time, "timestamp") if stamp and stamp.valid else (signature.signed_at, "signer")
    cert = signature.certificate
    out = VerificationOut(
        valid=check.valid,
        intact=signature.intact,
        trusted=signature.trusted,
        sha256=signature.sha256,
        message=_message(signature.valid, signature.intact, signature.trusted, letter is not None),
        certificate_signer=signature.signer,
        signed_at=when.astimezone(tz) if when else None,
        signed_at_source=source if when else None,
        time_zone=label,
        certificate=CertificateOut(
            subject=cert.subject,
            issuer=cert.issuer,
            serial=cert.serial,
            valid_from=cert.valid_from.astimezone(tz),
            valid_until=cert.valid_until.astimezone(tz),
        )
        if cert
        else None,
        timestamp=TimestampOut(
            present=True, valid=stamp.valid, time=stamp.time.astimezone(tz), authority=stamp.authority
        )
        if stamp
        else TimestampOut(present=False),
        pades_level=signature.level,
        validation_data_embedded=signature.validation_data_embedded,
        trusted_as_of=signature.trusted_as_of.astimezone(tz) if signature.trusted_as_of else None,
        development_signature=signature.development,
    )
    if letter is not None:
        out = out.model_copy(
            update={
                "document_id": letter["id"],
                "kind": letter["kind"],
                "letter_number": letter["letter_number"],
                "signed_on": letter["signed_on"],
                "signer": letter["signer"],
                "kecamatan": check.kecamatan_name,
                "stored_copy_erased": letter["erased_at"] is not None,
            }
        )
    return out


def _when(moment: datetime | None, label: str | None) -> str | None:
    """``2 Maret 2026 pukul 09.30 WIB`` (``moment`` already in the zone ``label`` names)."""
    if moment is None:
        return None
    return f"{format_tanggal(moment.date())} pukul {moment.hour:02d}.{moment.minute:02d} {label or ''}".rstrip()


def _timestamp_words(v: VerificationOut) -> str:
    stamp = v.timestamp
    if not stamp.present:
        return "Tidak ada: waktu penandatanganan hanya menurut penanda tangan sendiri (tanpa stempel waktu tepercaya)"
    verdict = "Sah" if stamp.valid else "TIDAK sah"
    by = f" oleh {stamp.authority}" if stamp.authority else ""
    return f"{verdict}: {_when(stamp.time, v.time_zone)}{by}"


def _page(v: VerificationOut) -> str:
    e = html.escape
    colour = "#0a7d32" if v.valid else "#8a5a00" if v.stored_copy_erased else "#b00020"
    cert = v.certificate
    signed = None
    if v.signed_at is not None:
        source = "menurut stempel waktu" if v.signed_at_source == "timestamp" else "menurut penanda tangan"
        signed = f"{_when(v.signed_at, v.time_zone)} ({source})"
    rows = "".join(
        f"<tr><th>{e(k)}</th><td>{e(str(val))}</td></tr>"
        for k, val in [
            ("Jenis surat", KIND_NAMES.get(v.kind or "")),
            ("Nomor surat", v.letter_number),
            ("Tanggal", v.signed_on),
            ("Penanda tangan", v.signer),
            ("Kecamatan", v.kecamatan),
            ("Ditandatangani", signed),
            ("Sertifikat atas nama", cert.subject if cert else None),
            ("Penerbit sertifikat", cert.issuer if cert else None),
            ("Nomor seri sertifikat", cert.serial if cert else None),
            (
                "Masa berlaku sertifikat",
                f"{format_tanggal(cert.valid_from.date())} s.d. {format_tanggal(cert.valid_until.date())}"
                if cert
                else None,
            ),
            ("Stempel waktu", _timestamp_words(v) if cert else None),
            (
                "Data validasi jangka panjang (LTV)",
                (f"Tertanam dalam dokumen ({v.pades_level})" if v.validation_data_embedded else "Tidak tertanam")
                if cert
                else None,
            ),
            (
                "Tanda tangan uji coba",
                "Ya: sertifikat uji coba, bukan sertifikat BSrE" if v.development_signature else None,
            ),
            ("Salinan di arsip", ERASED_COPY_WORDS if v.stored_copy_erased else None),
            ("SHA-256 dokumen", v.sha256),
        ]
        if val
    )
    note = ""
    if v.valid and cert is not None and cert.valid_until < datetime.now(UTC):
        note = (
            "<p>Sertifikat penanda tangan sudah habis masa berlakunya, tetapi stempel waktu membuktikan surat ini "
            "ditandatangani ketika sertifikat masih berlaku.</p>"
        )
    return (
        "<!doctype html><html lang='id'><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
        "<title>Verifikasi surat</title><style>body{font-family:sans-serif;max-width:40rem;margin:1rem auto;padding:0 1rem}"
        f"p.s{{color:{colour};font-weight:bold}}th{{text-align:left;padding-right:1rem;vertical-align:top}}"
        "td{overflow-wrap:anywhere}</style>"
        f"</head><body><h1>Verifikasi surat</h1><p class='s'>{e(v.message)}</p>{note}<table>{rows}</table></body></html>"
    )
