"""Staff routes of intake: typing in a complaint-box form or a phone call, and downloading attachments.

Attachments (KTP/SIM/KK scans, photos) are personal data: only staff of the complaint's kecamatan may
download them. Kabupaten users and admins, who read the complaint masked, get 403
``personal_data_not_available`` (``shared.masking``); anyone else is told they do not exist (404). Each download
is one row of the access log (``shared.access_log``: who, when, which complaint's scan, the reason given).
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Annotated
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from services.intake.domain.commands import EnterComplaint
from services.intake.entrypoints.deps import (
    IdempotencyKey,
    IntakeDep,
    accepted_answer,
    anonymous_not_accepted,
    errors,
    idempotency_key_reused,
    unknown_category,
)
from services.intake.entrypoints.multipart import (
    checked_files,
    json_field,
    read_form,
    refuse_unknown_fields,
    require_form,
)
from services.intake.entrypoints.schemas import StaffComplaintAccepted, StaffComplaintIn
from services.intake.handlers import submissions
from services.intake.handlers.attachments import complainant_of, find_attachment
from shared import access_log
from shared.access_log import AccessDep
from shared.auth import CurrentUser, Principal, refuse_personal_document
from shared.http import ApiError
from shared.storage import DocumentCorrupted, DocumentNotFound
from shared.tenancy import UnknownKecamatan

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
                            "description": "JSON: the public complaint fields, channel `kotak`, `telepon` or `datang`, "
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


@router.post(
    "/v1/staff/complaints",
    status_code=202,
    response_model=StaffComplaintAccepted,
    responses=errors(400, 401, 403, 409, 413, 415, 422),
    summary="Enter a complaint-box form or a phone call (staff of the kecamatan; multipart: complaint + scan files)",
    openapi_extra=_MULTIPART_DOC,
)
async def enter_complaint(
    request: Request,
    response: Response,
    user: CurrentUser,
    intake: IntakeDep,
    idempotency_key: IdempotencyKey = None,
    x_correlation_id: Annotated[uuid.UUID | None, Header()] = None,
) -> StaffComplaintAccepted:
    if not user.is_staff or not user.kecamatan:
        raise ApiError(403, "not_kecamatan_staff", "Hanya staf kecamatan yang dapat mencatat pengaduan.")
    require_form(request, "Kirim sebagai multipart/form-data (isian `complaint` dan berkas `scan`).")
    settings = intake.settings
    form = await read_form(request)
    try:
        refuse_unknown_fields(form, _FORM_FIELDS)
        body = json_field(form, StaffComplaintIn)
        if body.kecamatan is not None and body.kecamatan != user.kecamatan:
            raise ApiError(403, "other_kecamatan", "Anda hanya dapat mencatat pengaduan untuk kecamatan Anda sendiri.")
        uploads = form.getlist("scan")
        files = await checked_files(
            uploads,
            body.scan_kinds,
            settings.max_attachment_bytes,
            settings.max_attachments,
            max_pixels=settings.max_image_pixels,
        )
    finally:
        await form.close()
    command = EnterComplaint(
        kecamatan=user.kecamatan,
        channel=body.channel,
        complainant=body.person(),
        subject=body.subject,
        description=body.description,
        received_at=body.received_at,
        entered_by=user.username,
        attachments=[f.attachment() for f in files],
        idempotency_key=idempotency_key,
        correlation_id=x_correlation_id or uuid.uuid4(),
        category=body.category,
    )
    try:
        accepted = await run_in_threadpool(submissions.enter_complaint, intake, command, files)
    except UnknownKecamatan:
        raise ApiError(403, "not_kecamatan_staff", "Kecamatan Anda tidak aktif di layanan ini.") from None
    except submissions.AnonymousNotAccepted:
        raise anonymous_not_accepted() from None
    except submissions.UnknownCategory:
        raise unknown_category("complaint.category") from None
    except submissions.IdempotencyKeyReused:
        raise idempotency_key_reused() from None
    answer = accepted_answer(
        accepted,
        settings,
        response,
        f"Pengaduan sudah dicatat dengan kode pelacakan {accepted.tracking_code}. Sampaikan kode ini kepada pengadu.",
    )
    return StaffComplaintAccepted(**answer.model_dump(), complaint_id=accepted.complaint_id)


@router.get(
    "/v1/attachments/{sha256}",
    response_class=Response,
    responses={
        200: {
            "content": {t: {} for t in ("image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf")},
            "description": "The file",
        },
        **errors(401, 403, 404),
    },
    summary="Download an attachment (staff of the complaint's kecamatan; kabupaten users and admins: 403)",
)
def download_attachment(
    sha256: str,
    user: CurrentUser,
    intake: IntakeDep,
    access: AccessDep,
    complaint_id: Annotated[UUID | None, Query(description="The complaint the attachment belongs to")] = None,
) -> Response:
    not_found = ApiError(404, "attachment_not_found", "Lampiran tidak ditemukan.")
    if not _SHA256.fullmatch(sha256):
        raise not_found
    found = find_attachment(intake, sha256, complaint_id, lambda k: _may_read(intake, user, k))
    if found is None:
        raise not_found
    # kabupaten, admin: 403 personal_data_not_available; a pelapor rahasia's also the Staf and the Sekcam
    refuse_personal_document(user, user.is_staff and _confidential(intake, found.complaint_id))
    try:
        data = intake.documents.get(sha256)
    except (DocumentNotFound, DocumentCorrupted):
        log.error("attachment bytes missing or damaged in the document store", extra={"sha256": sha256})
        raise not_found from None
    access_log.record(  # before the bytes go out: no row, no scan (shared.access_log)
        intake.engine,
        user=user,
        service="intake",
        what="scan.download",
        complaint_ids=[found.complaint_id],  # always one: only an attachment of a complaint is found
        kecamatan=found.kecamatan,
        access=access,
        complainants=complainant_of(intake, found.complaint_id),  # read only to mask a reason given
    )
    filename = found.filename or f"lampiran-{sha256[:12]}"
    return Response(
        content=data,
        media_type=found.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",  # opened anyway, it runs no script and reaches no cookie
            "Cache-Control": "private, no-store",
        },
    )


def _confidential(intake, complaint_id: UUID) -> bool:
    """Whether the complainant asked that their identity be kept confidential (as their submission holds it)."""
    person = next(complainant_of(intake, complaint_id), None)
    return bool(person and person.get("confidential"))


def _may_read(intake, user: Principal, kecamatan: str) -> bool:
    """Whether the complaint is this reader's to read at all (tenancy); whether its scans are is
    ``shared.masking``'s decision."""
    found = intake.directory.get(kecamatan)
    return user.can_read_kecamatan(kecamatan, found.kabupaten_slug if found else None)
