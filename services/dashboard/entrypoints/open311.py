"""Open311 GeoReport v2 (JSON only; every path also answers with a ``.json`` suffix, ``.xml`` is refused):

- ``GET  /open311/v2/services``: the complaint categories (``services.json`` of the spec);
- ``POST /open311/v2/requests``: a complaint, form-encoded, through intake's own ``submit_complaint``
  (channel ``open311``); answers 201 ``[{service_request_id, service_notice, account_id}]`` where the id is
  the tracking code (200 with the first answer for a retry with the same ``Idempotency-Key``);
- ``GET  /open311/v2/requests``: a search (``service_request_id``, ``status``, ``start_date``/``end_date``,
  ``jurisdiction_id``, ``service_code``), newest first, at most 1000, within 90 days;
- ``GET  /open311/v2/requests/{id}``: one request, by tracking code or public id.

Errors are the spec's ``[{"code": <HTTP status>, "description": "..."}]`` (Bahasa Indonesia): 400 bad
input (one entry per problem; also a body that is not form-encoded, a bad ``X-Correlation-Id``), 403 ``api_key`` missing or wrong, 404 unknown ``jurisdiction_id`` or request, 409 an
``Idempotency-Key`` (optional header) reused for another request. No login: nothing personal is shown
(see services/dashboard/georeport.py for what is, and why tracking codes are never listed).

What the including app must provide on ``app.state``:

- ``settings``: the project's settings. Optional attribute ``open311_api_keys`` (a comma-separated string
  or a list; default none): when set, ``POST`` requires a matching ``api_key`` (form field or query);
- ``engine``: a SQLAlchemy engine on the project's PostgreSQL (for the searches);
- ``intake`` (optional): intake's container (``services.intake.bootstrap.Intake``). Without it, one is
  built on the first ``POST`` by ``services.intake.bootstrap.bootstrap`` from ``settings`` and kept as
  ``app.state.open311_intake`` (its own small connection pool; it writes the submission and its outbox
  row, and intake's relay publishes them as for any complaint).
"""
from __future__ import annotations

import hmac
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, SecretStr
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from services.dashboard import georeport as g
from services.dashboard.adapters.event_feed import kecamatan_exists
from services.dashboard.adapters.service_requests import find_service_requests
from services.intake import handlers as intake_handlers
from services.intake.bootstrap import Intake
from services.intake.domain.commands import SubmitComplaint
from shared.contracts.intake import Complainant
from shared.ratelimit import RATE_LIMITED_DOC, per_address

router = APIRouter(prefix="/open311/v2", tags=["open311"])


class GeoReportError(BaseModel):
    code: int
    description: str


