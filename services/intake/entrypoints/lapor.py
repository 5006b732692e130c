"""The SP4N-LAPOR! bridge's way in (``POST /v1/channels/lapor``): a report LAPOR! disposed to a kecamatan, handed
over by ``services/lapor`` as a form (the ``complaint`` JSON field and its ``file`` attachments) under the shared
secret ``PENGADUAN_LAPOR_WEBHOOK_TOKEN`` and an ``Idempotency-Key`` ``lapor:<tracking id>``. A second hand-over of
the same report answers the first (nothing new is written)."""

from __future__ import annotations

import hmac
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Header, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, field_validator
from pydantic_core import PydanticCustomError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from services.intake.entrypoints.deps import (
    IntakeDep,
    errors,
    idempotency_key_reused,
    unknown_category,
    unknown_kecamatan,
)
from services.intake.entrypoints.multipart import (
    json_field,
    read_form,
    real_uploads,
    refuse_unknown_fields,
    require_form,
)
from services.intake.handlers import submissions
from services.intake.handlers.lapor import receive_lapor
from shared.contracts.intake import Complainant, anonymous_complainant
from shared.http import ApiError
from shared.tenancy import UnknownKecamatan
from shared.text import FreeText, OneLine

router = APIRouter(tags=["channels"])

_FORM_FIELDS = {"complaint", "file"}
EARLIEST = datetime(2010, 1, 1, tzinfo=UTC)  # SP4N-LAPOR! began in 2011; older is a mapping error


class LaporPersonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: OneLine | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=32, pattern=r"^\+[1-9][0-9]{6,15}$")
    email: EmailStr | None = None
    anonymous: bool = False
    confidential: bool = False


class LaporComplaintIn(BaseModel):
    """A report as the bridge maps it (services/lapor/domain/importing.py)."""

    model_config = ConfigDict(extra="forbid")

    kecamatan: str = Field(min_length=2, max_length=40, pattern=r"^[a-z0-9-]+$")
    lapor_id: str = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")
    subject: OneLine = Field(min_length=1, max_length=200)
    description: FreeText = Field(min_length=1, max_length=20000)
    complainant: LaporPersonIn
    category: str | None = Field(None, max_length=60)
    received_at: AwareDatetime  # when LAPOR! disposed it: not before 2010, not in the future

    @field_validator("subject", "description")
    @classmethod
    def _says_something(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("missing", "Wajib diisi.")
        return value

    @field_validator("received_at")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        if value < EARLIEST or value > datetime.now(UTC) + timedelta(minutes=5):
            raise PydanticCustomError("received_at_out_of_range", "Waktu disposisi tidak masuk akal.")
        return value

    def person(self) -> Complainant:
        p = self.complainant
        if p.anonymous or not p.name:
            return anonymous_complainant()
        return Complainant(name=p.name, phone=p.phone, email=p.email, confidential=p.confidential)


class LaporAccepted(BaseModel):
    tracking_code: str
    complaint_id: UUID
    received_at: datetime
    status: Literal["received"] = "received"


@router.post(
    "/v1/channels/lapor",
    status_code=202,
    response_model=LaporAccepted,
    responses=errors(400, 401, 403, 409, 413, 415, 422, 503),
    summary="A report SP4N-LAPOR! disposed to a kecamatan, from the LAPOR! bridge (multipart: complaint + file)",
)
async def lapor(
    request: Request,
    response: Response,
    intake: IntakeDep,
    idempotency_key: Annotated[str, Header(min_length=7, max_length=200, pattern=r"^lapor:[\x21-\x7e]+$")],
    x_webhook_token: Annotated[str | None, Header(max_length=512)] = None,
    x_correlation_id: Annotated[uuid.UUID | None, Header()] = None,
) -> LaporAccepted:
    secret = intake.settings.lapor_webhook_token
    if secret is None or not secret.get_secret_value():
        raise ApiError(503, "channel_not_configured", "Kanal SP4N-LAPOR! belum dikonfigurasi di layanan ini.")
    if not x_webhook_token or not hmac.compare_digest(x_webhook_token.encode(), secret.get_secret_value().encode()):
        raise ApiError(401, "webhook_unauthorized", "Token webhook tidak sah.")
    require_form(request, "Kirim sebagai multipart/form-data (isian `complaint` dan berkas `file`).")
    form = await read_form(request)
    try:
        refuse_unknown_fields(form, _FORM_FIELDS)
        body = json_field(form, LaporComplaintIn)
        uploads = [u for u in real_uploads(form, "file") if isinstance(u, UploadFile)]
        files = [(await upload.read(), upload.filename) for upload in uploads]
    finally:
        await form.close()
    if idempotency_key != f"lapor:{body.lapor_id}":
        raise ApiError(422, "idempotency_key_mismatch", "Idempotency-Key harus lapor:<lapor_id> laporan ini.")
    bridged = intake.settings.lapor_instansi
    if bridged and body.kecamatan not in bridged:  # the token is the bridge's: it writes for its kecamatan only
        raise ApiError(403, "kecamatan_not_bridged", "Kecamatan ini tidak terhubung dengan SP4N-LAPOR! di sini.")
    try:
        accepted = await run_in_threadpool(
            lambda: receive_lapor(
                intake,
                kecamatan=body.kecamatan,
                complainant=body.person(),
                subject=body.subject,
                description=body.description,
                received_at=body.received_at,
                category=body.category,
                files=files,
                idempotency_key=idempotency_key,
                correlation_id=x_correlation_id or uuid.uuid4(),
            )
        )
    except UnknownKecamatan:
        raise unknown_kecamatan("complaint.kecamatan") from None
    except submissions.UnknownCategory:
        raise unknown_category("complaint.category") from None
    except submissions.IdempotencyKeyReused:
        raise idempotency_key_reused() from None
    if accepted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return LaporAccepted(
        tracking_code=accepted.tracking_code, complaint_id=accepted.complaint_id, received_at=accepted.received_at
    )
