"""Staff routes of intake: typing in a complaint-box form or a phone call, and downloading attachments.

Attachments (KTP/SIM/KK scans, photos) are personal data: only staff of the complaint's kecamatan, or
kabupaten users over it, may download them; anyone else is told they do not exist (404, not 403).
"""
from __future__ import annotations

import logging
import re
import uuid
from typing import Annotated
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.intake import handlers
from services.intake.domain.attachments import AttachmentRejected, CheckedFile, check_file, too_many
from services.intake.domain.commands import EnterComplaint
from services.intake.entrypoints.deps import IntakeDep, errors
from services.intake.entrypoints.schemas import ComplaintAccepted, StaffComplaintIn
from shared.auth import CurrentUser, Principal
from shared.contracts.intake import Complainant
from shared.http import ApiError, FieldError, field_errors
from shared.storage import DocumentCorrupted, DocumentNotFound

log = logging.getLogger(__name__)

router = APIRouter(tags=["staff"])

_SHA256 = re.compile(r"[0-9a-f]{64}")
_FORM_FIELDS = {"complaint", "scan"}

_MULTIPART_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["complaint"],
                    "properties": {
                        "complaint": {
                            "type": "string",
                            "description": "JSON: the public complaint fields, channel `kotak` or `telepon`, "
                            "`received_at`, optional `scan_kinds` (StaffComplaintIn)",
                        },
                        "scan": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "0 to 5 scans or photos (JPEG, PNG, WebP, HEIC, PDF; 5 MB each)",
                        },
                    },
                }
            }
        },
    }
}


def _validation(errors_: list[FieldError]) -> ApiError:
    return ApiError(422, "validation_error", "Ada isian yang belum benar. Periksa kembali.", errors_)


@router.post(
    "/v1/staff/complaints",
    status_code=202,
    response_model=ComplaintAccepted,
    responses=errors(400, 401, 403, 409, 413, 415, 422),
    summary="Enter a complaint-box form or a phone call (staff of the kecamatan; multipart: complaint + scan files)",
    openapi_extra=_MULTIPART_DOC,
)
async def enter_complaint(
    request: Request,
    response: Response,
    user: CurrentUser,
    intake: IntakeDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    x_correlation_id: Annotated[uuid.UUID | None, Header()] = None,
) -> ComplaintAccepted:
    if not user.is_staff or not user.kecamatan:
        raise ApiError(403, "not_kecamatan_staff", "Hanya staf kecamatan yang dapat mencatat pengaduan.")
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in ("multipart/form-data", "application/x-www-form-urlencoded"):  # the latter: no scans
        raise ApiError(415, "unsupported_media_type", "Kirim sebagai multipart/form-data (isian `complaint` dan berkas `scan`).")
    settings = intake.settings
    try:
        form = await request.form(max_files=50, max_fields=20)
    except StarletteHTTPException:
        raise ApiError(400, "malformed_form", "Isi formulir tidak dapat dibaca.") from None
    try:
        unknown = sorted(set(form.keys()) - _FORM_FIELDS)
        if unknown:
            raise _validation([FieldError(field=k[:60], code="extra_forbidden", message="Kolom ini tidak dikenal.") for k in unknown])
        values = form.getlist("complaint")
        if len(values) != 1 or not isinstance(values[0], str):
            raise _validation([FieldError(field="complaint", code="missing", message="Wajib diisi (JSON pengaduan).")])
        try:
            body = StaffComplaintIn.model_validate_json(values[0])
        except ValidationError as exc:
            if any(e.get("type") == "json_invalid" for e in exc.errors()):
                raise ApiError(400, "malformed_json", "Isian `complaint` bukan JSON yang sah.") from None
            raise _validation(
                [f.model_copy(update={"field": f"complaint.{f.field}" if f.field != "body" else "complaint"})
                 for f in field_errors(exc.errors())]
            ) from None
        if body.kecamatan is not None and body.kecamatan != user.kecamatan:
            raise ApiError(403, "other_kecamatan", "Anda hanya dapat mencatat pengaduan untuk kecamatan Anda sendiri.")
        uploads = form.getlist("scan")
        files = await _checked_files(uploads, body.scan_kinds, settings.max_attachment_bytes, settings.max_attachments)
    finally:
        await form.close()
    command = EnterComplaint(
        kecamatan=user.kecamatan,
        channel=body.channel,
        complainant=Complainant.model_construct(**body.complainant.model_dump()),
        subject=body.subject,
        description=body.description,
        received_at=body.received_at,
        entered_by=user.username,
        attachments=[f.attachment() for f in files],
        idempotency_key=idempotency_key,
        correlation_id=x_correlation_id or uuid.uuid4(),
    )
    try:
        accepted = await run_in_threadpool(handlers.enter_complaint, intake, command, files)
    except handlers.UnknownKecamatan:
        raise ApiError(403, "not_kecamatan_staff", "Kecamatan Anda tidak aktif di layanan ini.") from None
    except handlers.IdempotencyKeyReused:
        raise ApiError(409, "idempotency_key_reused", "Idempotency-Key ini sudah dipakai untuk pengaduan yang berbeda.") from None
    if accepted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return ComplaintAccepted(
        tracking_code=accepted.tracking_code,
        status="received",
        received_at=accepted.received_at,
        track_url=f"{settings.public_base_url}/v1/track/{accepted.tracking_code}",
        message=f"Pengaduan sudah dicatat dengan kode pelacakan {accepted.tracking_code}. "
        "Sampaikan kode ini kepada pengadu.",
    )


