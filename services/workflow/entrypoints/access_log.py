"""``GET /v1/complaints/{id}/access-log``: who looked at a complainant's personal data (UU 27/2022 PDP; issue #17
item 4; docs/adr/0017 "Access log"). Every service writes the rows (``shared.access_log``); here they are read.

Who may read it: the Camat of the complaint's kecamatan (who answers for the office's handling of it), the
kabupaten's data-protection officer (``pdp``, of the complaint's kabupaten: they decide the complainant's requests)
and admins. Anyone else who may read the complaint gets 403 ``forbidden``; whoever may not read the complaint at all
(another kecamatan, another kabupaten) 404 ``complaint_not_found``, as for the complaint itself. The log outlives an
erasure of the complainant's data: it holds no personal value of theirs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from services.workflow.adapters.tables import complaints
from services.workflow.entrypoints.complaints import WorkflowDep
from shared import access_log
from shared.auth import CurrentUser, Principal
from shared.http import ApiError, ErrorBody

router = APIRouter()

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_ID = 2**63 - 1  # a bigserial


class AccessEntryOut(BaseModel):
    id: int = Field(description="The entry's number; pass the last one as `before` for older entries")
    at: datetime
    user: str | None = Field(description="The reader's username; null for whoever held the tracking code")
    role: str = Field(description="The reader's role then, or `public` (the tracking code's holder)")
    service: str = Field(examples=["workflow"])
    what: str = Field(
        examples=["complaint.detail"],
        description="What was looked at: "
        + "; ".join(f"`{code}`: {meaning}" for code, meaning in access_log.WHAT.items()),
    )
    complaints: int = Field(description="How many complaints the view showed (an export: all of its rows)")
    kecamatan: str
    reason: str | None = Field(description="The reason the reader gave (`X-Access-Reason`), when they gave one")
    correlation_id: str | None = None


class AccessLogOut(BaseModel):
    complaint_id: UUID
    items: list[AccessEntryOut]
    next_before: int | None = Field(description="`before` for the next, older page; null when there is none")


def may_read_access_log(user: Principal, kecamatan: str, kabupaten: str | None) -> bool:
    """The Camat of the kecamatan, the data-protection officer of its kabupaten, an admin."""
    if user.is_admin:
        return True
    if user.role == "camat":
        return user.kecamatan == kecamatan
    if user.role == "pdp":
        return kabupaten is not None and user.kabupaten == kabupaten
    return False


@router.get(
    "/v1/complaints/{complaint_id}/access-log",
    response_model=AccessLogOut,
    responses={
        401: {"model": ErrorBody},
        403: {"model": ErrorBody, "description": "Only the Camat, the kabupaten's data-protection officer, admins"},
        404: {"model": ErrorBody, "description": "`complaint_not_found` (or not yours to read)"},
        422: {"model": ErrorBody, "description": "`validation_error`: `limit` or `before` out of range"},
    },
    summary="Who looked at the complainant's personal data, newest first (Camat, data-protection officer, admin)",
    description="Every read that showed the complaint's personal data: the complaint by its staff (API or web "
    "page), the Buku Rekap and the overdue list that held it, its documents and scans downloaded, the receipt and "
    "letter downloaded with the tracking code. Paged: `limit` entries, then `before=next_before`.",
)
def access_log_of(
    complaint_id: UUID,
    user: CurrentUser,
    wf: WorkflowDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Entries older than this id")] = None,
) -> AccessLogOut:
    with wf.engine.connect() as conn:
        kecamatan = conn.execute(
            select(complaints.c.kecamatan).where(complaints.c.complaint_id == complaint_id)
        ).scalar_one_or_none()
        found_in = wf.directory.get(kecamatan) if kecamatan is not None else None
        kabupaten = found_in.kabupaten_slug if found_in is not None else None
        if kecamatan is None or not user.can_read_kecamatan(kecamatan, kabupaten):
            raise ApiError(404, "complaint_not_found", "Pengaduan tidak ditemukan.")
        if not may_read_access_log(user, kecamatan, kabupaten):
            raise ApiError(
                403,
                "forbidden",
                "Catatan akses data pribadi hanya dapat dibaca oleh Camat, Pejabat Pelindungan Data Pribadi "
                "kabupaten, dan admin.",
            )
        found = access_log.entries(conn, complaint_id, limit=limit + 1, before=before)
    page = found[:limit]
    return AccessLogOut(
        complaint_id=complaint_id,
        items=[
            AccessEntryOut(
                id=e.id,
                at=e.at,
                user=e.user_id,
                role=e.role,
                service=e.service,
                what=e.what,
                complaints=e.complaints,
                kecamatan=e.kecamatan,
                reason=e.reason,
                correlation_id=e.correlation_id,
            )
            for e in page
        ],
        next_before=page[-1].id if len(found) > limit else None,
    )
