"""The complainant's rights over their personal data (UU 27/2022 PDP; issue #17, docs/adr/0017).

``POST /v1/privacy/erasures`` (the kabupaten's data-protection officer, role ``pdp``, or an admin) destroys a closed
complaint's data key and records ``PersonalDataErased``, which each service keeping a copy acts on; the retention job
does the same when a kabupaten's retention period has passed. ``GET /v1/privacy/requests`` lists every request and
its outcome (refusals too): the record UU 27/2022 asks a controller to keep."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from services.workflow import handlers
from services.workflow.adapters.tables import complaints
from services.workflow.bootstrap import Workflow
from services.workflow.domain import model
from services.workflow.entrypoints.complaints import WorkflowDep, _kabupaten_of
from shared import access_log, masking
from shared.access_log import AccessDep
from shared.auth import CurrentUser, Principal
from shared.events import Actor
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
        403: {"model": ErrorBody, "description": "Only the data-protection officer (pdp) or an admin (`forbidden`)"},
        404: {"model": ErrorBody, "description": "`complaint_not_found`"},
        409: {"model": ErrorBody, "description": "`complaint_open` (not closed yet), `already_erased`"},
        422: {"model": ErrorBody, "description": "`validation_error`, `reason_required`"},
    },
    summary="Erase a closed complaint's personal data (data-protection officer or admin; UU 27/2022 PDP)",
)
def erase(body: ErasureIn, user: CurrentUser, wf: WorkflowDep) -> ErasureOut:
    if not (user.is_admin or user.is_data_protection):
        raise ApiError(
            403,
            "forbidden",
            "Hanya pejabat pelindungan data pribadi (PDP) atau admin yang dapat menghapus data pribadi.",
        )
    at = datetime.now(UTC)
    try:
        request_id = handlers.erase_personal_data(
            wf,
            body.complaint_id,
            by=user.username,
            reason=body.reason,
            at=at,
            kecamatan_of=lambda k: user.can_read_kecamatan(k, _kabupaten_of(wf, k)),
            actor=Actor(kind="user", user_id=user.username, role=user.role),
        )
    except handlers.UnknownComplaint:
        raise ApiError(404, "complaint_not_found", "Pengaduan tidak ditemukan.") from None
    except model.DomainError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    return ErasureOut(request_id=request_id, complaint_id=body.complaint_id, erased_at=at)


class PrivacyRequestOut(BaseModel):
    id: UUID
    kind: Literal["erasure", "retention", "access", "correction"]
    complaint_id: UUID
    register_number: str | None = Field(
        None, examples=["12/2026"], description="The complaint's number/year in the Buku Rekap; null before step 3"
    )
    kecamatan: str
    requested_by: str = Field(description="The officer who decided it, or `retensi` for the retention job")
    reason: str = Field(description="As given, masked of the complainant's values")
    received_at: datetime
    outcome: Literal["done", "refused"]
    decided_at: datetime
    detail: dict[str, Any] = Field(description="For a refusal its `code` and `message`; else what was done")


def _scope(user: Principal, wf: WorkflowDep) -> list[str] | None:
    """The kecamatan whose requests ``user`` may read: admin all (None), the data-protection officer its
    kabupaten's, a Camat their own; others none (403)."""
    if user.is_admin:
        return None
    if user.is_data_protection:
        # every kecamatan of the kabupaten, served or not: the records stay the kabupaten's
        return [k.slug for k in wf.directory.every() if k.kabupaten_slug == user.kabupaten]
    if user.role == "camat" and user.kecamatan:
        return [user.kecamatan]
    raise ApiError(
        403,
        "forbidden",
        "Hanya Camat, pejabat pelindungan data pribadi (PDP) atau admin yang dapat melihat catatan ini.",
    )


