"""The documents themselves: staff download a complaint's receipt, drafts, signed letter, Lembar Disposisi and
surat pelimpahan, and print its Kartu Kendali as it stands; the complainant downloads their receipt and, once
sent, the signed letter by tracking code.

Every PDF is a download, never a page of ours: a PDF's JavaScript, or a file that is also HTML, runs nowhere.

A document erased with the complainant's personal data (docs/adr/0017) is listed still, with ``erased_at``, and its
download answers 410 ``document_erased``: the record that it existed stays, the PDF does not.

Every download that serves a PDF (each carries the complainant's name) is one row of the access log
(``shared.access_log``): staff as themselves, the holder of a tracking code as ``public``. The list of a complaint's
documents shows none of the complainant's data and is not recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel

from services.letters import handlers
from services.letters.bootstrap import Letters
from services.letters.entrypoints.deps import NOT_FOUND, PDF, LettersDep, document_row
from services.letters.handlers import is_signed_letter
from shared import access_log, masking
from shared.access_log import Access, AccessDep
from shared.auth import CurrentUser, Principal, refuse_personal_document
from shared.contracts.tracking import normalize_tracking_code
from shared.contracts.workflow import ComplainantDataCorrected, ComplaintReceived
from shared.http import ApiError, ErrorBody
from shared.ratelimit import RATE_LIMITED_DOC, per_address

router = APIRouter()

DOWNLOAD_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}
PDF_ANSWER = {"responses": {"200": {"description": "The PDF", "content": PDF}}}
GONE = {410: {"model": ErrorBody, "description": "Erased with the complainant's personal data (`document_erased`)"}}
NOT_FOUND_ANSWERS = {**NOT_FOUND, **GONE, 401: {"model": ErrorBody}, 403: {"model": ErrorBody}}
ERASED_MESSAGE = "Dokumen ini sudah dihapus karena data pribadi pengadu dihapus."


class DocumentOut(BaseModel):
    id: UUID
    # receipt, draft, response_letter, disposition_sheet (Lembar Disposisi, one per disposition or redirect),
    # referral_letter (surat pelimpahan, signed and numbered)
    kind: str
    letter_version: int | None
    letter_number: str | None  # a response_letter's or a referral_letter's
    sha256: str
    size: int
    created_at: datetime
    released_at: datetime | None
    erased_at: datetime | None = None  # erased with the complainant's personal data: no PDF any more (410)


@router.get(
    "/v1/letters/{document_id}/pdf",
    responses=NOT_FOUND_ANSWERS,
    summary="Download a receipt, draft, signed letter, disposition sheet or referral letter (staff of its "
    "kecamatan; kabupaten users and admins: 403)",
    response_class=Response,
    openapi_extra=PDF_ANSWER,
)
def download(document_id: UUID, user: CurrentUser, wf: LettersDep, access: AccessDep) -> Response:
    row = document_row(wf, document_id)
    kecamatan = wf.directory.get(row["kecamatan"]) if row else None
    if row is None or not user.can_read_kecamatan(row["kecamatan"], kecamatan.kabupaten_slug if kecamatan else None):
        raise ApiError(404, "letter_not_found", "Surat tidak ditemukan.")
    # every one carries the complainant's name: no redacted version (a confidential one: Kasi/Kasubag and Camat)
    refuse_personal_document(user, _confidential(wf, user, row["complaint_id"]))
    _refuse_erased(row)
    content = wf.documents.get(row["sha256"])
    _record(wf, user, f"document.{row['kind']}", row, access, _complainant(wf, row["complaint_id"]))
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="surat-{document_id}.pdf"', **DOWNLOAD_HEADERS},
    )


@router.get(
    "/v1/letters/track/{tracking_code}/receipt",
    responses={**NOT_FOUND, **GONE, **RATE_LIMITED_DOC},
    dependencies=[Depends(per_address("tracking"))],
    summary="The complainant's receipt (tanda terima), by tracking code",
    response_class=Response,
    openapi_extra=PDF_ANSWER,
)
def receipt(tracking_code: str, wf: LettersDep) -> Response:
    row = _by_tracking(wf, tracking_code, "receipt")
    if row is None:
        raise ApiError(
            404,
            "receipt_not_found",
            "Tanda terima belum tersedia. Periksa kode pelacakan Anda atau coba lagi sebentar.",
        )
    return _pdf_response(wf, row, "tanda-terima")


@router.get(
    "/v1/letters/track/{tracking_code}/letter",
    responses={**NOT_FOUND, **GONE, **RATE_LIMITED_DOC},
    dependencies=[Depends(per_address("tracking"))],
    summary="The signed response letter, for the complainant, once it has been sent (step 12)",
    response_class=Response,
    openapi_extra=PDF_ANSWER,
)
def released_letter(tracking_code: str, wf: LettersDep) -> Response:
    row = _by_tracking(wf, tracking_code, "response_letter", released=True)
    if row is not None:
        _refuse_erased(row)
    if row is None or row["released_at"] is None:
        raise ApiError(404, "letter_not_released", "Surat tanggapan belum dikirim untuk pengaduan ini.")
    return _pdf_response(wf, row, "surat-tanggapan")


@router.get(
    "/v1/letters/complaints/{complaint_id}",
    response_model=list[DocumentOut],
    responses={**NOT_FOUND, 401: {"model": ErrorBody}},
    summary="The documents of a complaint, oldest first: receipt, disposition sheets, every draft, the signed "
    "letter, the referral letter (staff of its kecamatan; kabupaten users and admins: the signed letters only). "
    "The Kartu Kendali is not among them: it is printed as it stands, GET .../kartu-kendali.pdf",
)
def of_complaint(complaint_id: UUID, user: CurrentUser, wf: LettersDep) -> list[DocumentOut]:
    with wf.uow() as uow:
        rows = uow.documents.of_complaint(complaint_id)
    visible = [r for r in rows if user.can_read_kecamatan(r["kecamatan"], _kabupaten(wf, r["kecamatan"]))]
    if not visible:
        raise ApiError(404, "complaint_not_found", "Pengaduan tidak ditemukan.")
    if not masking.sees_personal_data(user, _confidential(wf, user, complaint_id)):
        visible = [r for r in visible if is_signed_letter(r)]  # a masked reader: the signed letters only (as their
        # QR codes show them)
    return [
        DocumentOut(
            id=r["id"],
            kind=r["kind"],
            letter_version=r["letter_version"],
            letter_number=r["letter_number"],
            sha256=r["sha256"],
            size=r["size"],
            created_at=r["created_at"],
            released_at=r["released_at"],
            erased_at=r["erased_at"],
        )
        for r in visible
    ]


@router.get(
    "/v1/letters/complaints/{complaint_id}/kartu-kendali.pdf",
    responses=NOT_FOUND_ANSWERS,
    summary="The Kartu Kendali of a complaint as it stands now: every SOP step, who, when, against its standard "
    "time (staff of its kecamatan; kabupaten users and admins: 403)",
    response_class=Response,
    openapi_extra={"responses": {"200": {"description": "The PDF, landscape A4", "content": PDF}}},
)
def kartu_kendali(complaint_id: UUID, user: CurrentUser, wf: LettersDep, access: AccessDep) -> Response:
    complaint = handlers.complaint_events(wf, complaint_id)
    if complaint is None or not user.can_read_kecamatan(complaint.kecamatan.slug, complaint.kecamatan.kabupaten_slug):
        raise ApiError(404, "complaint_not_found", "Pengaduan tidak ditemukan.")
    refuse_personal_document(user, _is_confidential(complaint.events))  # it names the complainant
    pdf = handlers.control_card(wf, complaint, datetime.now(UTC))
    code = complaint.events[0].payload["tracking_code"]
    access_log.record(
        wf.engine,
        user=user,
        service="letters",
        what="document.kartu_kendali",
        complaint_ids=[complaint_id],
        kecamatan=complaint.kecamatan.slug,
        access=access,
        complainants=_complainants(complaint.events),
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="kartu-kendali-{code}.pdf"',
            "Cache-Control": "no-store",  # as it stands now: the next step changes it
            **DOWNLOAD_HEADERS,
        },
    )


def _kabupaten(letters: Letters, slug: str) -> str | None:
    k = letters.directory.get(slug)
    return k.kabupaten_slug if k else None


def _by_tracking(letters: Letters, code: str, kind: str, *, released: bool = False):
    """The newest document of ``kind`` (of those released, if asked) for a tracking code as people type it (None
    for a malformed code)."""
    normal = normalize_tracking_code(code)
    if normal is None:
        return None
    with letters.uow() as uow:
        return uow.documents.newest(normal, kind, released=released)


def _refuse_erased(row: dict[str, Any]) -> None:
    if row["erased_at"] is not None:
        raise ApiError(410, "document_erased", ERASED_MESSAGE)


def _record(
    letters: Letters,
    user: Principal | None,
    what: str,
    row: dict[str, Any],
    access: Access | None,
    complainants: Iterable[Mapping[str, Any] | None] = (),
) -> None:
    """A document carrying the complainant's data was served: one access-log row (``shared.access_log``), before
    the answer goes out (no row, no document)."""
    access_log.record(
        letters.engine,
        user=user,
        service="letters",
        what=what,
        complaint_ids=[row["complaint_id"]],
        kecamatan=row["kecamatan"],
        access=access,
        complainants=complainants,
    )


def _complainant(letters: Letters, complaint_id: UUID) -> Iterator[Mapping[str, Any] | None]:
    """The complainant as received and as corrected since, read only when asked (a reason to mask)."""
    found = handlers.complaint_events(letters, complaint_id)
    yield from _complainants(found.events) if found is not None else ()


def _confidential(letters: Letters, user: Principal, complaint_id: UUID) -> bool:
    """Whether the complainant asked that their identity be kept confidential (pelapor rahasia), read only where it
    decides something: for kecamatan staff who are not its readers (shared.masking.CONFIDENTIAL_READERS)."""
    if not user.is_staff or user.role in masking.CONFIDENTIAL_READERS:
        return False
    found = handlers.complaint_events(letters, complaint_id)
    return _is_confidential(found.events) if found is not None else False


def _is_confidential(events: Iterable[Any]) -> bool:
    people = [c for c in _complainants(events) if isinstance(c, Mapping)]
    return bool(people and people[-1].get("confidential"))


def _complainants(events: Iterable[Any]) -> list[Mapping[str, Any] | None]:
    return [
        e.payload.get("complainant")
        for e in events
        if e.type in (ComplaintReceived.type, ComplainantDataCorrected.type)
    ]


def _pdf_response(letters: Letters, row, name: str) -> Response:
    """The complainant's receipt or letter, to whoever holds the tracking code: recorded as ``public`` (no user),
    ``document.<kind>.by_tracking_code`` (docs/adr/0017: the code is a bearer secret; the log shows its use)."""
    _refuse_erased(row)
    content = letters.documents.get(row["sha256"])
    _record(letters, None, f"document.{row['kind']}.by_tracking_code", row, None)
    return Response(
        content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{name}-{row["tracking_code"]}.pdf"',
            **DOWNLOAD_HEADERS,
        },
    )
