"""Open311 GeoReport v2, the write: ``POST /open311/v2/requests`` (also with a ``.json`` suffix; ``.xml`` is
refused). A form-encoded service request becomes a complaint through intake's own ``submit_complaint``
(channel ``open311``): the submission and its outbox row in one transaction, as for any complaint. Answers
201 ``[{service_request_id, service_notice, account_id}]`` where the id is the tracking code (200 with the
first answer for a retry with the same ``Idempotency-Key``). The reads (``GET /open311/v2/...``) are the
dashboard's (services/dashboard/entrypoints/open311.py), from its projection of the event store: they find the
request once the workflow has recorded it. The gateway sends each method to its service.

Errors are the spec's ``[{"code": <HTTP status>, "description": "..."}]`` (Bahasa Indonesia): 400 bad input
(one entry per problem; also a body that is not form-encoded, a bad ``X-Correlation-Id`` or
``Idempotency-Key``), 403 ``api_key`` missing or wrong, 404 unknown ``jurisdiction_id``, 409 an
``Idempotency-Key`` (optional header) reused for another request.

``PENGADUAN_OPEN311_API_KEYS`` (``IntakeSettings.open311_api_keys``, comma-separated; default none): when
set, a POST needs a listed ``api_key`` (form field or query).
"""

from __future__ import annotations

import hmac
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from services.intake.config import IntakeSettings
from services.intake.domain import open311 as o
from services.intake.domain.commands import SubmitComplaint
from services.intake.entrypoints.deps import get_intake
from services.intake.handlers import submissions
from shared.contracts.intake import Complainant
from shared.contracts.open311 import Problem, Problems, georeport_errors
from shared.ratelimit import RATE_LIMITED_DOC, per_address
from shared.tenancy import UnknownKecamatan

router = APIRouter(prefix="/open311/v2", tags=["open311"])

SERVICE_NOTICE = (
    "Pengaduan diterima. Kode pelacakan ini rahasia milik pengadu: dengan kode ini status dapat diikuti dan "
    "tanda terima serta surat tanggapan dapat diunduh. Tanggapan paling lambat 12 hari kerja; layanan ini "
    "tidak dipungut biaya."
)


class PostedRequestOut(BaseModel):
    service_request_id: str
    service_notice: str
    account_id: str | None = None


def _problem(status: int, description: str) -> JSONResponse:
    return _problems_response(Problems([Problem(status, description)]))


def _problems_response(problems: Problems) -> JSONResponse:
    return JSONResponse(problems.as_georeport(), status_code=problems.status)


def api_keys(settings: IntakeSettings) -> list[str]:
    return [key.strip() for key in settings.open311_api_keys.split(",") if key.strip()]


def _key_accepted(given: str, keys: list[str]) -> bool:
    accepted = False
    for key in keys:  # every key compared, in constant time each
        accepted |= hmac.compare_digest(given.encode(), key.encode())
    return accepted


@router.post(
    "/requests",
    status_code=201,
    response_model=list[PostedRequestOut],
    responses={**georeport_errors(400, 403, 404, 409), **RATE_LIMITED_DOC},
    dependencies=[Depends(per_address("submissions"))],
    summary="Open311: submit a complaint (form-encoded)",
    description="Form fields: `jurisdiction_id` (kecamatan slug), `service_code`, `description` (10-4000 "
    "characters), `email` and/or `phone` (one is required: the response is sent there), `first_name`, "
    "`last_name`, `address_string`, `lat` + `long`, `media_url` (all optional), `api_key` (when keys are "
    "configured). Header `Idempotency-Key` (optional) makes a retry answer the first result.",
)
@router.post(
    "/requests.json",
    status_code=201,
    response_model=list[PostedRequestOut],
    include_in_schema=False,
    dependencies=[Depends(per_address("submissions"))],
)
async def post_request(
    request: Request,
    idempotency_key: Annotated[str | None, Header(description="Optional; at most 190 characters")] = None,
    x_correlation_id: Annotated[str | None, Header(description="Optional UUID")] = None,
) -> Any:
    if idempotency_key is not None and not 0 < len(idempotency_key) <= 190:
        return _problem(400, "Idempotency-Key harus 1 sampai 190 karakter.")
    try:
        correlation_id = uuid.UUID(x_correlation_id) if x_correlation_id else uuid.uuid4()
    except ValueError:
        return _problem(400, "X-Correlation-Id harus berupa UUID.")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return _problem(400, "Kirim permintaan sebagai application/x-www-form-urlencoded (atau multipart/form-data).")
    form = {k: v for k, v in (await request.form()).multi_items() if isinstance(v, str)}
    keys = api_keys(request.app.state.settings)
    if keys:
        given = form.get("api_key") or request.query_params.get("api_key") or ""
        if not _key_accepted(given, keys):
            return _problem(403, "api_key tidak ada atau tidak sah.")
    try:
        new = o.read_new_request(form)
    except Problems as exc:
        return _problems_response(exc)
    command = SubmitComplaint(
        kecamatan=new.kecamatan,
        channel=o.CHANNEL,
        complainant=Complainant.model_construct(name=new.name, email=new.email, phone=new.phone),
        subject=new.subject,
        description=new.description,
        idempotency_key=f"open311:{idempotency_key}" if idempotency_key else None,
        correlation_id=correlation_id,
    )
    try:
        accepted = await run_in_threadpool(submissions.submit_complaint, get_intake(request), command)
    except UnknownKecamatan:
        return _problem(404, "jurisdiction_id tidak dikenal: tidak ada kecamatan dengan slug itu di layanan ini.")
    except submissions.IdempotencyKeyReused:
        return _problem(409, "Idempotency-Key ini sudah dipakai untuk permintaan yang berbeda.")
    return JSONResponse(
        [PostedRequestOut(service_request_id=accepted.tracking_code, service_notice=SERVICE_NOTICE).model_dump()],
        status_code=200 if accepted.replayed else 201,
    )


@router.post("/requests.xml", include_in_schema=False)
def xml_refused() -> JSONResponse:
    return _problem(400, "Hanya format JSON yang didukung (gunakan akhiran .json).")
