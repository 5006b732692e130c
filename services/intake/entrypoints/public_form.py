"""The citizens' complaint form with its files: ``POST /v1/complaints/form`` (multipart).

The SOP asks for a copy of KTP, SIM or KK with every complaint: here it is required, as the one ``identitas``
file (``complaint.id_kind`` says which card), with up to ``max_attachments - 1`` supporting photos (``foto``).
The JSON ``POST /v1/complaints`` stays as it was, for clients that send no files. Files are checked by their
bytes; on any problem nothing is stored.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from starlette.concurrency import run_in_threadpool

from services.intake.domain.commands import SubmitComplaint
from services.intake.entrypoints.deps import (
    IdempotencyKey,
    IntakeDep,
    citizen_accepted,
    errors,
    idempotency_key_reused,
    unknown_category,
    unknown_kecamatan,
)
from services.intake.entrypoints.multipart import (
    check_uploads,
    json_field,
    raise_problems,
    read_form,
    real_uploads,
    refuse_unknown_fields,
    require_form,
    too_many_files,
    validation,
)
from services.intake.entrypoints.schemas import ComplaintAccepted, ComplaintFormIn
from services.intake.handlers import submissions
from shared.http import ApiError, FieldError
from shared.ratelimit import RATE_LIMITED_DOC, per_address
from shared.tenancy import UnknownKecamatan

router = APIRouter(tags=["complaints"])

_FORM_FIELDS = {"complaint", "identitas", "foto"}

_MULTIPART_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["complaint", "identitas"],
                    "properties": {
                        "complaint": {
                            "type": "string",
                            "description": "JSON: the fields of `POST /v1/complaints` plus `id_kind` "
                            "(`ktp`, `sim` or `kk`: what the `identitas` file is) (ComplaintFormIn)",
                        },
                        "identitas": {
                            "type": "string",
                            "format": "binary",
                            "description": "A photo or scan of the KTP, SIM or KK (JPEG, PNG, WebP, HEIC, PDF; 5 MB)",
                        },
                        "foto": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "0 to 4 supporting photos (same types and size)",
                        },
                    },
                }
            }
        },
    }
}


def _complaint(form) -> tuple[ComplaintFormIn | None, list[FieldError]]:
    """The ``complaint`` JSON, or None with its field errors (a malformed JSON is a 400 at once)."""
    try:
        return json_field(form, ComplaintFormIn), []
    except ApiError as exc:
        if exc.status != 422:
            raise
        return None, list(exc.errors)


@router.post(
    "/v1/complaints/form",
    status_code=202,
    response_model=ComplaintAccepted,
    responses={**errors(400, 409, 413, 415, 422), **RATE_LIMITED_DOC},
    dependencies=[Depends(per_address("submissions"))],
    summary="Submit a complaint with a copy of the KTP/SIM/KK and photos (web form; multipart)",
    openapi_extra=_MULTIPART_DOC,
)
async def submit_form(
    request: Request,
    response: Response,
    intake: IntakeDep,
    idempotency_key: IdempotencyKey = None,
    x_correlation_id: Annotated[uuid.UUID | None, Header()] = None,
) -> ComplaintAccepted:
    require_form(request, "Kirim sebagai multipart/form-data (isian `complaint`, berkas `identitas` dan `foto`).")
    settings = intake.settings
    form = await read_form(request)
    try:
        refuse_unknown_fields(form, _FORM_FIELDS)
        body, problems = _complaint(form)
        identity = real_uploads(form, "identitas")
        photos = real_uploads(form, "foto")
        if len(photos) > settings.max_attachments - 1:
            raise too_many_files("foto", settings.max_attachments - 1)
        if not identity:
            problems.append(
                FieldError(
                    field="identitas",
                    code="identity_document_required",
                    message="Lampirkan foto atau pindaian KTP, SIM, atau KK Anda.",
                )
            )
        elif len(identity) > 1:
            problems.append(
                FieldError(
                    field="identitas",
                    code="one_identity_document",
                    message="Lampirkan satu berkas kartu identitas saja.",
                )
            )
        kind = body.id_kind if body is not None else None
        files, bad = await check_uploads(
            identity[:1],
            [kind] if kind else None,
            field="identitas",
            max_bytes=settings.max_attachment_bytes,
            max_pixels=settings.max_image_pixels,
        )
        more, bad_photos = await check_uploads(
            photos,
            ["foto"] * len(photos),
            field="foto",
            max_bytes=settings.max_attachment_bytes,
            seen=files,
            max_pixels=settings.max_image_pixels,
        )
        problems += bad + bad_photos
        if body is None or problems:  # every problem at once: the form's fields and its files
            if any(p.field.startswith("complaint") for p in problems):
                raise validation(problems)
            raise_problems(problems)
        files += more
    finally:
        await form.close()
    command = SubmitComplaint(
        kecamatan=body.kecamatan,
        channel=body.channel,
        # already validated and normalised by ComplaintFormIn: not a second round of e-mail parsing
        complainant=body.person(),
        subject=body.subject,
        description=body.description,
        attachments=[f.attachment() for f in files],
        idempotency_key=idempotency_key,
        correlation_id=x_correlation_id or uuid.uuid4(),
        category=body.category,
    )
    try:
        accepted = await run_in_threadpool(submissions.submit_complaint_with_files, intake, command, files)
    except UnknownKecamatan:
        raise unknown_kecamatan("complaint.kecamatan") from None
    except submissions.IdempotencyKeyReused:
        raise idempotency_key_reused() from None
    except submissions.UnknownCategory:
        raise unknown_category("complaint.category") from None
    return citizen_accepted(accepted, settings, response)