class ServiceOut(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class PostedRequestOut(BaseModel):
    service_request_id: str
    service_notice: str
    account_id: str | None = None


class ServiceRequestOut(BaseModel):
    service_request_id: str
    status: str
    status_notes: str | None
    service_name: str
    service_code: str
    description: str
    agency_responsible: str
    service_notice: str | None = None
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None
    address: str
    jurisdiction_id: str


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": list[GeoReportError]} for code in codes}


def _problem(status: int, description: str) -> JSONResponse:
    return problems_response(g.Problems([g.Problem(status, description)]))


def problems_response(problems: g.Problems) -> JSONResponse:
    return JSONResponse([p.as_georeport() for p in problems.problems], status_code=problems.status)


def _json_only(path: str, **kwargs: Any) -> Callable:
    """Registers ``path`` and ``path.json`` (the spec's format suffix) for one GET handler."""

    def register(fn: Callable) -> Callable:
        router.get(path, **kwargs)(fn)
        router.get(f"{path}.json", include_in_schema=False, **kwargs)(fn)
        return fn

    return register


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def _unknown_jurisdiction() -> JSONResponse:
    return _problem(404, "jurisdiction_id tidak dikenal: tidak ada kecamatan dengan slug itu di layanan ini.")


# --- services -------------------------------------------------------------------------------------


@_json_only(
    "/services", response_model=list[ServiceOut], responses=_errors(404),
    summary="Open311: complaint categories as services",
)
def services(request: Request, jurisdiction_id: str | None = None) -> Any:
    if jurisdiction_id and not kecamatan_exists(_engine(request), jurisdiction_id.strip().lower()):
        return _unknown_jurisdiction()
    return [s.as_georeport() for s in g.SERVICES]


# --- requests -------------------------------------------------------------------------------------


def api_keys(settings: Any) -> list[str]:
    raw = getattr(settings, "open311_api_keys", None)
    if isinstance(raw, SecretStr):
        raw = raw.get_secret_value()
    if not raw:
        return []
    if isinstance(raw, str):
        items = raw.split(",")
    else:
        items = [i.get_secret_value() if isinstance(i, SecretStr) else str(i) for i in raw]
    return [i.strip() for i in items if i.strip()]


def _key_accepted(given: str, keys: list[str]) -> bool:
    accepted = False
    for key in keys:  # every key compared, in constant time each
        accepted |= hmac.compare_digest(given.encode(), key.encode())
    return accepted


_BUILDING = threading.Lock()


def _intake(request: Request) -> Intake:
    state = request.app.state
    intake = getattr(state, "intake", None) or getattr(state, "open311_intake", None)
    if intake is not None:
        return intake
    with _BUILDING:  # two first requests at once build one container
        intake = getattr(state, "open311_intake", None)
        if intake is None:
            from services.intake.bootstrap import bootstrap
            from services.intake.config import IntakeSettings

            intake = state.open311_intake = bootstrap(IntakeSettings(**state.settings.model_dump()))
    return intake


SERVICE_NOTICE = (
    "Pengaduan diterima. Kode pelacakan ini rahasia milik pengadu: dengan kode ini status dapat diikuti dan "
    "tanda terima serta surat tanggapan dapat diunduh. Tanggapan paling lambat 12 hari kerja; layanan ini "
    "tidak dipungut biaya."
)


@router.post(
    "/requests", status_code=201, response_model=list[PostedRequestOut],
    responses={**_errors(400, 403, 404, 409), **RATE_LIMITED_DOC}, dependencies=[Depends(per_address("submissions"))],
    summary="Open311: submit a complaint (form-encoded)",
    description="Form fields: `jurisdiction_id` (kecamatan slug), `service_code`, `description` (10-4000 "
    "characters), `email` and/or `phone` (one is required: the response is sent there), `first_name`, "
    "`last_name`, `address_string`, `lat` + `long`, `media_url` (all optional), `api_key` (when keys are "
    "configured). Header `Idempotency-Key` (optional) makes a retry answer the first result.",
)
@router.post("/requests.json", status_code=201, response_model=list[PostedRequestOut], include_in_schema=False,
             dependencies=[Depends(per_address("submissions"))])
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
        new = g.read_new_request(form)
    except g.Problems as exc:
        return problems_response(exc)
    command = SubmitComplaint(
        kecamatan=new.kecamatan,
        channel=g.CHANNEL,
        complainant=Complainant.model_construct(name=new.name, email=new.email, phone=new.phone),
        subject=new.subject,
        description=new.description,
        idempotency_key=f"open311:{idempotency_key}" if idempotency_key else None,
        correlation_id=correlation_id,
    )
    intake = await run_in_threadpool(_intake, request)
    try:
        accepted = await run_in_threadpool(intake_handlers.submit_complaint, intake, command)
    except intake_handlers.UnknownKecamatan:
        return _unknown_jurisdiction()
    except intake_handlers.IdempotencyKeyReused:
        return _problem(409, "Idempotency-Key ini sudah dipakai untuk permintaan yang berbeda.")
    return JSONResponse(
        [PostedRequestOut(service_request_id=accepted.tracking_code, service_notice=SERVICE_NOTICE).model_dump()],
        status_code=200 if accepted.replayed else 201,
    )


@_json_only(
    "/requests", response_model=list[ServiceRequestOut], responses=_errors(400, 404),
    summary="Open311: search requests (public, no personal data)",
    description="Filters: `service_request_id` (comma list of public ids or tracking codes; the other filters "
    "are then ignored), `status` (open, closed), `start_date`/`end_date` (ISO 8601; default and widest: 90 "
    "days), `jurisdiction_id`, `service_code` (comma list). Newest first, at most 1000. A request is listed "
    "under its public id (the complaint id), never its tracking code.",
)
def search_requests(request: Request) -> Any:
    try:
        query = g.read_query(request.query_params, datetime.now(UTC))
    except g.Problems as exc:
        return problems_response(exc)
    engine = _engine(request)
    if query.kecamatan is not None and not kecamatan_exists(engine, query.kecamatan):
        return _unknown_jurisdiction()
    return [g.as_georeport(row, _shown_id(row, query)) for row in find_service_requests(engine, query)]


def _shown_id(row: g.RequestRow, query: g.RequestQuery) -> str:
    """The tracking code only to one who asked by it; the public id otherwise."""
    return row.tracking_code if row.tracking_code in query.tracking_codes else str(row.complaint_id)


@router.get(
    "/requests/{service_request_id}", response_model=list[ServiceRequestOut], responses=_errors(400, 404),
    summary="Open311: one request, by tracking code or public id (`.json` suffix accepted)",
)
def get_request(request: Request, service_request_id: str) -> Any:
    if service_request_id.endswith(".xml"):
        return _xml_refused()
    codes, ids = g.read_ids(service_request_id.removesuffix(".json"))
    rows = []
    if len(codes) + len(ids) == 1:
        query = g.RequestQuery(tracking_codes=codes, complaint_ids=ids, by_id=True, limit=1)
        rows = find_service_requests(_engine(request), query)
    if not rows:
        return _problem(404, "Permintaan layanan tidak ditemukan. Periksa kembali kode atau id-nya.")
    return [g.as_georeport(rows[0], _shown_id(rows[0], query))]


def _xml_refused() -> JSONResponse:
    return _problem(400, "Hanya format JSON yang didukung (gunakan akhiran .json).")


@router.get("/services.xml", include_in_schema=False)
@router.get("/requests.xml", include_in_schema=False)
@router.post("/requests.xml", include_in_schema=False)
def xml_refused() -> JSONResponse:
    return _xml_refused()