@router.get(
    "/v1/privacy/requests",
    response_model=list[PrivacyRequestOut],
    responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody, "description": "`forbidden`"}},
    summary="The record of requests about complainants' personal data and their outcomes, newest first",
)
def requests(
    user: CurrentUser,
    wf: WorkflowDep,
    kind: Annotated[Literal["erasure", "retention", "access", "correction"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[PrivacyRequestOut]:
    scope = _scope(user, wf)
    with wf.uow() as uow:
        rows = uow.requests.list(kecamatan=scope, kind=kind, limit=limit)
    numbers = _register_numbers(wf, {r["complaint_id"] for r in rows})
    return [PrivacyRequestOut.model_validate({**r, "register_number": numbers.get(r["complaint_id"])}) for r in rows]


def _register_numbers(wf: Workflow, ids: set[UUID]) -> dict[UUID, str]:
    """The register numbers ("12/2026") of the complaints ``ids`` that have one: how people name a complaint."""
    if not ids:
        return {}
    query = select(complaints.c.complaint_id, complaints.c.register_number, complaints.c.register_year).where(
        complaints.c.complaint_id.in_(ids), complaints.c.register_number.is_not(None)
    )
    with wf.engine.connect() as conn:
        return {r.complaint_id: f"{r.register_number}/{r.register_year}" for r in conn.execute(query)}


class AccessRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    complaint_id: UUID
    reason: OneLine = Field(
        min_length=1,
        max_length=500,
        examples=["Permintaan salinan data oleh pengadu, KTP diperiksa di loket, surat tanggal 3 Desember 2026"],
        description="The request and how the person's identity was verified (the copy is theirs only)",
    )


class AccessCopyOut(BaseModel):
    """A copy of the complainant's personal data as the complaint holds it (UU 27/2022 PDP, art. 7 and 32)."""

    request_id: UUID
    complaint_id: UUID
    tracking_code: str | None
    kecamatan: str | None
    personal_data_erased: bool
    complainant: dict[str, Any]
    channel: str
    received_at: datetime
    subject: str
    description: str
    attachments: list[dict[str, Any]]
    replies: list[dict[str, Any]]
    status: str
    outcome: str | None
    register_number: str | None
    letter_number: str | None
    corrections: list[dict[str, Any]] = Field(
        default_factory=list, description="The corrections made on their request, oldest first: which fields"
    )
    received_as: dict[str, Any] | None = Field(
        None, description="Once corrected: the record as it was received (the complainant above is as corrected)"
    )
    history: list[dict[str, Any]]
    retention: dict[str, Any] = Field(description="`years_after_closing`, and `kept_until` once the complaint closed")
    copies_elsewhere: list[str] = Field(description="Where else copies are kept and why, as the person is told")


@router.post(
    "/v1/privacy/access-requests",
    status_code=201,
    response_model=AccessCopyOut,
    responses={
        401: {"model": ErrorBody},
        403: {"model": ErrorBody, "description": "Only the Camat or the data-protection officer (`forbidden`)"},
        404: {"model": ErrorBody, "description": "`complaint_not_found`"},
        422: {"model": ErrorBody, "description": "`validation_error`, `reason_required`"},
    },
    summary="A copy of a complainant's personal data for their verified request (Camat or data-protection officer)",
)
def access_request(body: AccessRequestIn, user: CurrentUser, wf: WorkflowDep, access: AccessDep) -> AccessCopyOut:
    if not (user.is_data_protection or user.role == "camat"):
        raise ApiError(
            403,
            "forbidden",
            "Hanya Camat atau pejabat pelindungan data pribadi (PDP) yang dapat memberikan salinan data pribadi.",
        )
    try:
        copy = handlers.access_copy(
            wf,
            body.complaint_id,
            by=user.username,
            reason=body.reason,
            at=datetime.now(UTC),
            kecamatan_of=lambda k: user.can_read_kecamatan(k, _kabupaten_of(wf, k)),
        )
    except handlers.UnknownComplaint:
        raise ApiError(404, "complaint_not_found", "Pengaduan tidak ditemukan.") from None
    except model.DomainError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    out = AccessCopyOut.model_validate(copy)
    access_log.record(  # the copy shows the person's data to its reader: in the complaint's access log too
        wf.engine,
        user=user,
        service="workflow",
        what="privacy.access_copy",
        complaint_ids=[body.complaint_id],
        kecamatan=out.kecamatan or "",
        access=access,
        complainants=[out.complainant],
    )
    return out


class CorrectedValues(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: OneLine | None = Field(None, max_length=100)  # as the citizen form takes them
    nik: str | None = Field(None, max_length=32, description="16 digits")
    phone: str | None = Field(None, max_length=32, description='As people write it; stored in E.164; "" clears it')
    email: str | None = Field(None, max_length=254, description='"" clears it')
    address: OneLine | None = Field(None, max_length=300)


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    complaint_id: UUID
    reason: OneLine = Field(
        min_length=1,
        max_length=500,
        examples=["Pengadu datang ke kantor: nomor HP salah ketik, KTP diperiksa"],
        description="The request and how the person's identity was verified",
    )
    complainant: CorrectedValues = Field(description="Only the fields to correct")


class CorrectionOut(BaseModel):
    request_id: UUID
    complaint_id: UUID
    corrected: list[str]


@router.post(
    "/v1/privacy/corrections",
    status_code=201,
    response_model=CorrectionOut,
    responses={
        401: {"model": ErrorBody},
        403: {"model": ErrorBody, "description": "Only the kecamatan's staff or the data-protection officer"},
        404: {"model": ErrorBody, "description": "`complaint_not_found`"},
        409: {"model": ErrorBody, "description": "`already_erased`, `stale_version`"},
        422: {
            "model": ErrorBody,
            "description": "`validation_error`, `reason_required`, `nothing_to_correct`, `contact_required`, "
            "`nik_*`, `phone_invalid`, `email_invalid`",
        },
    },
    summary="Correct a complainant's data on their request (kecamatan staff or data-protection officer)",
)
def correct(body: CorrectionIn, user: CurrentUser, wf: WorkflowDep) -> CorrectionOut:
    if not (user.is_staff or user.is_data_protection):
        raise ApiError(
            403,
            "forbidden",
            "Hanya petugas kecamatan atau pejabat pelindungan data pribadi (PDP) yang dapat mengoreksi data pengadu.",
        )
    changes = body.complainant.model_dump(exclude_unset=True)
    try:
        request_id, corrected = handlers.correct_personal_data(
            wf,
            body.complaint_id,
            changes,
            by=user.username,
            role=user.role,
            reason=body.reason,
            at=datetime.now(UTC),
            kecamatan_of=lambda k: user.can_read_kecamatan(k, _kabupaten_of(wf, k)),
            # a pelapor rahasia's data: the Kasi/Kasubag, the Camat and the data-protection officer
            sees=lambda confidential: user.is_data_protection or masking.sees_personal_data(user, confidential),
        )
    except handlers.UnknownComplaint:
        raise ApiError(404, "complaint_not_found", "Pengaduan tidak ditemukan.") from None
    except model.DomainError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    return CorrectionOut(request_id=request_id, complaint_id=body.complaint_id, corrected=corrected)
