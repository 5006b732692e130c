"""Is this letter genuine? The page behind each signed letter's QR code (a response letter the complainant holds,
a surat pelimpahan the receiving office holds), and the check of a PDF someone holds (what makes a letter
genuine: services/letters/handlers.py). Here: the answers, in words a citizen reads."""

from __future__ import annotations

import html
import logging
from datetime import date
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from services.letters import handlers
from services.letters.entrypoints.deps import NOT_FOUND, PDF, LettersDep
from shared.http import ApiError, ErrorBody
from shared.ratelimit import RATE_LIMITED_DOC, per_address
from shared.storage import DocumentCorrupted, DocumentNotFound

log = logging.getLogger(__name__)

router = APIRouter()

KIND_NAMES = {"response_letter": "Surat tanggapan pengaduan", "referral_letter": "Surat pelimpahan pengaduan"}


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
    try:
        stored = wf.documents.get(row["sha256"])
    except (DocumentNotFound, DocumentCorrupted):
        log.error("a signed letter's stored copy is missing or damaged", extra={"document_id": str(document_id)})
        result = VerificationOut(
            valid=False,
            intact=False,
            trusted=False,
            sha256=row["sha256"],
            message="Salinan surat ini di arsip tidak dapat diperiksa. Hubungi kantor kecamatan.",
        )
    else:
        result = _answer(handlers.check_letter(wf, stored, row))
    if "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(_page(result))
    return JSONResponse(result.model_dump(mode="json"))


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
    return _answer(await run_in_threadpool(handlers.check_upload, wf, pdf))


def _message(valid: bool, intact: bool, trusted: bool, known: bool) -> str:
    if valid and known:
        return "Surat ini asli: tanda tangan elektroniknya sah dan isinya tidak berubah sejak ditandatangani."
    if not intact:
        return "Surat ini TIDAK asli: isinya berubah setelah ditandatangani, atau tidak bertanda tangan elektronik."
    if not trusted:
        return "Tanda tangan pada surat ini tidak berasal dari kecamatan yang terdaftar di layanan ini."
    return "Surat ini tidak tercatat di layanan ini."


def _answer(check: handlers.LetterCheck) -> VerificationOut:
    signature, letter = check.signature, check.letter
    out = VerificationOut(
        valid=check.valid,
        intact=signature.intact,
        trusted=signature.trusted,
        sha256=signature.sha256,
        message=_message(signature.valid, signature.intact, signature.trusted, letter is not None),
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
            }
        )
    return out


def _page(v: VerificationOut) -> str:
    e = html.escape
    colour = "#0a7d32" if v.valid else "#b00020"
    rows = "".join(
        f"<tr><th>{e(k)}</th><td>{e(str(val))}</td></tr>"
        for k, val in [
            ("Jenis surat", KIND_NAMES.get(v.kind or "")),
            ("Nomor surat", v.letter_number),
            ("Tanggal", v.signed_on),
            ("Penanda tangan", v.signer),
            ("Kecamatan", v.kecamatan),
            ("SHA-256 dokumen", v.sha256),
        ]
        if val
    )
    return (
        "<!doctype html><html lang='id'><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
        "<title>Verifikasi surat</title><style>body{font-family:sans-serif;max-width:40rem;margin:1rem auto;padding:0 1rem}"
        f"p.s{{color:{colour};font-weight:bold}}th{{text-align:left;padding-right:1rem}}td{{word-break:break-all}}</style>"
        f"</head><body><h1>Verifikasi surat</h1><p class='s'>{e(v.message)}</p><table>{rows}</table></body></html>"
    )