async def _checked_files(uploads: list, kinds: list[str] | None, max_bytes: int, max_count: int) -> list[CheckedFile]:
    if len(uploads) > max_count:
        exc = too_many(max_count)
        raise ApiError(422, exc.code, exc.message, [FieldError(field="scan", code=exc.code, message=exc.message)])
    if kinds is not None and len(kinds) != len(uploads):
        raise _validation([
            FieldError(field="complaint.scan_kinds", code="scan_kinds_mismatch",
                       message="Jumlah jenis lampiran harus sama dengan jumlah berkas `scan`.")
        ])
    files: list[CheckedFile] = []
    problems: list[FieldError] = []
    for i, upload in enumerate(uploads):
        if not isinstance(upload, UploadFile):
            problems.append(FieldError(field=f"scan.{i}", code="not_a_file", message="Harus berupa berkas."))
            continue
        data = await upload.read(max_bytes + 1)
        try:
            checked = check_file(data, upload.filename, max_bytes=max_bytes, kind=kinds[i] if kinds else None)
        except AttachmentRejected as exc:
            problems.append(FieldError(field=f"scan.{i}", code=exc.code, message=exc.message))
            continue
        if all(f.sha256 != checked.sha256 for f in files):  # the same scan twice is kept once
            files.append(checked)
    if problems:
        first = problems[0]
        raise ApiError(422, first.code, first.message, problems)
    return files


@router.get(
    "/v1/attachments/{sha256}",
    response_class=Response,
    responses={
        200: {"content": {t: {} for t in ("image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf")},
              "description": "The file"},
        **errors(401, 404),
    },
    summary="Download an attachment (staff of the complaint's kecamatan, or kabupaten users over it)",
)
def download_attachment(
    sha256: str,
    user: CurrentUser,
    intake: IntakeDep,
    complaint_id: Annotated[UUID | None, Query(description="The complaint the attachment belongs to")] = None,
) -> Response:
    not_found = ApiError(404, "attachment_not_found", "Lampiran tidak ditemukan.")
    if not _SHA256.fullmatch(sha256):
        raise not_found
    found = handlers.find_attachment(intake, sha256, complaint_id, lambda k: _may_read(intake, user, k))
    if found is None:
        raise not_found
    try:
        data = intake.documents.get(sha256)
    except (DocumentNotFound, DocumentCorrupted):
        log.error("attachment bytes missing or damaged in the document store", extra={"sha256": sha256})
        raise not_found from None
    filename = found.filename or f"lampiran-{sha256[:12]}"
    return Response(
        content=data,
        media_type=found.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


def _may_read(intake, user: Principal, kecamatan: str) -> bool:
    """Staff of that kecamatan, or kabupaten users of its kabupaten. Not admins: scans are personal data."""
    if user.is_staff:
        return user.kecamatan == kecamatan
    if user.is_kabupaten:
        found = intake.directory.get(kecamatan)
        return found is not None and user.kabupaten is not None and found.kabupaten_slug == user.kabupaten
    return False
