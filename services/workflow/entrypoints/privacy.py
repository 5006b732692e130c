"""The complainant's rights over their personal data (UU 27/2022 PDP; issue #17, docs/adr/0017). Erasure, so far:
``POST /v1/privacy/erasures`` (admin) destroys a closed complaint's data key and records ``PersonalDataErased``,
which each service keeping a copy acts on. Access and correction requests, retention and the access log are the
next steps of the issue."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.workflow import handlers
from services.workflow.domain import model
from services.workflow.entrypoints.complaints import WorkflowDep
from shared.auth import CurrentUser
from shared.http import ApiError, ErrorBody
from shared.text import OneLine

router = APIRouter()


class ErasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    complaint_id: UUID
    reason: OneLine = Field(
        min_length=1,
        max_length=500,
        examples=["Permintaan penghapusan dari pengadu, surat tanggal 1 Desember 2026"],
        description="Why: the complainant's request (and its reference), or the end of the retention period",
    )


class ErasureOut(BaseModel):
    request_id: UUID
    complaint_id: UUID
    erased_at: datetime
    status: str = Field(
        "erased",
        description="`erased`: the complaint's data key is destroyed and every service has been told to remove its "
        "copies (they do so as the event reaches them, within seconds)",
    )


@router.post(
    "/v1/privacy/erasures",
    status_code=201,
    response_model=ErasureOut,
    responses={
        401: {"model": ErrorBody},
        403: {"model": ErrorBody, "description": "Only an admin (`forbidden`)"},
        404: {"model": ErrorBody, "description": "`complaint_not_found`"},
        409: {"model": ErrorBody, "description": "`complaint_open` (not closed yet), `already_erased`"},
        422: {"model": ErrorBody, "description": "`validation_error`, `reason_required`"},
    },
    summary="Erase a closed complaint's personal data (admin; UU 27/2022 PDP)",
)
def erase(body: ErasureIn, user: CurrentUser, wf: WorkflowDep) -> ErasureOut:
    if user.role != "admin":
        raise ApiError(403, "forbidden", "Hanya admin yang dapat menghapus data pribadi pengadu.")
    at = datetime.now(UTC)
    try:
        request_id = handlers.erase_personal_data(wf, body.complaint_id, by=user.username, reason=body.reason, at=at)
    except handlers.UnknownComplaint:
        raise ApiError(404, "complaint_not_found", "Pengaduan tidak ditemukan.") from None
    except model.DomainError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    return ErasureOut(request_id=request_id, complaint_id=body.complaint_id, erased_at=at)
