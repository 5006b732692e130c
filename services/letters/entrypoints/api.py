"""The letters API: the public verification page behind each letter's QR code, and staff downloads."""
from __future__ import annotations

import hashlib
import html
import logging
from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from services.letters.adapters.verification import verify_pdf
from services.letters.adapters.tables import documents
from services.letters.bootstrap import Letters, bootstrap
from shared import masking
from shared.auth import CurrentUser, install_auth
from shared.ratelimit import RATE_LIMITED_DOC, per_address
from shared.storage import DocumentCorrupted, DocumentNotFound
from shared.metrics import install_metrics
from shared.http import ApiError, BodySizeLimit, ErrorBody, Health, check_database, health_response, install_error_handlers

MAX_PDF_BYTES = 10 * 1024 * 1024
log = logging.getLogger(__name__)


class DocumentOut(BaseModel):
    id: UUID
    kind: str  # receipt, draft, response_letter
    letter_version: int | None
    letter_number: str | None
    sha256: str
    size: int
    created_at: datetime
    released_at: datetime | None


def _kabupaten(letters: Letters, slug: str) -> str | None:
    k = letters.directory.get(slug)
    return k.kabupaten_slug if k else None


class VerificationOut(BaseModel):
    valid: bool
    intact: bool
    trusted: bool
    message: str
    sha256: str
    document_id: UUID | None = None
    letter_number: str | None = None
    signed_on: date | None = None
    signer: str | None = None
    kecamatan: str | None = None
    # no perihal: it is free text the masking policy hides, and the holder of the letter has it on paper


def _is_signed_letter(row) -> bool:
    """Only a numbered, signed response letter is verified: a receipt or a draft is no letter (and is not
    shown to anyone who merely knows its id)."""
    return row is not None and row["kind"] == "response_letter" and bool(row["letter_number"])


def get_letters(request: Request) -> Letters:
    return request.app.state.letters


LettersDep = Annotated[Letters, Depends(get_letters)]


def _message(valid: bool, intact: bool, trusted: bool, known: bool) -> str:
    if valid and known:
        return "Surat ini asli: tanda tangan elektroniknya sah dan isinya tidak berubah sejak ditandatangani."
    if not intact:
        return "Surat ini TIDAK asli: isinya berubah setelah ditandatangani, atau tidak bertanda tangan elektronik."
    if not trusted:
        return "Tanda tangan pada surat ini tidak berasal dari kecamatan yang terdaftar di layanan ini."
    return "Surat ini tidak tercatat di layanan ini."


def _check(letters: Letters, pdf: bytes, row) -> VerificationOut:
    result = verify_pdf(pdf, letters.trust_roots())
    known = row is not None and row["sha256"] == result.sha256
    valid = result.valid and known
    out = VerificationOut(
        valid=valid, intact=result.intact, trusted=result.trusted, sha256=result.sha256,
        message=_message(result.valid, result.intact, result.trusted, known),
    )
    if known:
        directory = letters.directory.get(row["kecamatan"])
        out = out.model_copy(update={
            "document_id": row["id"], "letter_number": row["letter_number"], "signed_on": row["signed_on"],
            "signer": row["signer"], "kecamatan": directory.name if directory else row["kecamatan"],
        })
    return out


def _lookup_and_check(letters: Letters, pdf: bytes) -> VerificationOut:
    with letters.engine.connect() as conn:
        row = conn.execute(
            select(documents).where(documents.c.sha256 == hashlib.sha256(pdf).hexdigest(),
                                    documents.c.kind == "response_letter")
        ).mappings().first()
    return _check(letters, pdf, row if _is_signed_letter(row) else None)


def _page(v: VerificationOut) -> str:
    e = html.escape
    colour = "#0a7d32" if v.valid else "#b00020"
    rows = "".join(
        f"<tr><th>{e(k)}</th><td>{e(str(val))}</td></tr>"
        for k, val in [("Nomor surat", v.letter_number), ("Tanggal", v.signed_on), ("Penanda tangan", v.signer),
                       ("Kecamatan", v.kecamatan), ("SHA-256 dokumen", v.sha256)]
        if val
    )
    return (
        "<!doctype html><html lang='id'><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
        "<title>Verifikasi surat</title><style>body{font-family:sans-serif;max-width:40rem;margin:1rem auto;padding:0 1rem}"
        f"p.s{{color:{colour};font-weight:bold}}th{{text-align:left;padding-right:1rem}}td{{word-break:break-all}}</style>"
        f"</head><body><h1>Verifikasi surat tanggapan</h1><p class='s'>{e(v.message)}</p><table>{rows}</table></body></html>"
    )


