"""What the multipart routes share: reading the form (a ``complaint`` JSON field and files), validating the
JSON against a request model, and checking each file by its bytes (``domain.attachments.check_file``).

Used by ``POST /v1/staff/complaints`` (staff.py) and ``POST /v1/complaints/form`` (public_form.py). Every
problem is an ``ApiError`` with a stable code and a message in Bahasa Indonesia.
"""

from __future__ import annotations

from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.intake.domain.attachments import AttachmentRejected, CheckedFile, check_file, too_many
from services.intake.domain.images import DEFAULT_MAX_PIXELS
from shared.http import ApiError, FieldError, field_errors

M = TypeVar("M", bound=BaseModel)

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")  # the latter: no files


def validation(errors_: list[FieldError]) -> ApiError:
    return ApiError(422, "validation_error", "Ada isian yang belum benar. Periksa kembali.", errors_)


def require_form(request: Request, hint: str) -> None:
    """415 unless the body is a form; ``hint`` says what to send."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in FORM_TYPES:
        raise ApiError(415, "unsupported_media_type", hint)


async def read_form(request: Request, *, max_files: int = 50, max_fields: int = 20) -> FormData:
    """The parsed form (the caller closes it); 400 ``malformed_form`` when it cannot be read."""
    try:
        return await request.form(max_files=max_files, max_fields=max_fields)
    except StarletteHTTPException:
        raise ApiError(400, "malformed_form", "Isi formulir tidak dapat dibaca.") from None


def refuse_unknown_fields(form: FormData, known: set[str]) -> None:
    unknown = sorted(set(form.keys()) - known)
    if unknown:
        raise validation(
            [FieldError(field=k[:60], code="extra_forbidden", message="Kolom ini tidak dikenal.") for k in unknown]
        )


def json_field(form: FormData, model: type[M], name: str = "complaint") -> M:
    """The one ``name`` field, a JSON document validated by ``model``; field errors are prefixed ``name.``."""
    values = form.getlist(name)
    if len(values) != 1 or not isinstance(values[0], str):
        raise validation([FieldError(field=name, code="missing", message="Wajib diisi (JSON pengaduan).")])
    try:
        return model.model_validate_json(values[0])
    except ValidationError as exc:
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            raise ApiError(400, "malformed_json", f"Isian `{name}` bukan JSON yang sah.") from None
        raise validation(
            [
                f.model_copy(update={"field": f"{name}.{f.field}" if f.field != "body" else name})
                for f in field_errors(exc.errors())
            ]
        ) from None


def real_uploads(form: FormData, name: str) -> list:
    """The values of file field ``name``, without the empty part a browser sends when no file was chosen
    (``filename=""`` and no bytes; some clients send it as an empty text value)."""
    return [
        u
        for u in form.getlist(name)
        if not (u == "" or (isinstance(u, UploadFile) and not u.filename and (u.size or 0) == 0))
    ]


async def check_uploads(
    uploads: list,
    kinds: list[str] | None,
    *,
    field: str,
    max_bytes: int,
    seen: list[CheckedFile] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[list[CheckedFile], list[FieldError]]:
    """Each upload checked by its bytes and images re-encoded (CPU work: off the event loop): (the files kept,
    the problems as ``field.i`` errors). A file whose stored bytes are already in ``seen`` (or earlier in
    ``uploads``) is kept once."""
    kept: list[CheckedFile] = []
    problems: list[FieldError] = []
    seen = list(seen or [])
    for i, upload in enumerate(uploads):
        if not isinstance(upload, UploadFile):
            problems.append(FieldError(field=f"{field}.{i}", code="not_a_file", message="Harus berupa berkas."))
            continue
        data = await upload.read(max_bytes + 1)
        try:
            checked = await run_in_threadpool(
                check_file,
                data,
                upload.filename,
                max_bytes=max_bytes,
                kind=kinds[i] if kinds else None,
                max_pixels=max_pixels,
            )
        except AttachmentRejected as exc:
            problems.append(FieldError(field=f"{field}.{i}", code=exc.code, message=exc.message))
            continue
        if all(f.sha256 != checked.sha256 for f in seen):
            kept.append(checked)
            seen.append(checked)
    return kept, problems


def raise_problems(problems: list[FieldError]) -> None:
    """422 with the first problem's code and message, and every problem in ``errors``."""
    if problems:
        first = problems[0]
        raise ApiError(422, first.code, first.message, problems)


def too_many_files(field: str, max_count: int) -> ApiError:
    exc = too_many(max_count)
    return ApiError(422, exc.code, exc.message, [FieldError(field=field, code=exc.code, message=exc.message)])


async def checked_files(
    uploads: list,
    kinds: list[str] | None,
    max_bytes: int,
    max_count: int,
    field: str = "scan",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[CheckedFile]:
    """Staff uploads: at most ``max_count`` files, ``kinds`` (if given) one per file, each checked."""
    if len(uploads) > max_count:
        raise too_many_files(field, max_count)
    if kinds is not None and len(kinds) != len(uploads):
        raise validation(
            [
                FieldError(
                    field="complaint.scan_kinds",
                    code="scan_kinds_mismatch",
                    message="Jumlah jenis lampiran harus sama dengan jumlah berkas `scan`.",
                )
            ]
        )
    files, problems = await check_uploads(uploads, kinds, field=field, max_bytes=max_bytes, max_pixels=max_pixels)
    raise_problems(problems)
    return files