# every PDF is a download, never a page of ours: a PDF's JavaScript, or a file that is also HTML, runs nowhere
DOWNLOAD_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}


# what the API docs say of answers and bodies that are not JSON
PDF = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
# the file as it is, whatever its declared type (a client that knows no better sends octet-stream)
PDF_BODY = {"requestBody": {"required": True, "content": {**PDF, "application/octet-stream": PDF["application/pdf"]}}}
PDF_ANSWER = {"responses": {"200": {"description": "The PDF", "content": PDF}}}
VERIFY_PAGE = {200: {"content": {"text/html": {"schema": {"type": "string"}}},
                     "description": "The verdict (JSON), or a page for a browser (`Accept: text/html`)"}}


def create_app(letters: Letters | None = None) -> FastAPI:
    letters = letters or bootstrap()
    app = FastAPI(title="pengaduan: letters", version="1", description="Signed response letters: verification and download.")
    app.state.letters = letters
    install_error_handlers(app)
    install_auth(app, letters.settings, letters.engine)
    app.add_middleware(BodySizeLimit, max_bytes=MAX_PDF_BYTES)
    errors = {404: {"model": ErrorBody}}

    def row_of(document_id: UUID):
        with letters.engine.connect() as conn:
            return conn.execute(select(documents).where(documents.c.id == document_id)).mappings().first()

    @app.get("/v1/letters/verify/{document_id}", response_model=VerificationOut,
             responses={**errors, **VERIFY_PAGE, **RATE_LIMITED_DOC}, dependencies=[Depends(per_address("tracking"))],
             summary="The page behind a signed letter's QR code: is this letter genuine? (receipts and drafts: 404)")
    def verify_issued(document_id: UUID, request: Request, wf: LettersDep) -> Response:
        row = row_of(document_id)
        if not _is_signed_letter(row):  # a receipt, a draft or an unknown id: the same answer
            raise ApiError(404, "letter_not_found", "Surat dengan kode ini tidak tercatat di layanan ini.")
        try:
            stored = wf.documents.get(row["sha256"])
        except (DocumentNotFound, DocumentCorrupted):
            log.error("a signed letter's stored copy is missing or damaged", extra={"document_id": str(document_id)})
            result = VerificationOut(valid=False, intact=False, trusted=False, sha256=row["sha256"],
                                     message="Salinan surat ini di arsip tidak dapat diperiksa. Hubungi kantor kecamatan.")
        else:
            result = _check(wf, stored, row)
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(_page(result))
        return JSONResponse(result.model_dump(mode="json"))

    @app.post("/v1/letters/verify", response_model=VerificationOut, openapi_extra=PDF_BODY,
              responses={413: {"model": ErrorBody, "description": "Larger than 10 MiB"},
                         422: {"model": ErrorBody, "description": "No PDF sent (`empty_document`)"}},
              summary="Check a PDF someone holds: signed by a kecamatan here, unchanged, and on record?")
    async def verify_upload(request: Request, wf: LettersDep) -> VerificationOut:
        pdf = await request.body()
        if not pdf:
            raise ApiError(422, "empty_document", "Kirim berkas PDF surat yang akan diperiksa.")
        # parsing and checking a PDF is CPU work and the lookup blocks: off the event loop
        return await run_in_threadpool(_lookup_and_check, wf, pdf)

    @app.get("/v1/letters/{document_id}/pdf", responses={**errors, 401: {"model": ErrorBody}, 403: {"model": ErrorBody}},
             summary="Download a receipt, draft or signed letter (staff of its kecamatan; kabupaten users and admins: 403)",
             response_class=Response, openapi_extra=PDF_ANSWER)
    def download(document_id: UUID, user: CurrentUser, wf: LettersDep) -> Response:
        row = row_of(document_id)
        kecamatan = wf.directory.get(row["kecamatan"]) if row else None
        if row is None or not user.can_read_kecamatan(row["kecamatan"], kecamatan.kabupaten_slug if kecamatan else None):
            raise ApiError(404, "letter_not_found", "Surat tidak ditemukan.")
        masking.refuse_personal_document(user)  # every one carries the complainant's name: no redacted version
        return Response(
            wf.documents.get(row["sha256"]), media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="surat-{document_id}.pdf"', **DOWNLOAD_HEADERS},
        )

    def by_tracking(code: str, kind: str):
        from shared.contracts.tracking import normalize_tracking_code

        normal = normalize_tracking_code(code)
        if normal is None:
            return None
        with letters.engine.connect() as conn:
            return conn.execute(
                select(documents).where(documents.c.tracking_code == normal, documents.c.kind == kind)
                .order_by(documents.c.created_at.desc())
            ).mappings().first()

    def pdf_response(wf: Letters, row, name: str) -> Response:
        return Response(wf.documents.get(row["sha256"]), media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}-{row["tracking_code"]}.pdf"',
                                 **DOWNLOAD_HEADERS})

    @app.get("/v1/letters/track/{tracking_code}/receipt", responses={**errors, **RATE_LIMITED_DOC},
             dependencies=[Depends(per_address("tracking"))],
             summary="The complainant's receipt (tanda terima), by tracking code",
             response_class=Response, openapi_extra=PDF_ANSWER)
    def receipt(tracking_code: str, wf: LettersDep) -> Response:
        row = by_tracking(tracking_code, "receipt")
        if row is None:
            raise ApiError(404, "receipt_not_found", "Tanda terima belum tersedia. Periksa kode pelacakan Anda atau coba lagi sebentar.")
        return pdf_response(wf, row, "tanda-terima")

    @app.get("/v1/letters/track/{tracking_code}/letter", responses={**errors, **RATE_LIMITED_DOC},
             dependencies=[Depends(per_address("tracking"))],
             summary="The signed response letter, for the complainant, once it has been sent (step 12)",
             response_class=Response, openapi_extra=PDF_ANSWER)
    def released_letter(tracking_code: str, wf: LettersDep) -> Response:
        row = by_tracking(tracking_code, "response_letter")
        if row is None or row["released_at"] is None:
            raise ApiError(404, "letter_not_released", "Surat tanggapan belum dikirim untuk pengaduan ini.")
        return pdf_response(wf, row, "surat-tanggapan")

    @app.get("/v1/letters/complaints/{complaint_id}", response_model=list[DocumentOut], responses={**errors, 401: {"model": ErrorBody}},
             summary="The documents of a complaint: receipt, every draft, the signed letter (staff of its kecamatan; "
                     "kabupaten users and admins: the signed letter only)")
    def of_complaint(complaint_id: UUID, user: CurrentUser, wf: LettersDep) -> list[DocumentOut]:
        with wf.engine.connect() as conn:
            rows = conn.execute(
                select(documents).where(documents.c.complaint_id == complaint_id).order_by(documents.c.created_at)
            ).mappings().all()
        visible = [r for r in rows if user.can_read_kecamatan(r["kecamatan"], _kabupaten(wf, r["kecamatan"]))]
        if not visible:
            raise ApiError(404, "complaint_not_found", "Pengaduan tidak ditemukan.")
        if not masking.sees_personal_data(user):  # a masked reader: the signed letter only (as its QR code shows it)
            visible = [r for r in visible if _is_signed_letter(r)]
        return [DocumentOut(id=r["id"], kind=r["kind"], letter_version=r["letter_version"], letter_number=r["letter_number"],
                            sha256=r["sha256"], size=r["size"], created_at=r["created_at"], released_at=r["released_at"])
                for r in visible]

    @app.get("/healthz", response_model=Health, summary="Health of the letters API")
    def healthz() -> JSONResponse:
        return health_response("letters", {"database": check_database(letters.engine)})

    install_metrics(app, "letters")
    return app
