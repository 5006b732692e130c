"""Open311 GeoReport v2, the write: ``POST /open311/v2/requests.json`` or ``.xml`` (without a suffix: JSON). A
form-encoded service request becomes a complaint through intake's own ``submit_complaint`` (channel ``open311``):
the submission and its outbox row in one transaction, as for any complaint. Answers 201
``[{service_request_id, token, service_notice, account_id}]`` (in XML ``service_requests/request``):
``service_request_id`` is the request's one id (the complaint id), the id every read shows; ``token`` is the
tracking code, for the poster alone (it opens the receipt and the response letter). A retry with the same
``Idempotency-Key`` gets 200 with the first answer. The reads (``GET /open311/...``) are the dashboard's
(services/dashboard/entrypoints/open311.py), from its projection of the event store: they find the request once
the workflow has recorded it. The gateway sends each method to its service. docs/adr/0018.

A request that names nobody (no name, e-mail or phone) is an anonymous report, accepted where the kecamatan
accepts anonymous complaints (setting ``anonymous_complaints``), else a 400.

``service_code`` is a code of the category list of the kecamatan's kabupaten (``GET
/open311/v2/services.json?jurisdiction_id=<kecamatan>``), stored as the complaint's category.

Errors are the spec's ``[{"code": <HTTP status>, "description": "..."}]`` (in XML ``errors/error``; Bahasa
Indonesia): 400 bad input (one entry per problem; a ``service_code`` not in the kabupaten's list; also a body that
is not form-encoded or cannot be read, a bad ``X-Correlation-Id`` or ``Idempotency-Key``, an anonymous report where
they are not accepted), 403 ``api_key`` missing or wrong, 404 unknown ``jurisdiction_id``, 409 an
``Idempotency-Key`` (optional header) reused for another request, 413 a body too large. On the ``.xml`` path an
error raised before the route answers (the rate limit's 429, an outage's 503) is the spec's XML too
(shared/open311_http.py).

``PENGADUAN_OPEN311_API_KEYS`` (``IntakeSettings.open311_api_keys``, comma-separated; default none): when
set, a POST needs a listed ``api_key`` (form field or query).
"""

from __future__ import annotations

import hmac
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.intake.config import IntakeSettings
from services.intake.domain import open311 as o
from services.intake.domain.commands import SubmitComplaint
from services.intake.entrypoints.deps import get_intake
from services.intake.handlers import submissions
from services.intake.handlers.context import Context
from shared.contracts.categories import Category
from shared.contracts.intake import Complainant, anonymous_complainant
from shared.contracts.open311 import (
    MEDIA_TYPES,
    UNKNOWN_JURISDICTION,
    XML_CONTENT,
    Problem,
    Problems,
    format_of,
    georeport_errors,
    georeport_xml,
    served_codes,
)
from shared.open311_http import GeoReportRoute
from shared.ratelimit import RATE_LIMITED_DOC, per_address
from shared.tenancy import UnknownKecamatan

router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=GeoReportRoute)

SERVICE_NOTICE = (
    "Pengaduan diterima. token adalah kode pelacakan, rahasia milik pengadu: dengan kode ini status dapat diikuti "
    "dan tanda terima serta surat tanggapan dapat diunduh. service_request_id adalah id permintaan ini di "
    "Open311. Tanggapan paling lambat 12 hari kerja; layanan ini tidak dipungut biaya."
)


class PostedRequestOut(BaseModel):
    service_request_id: str = Field(description="The request's id (the complaint id), as every read shows it")
    token: str = Field(
        description="The tracking code: for the poster alone (it opens the receipt and the response letter); "
        "`GET /open311/v2/tokens/{token}` answers the id"
    )
    service_notice: str
    account_id: str | None = None


def _field(description: str, kind: str = "string") -> dict[str, str]:
    return {"type": kind, "description": description}


# the form of a POST, for the OpenAPI only: the handler reads the form itself, to answer the spec's error list
# (in the asked format) rather than FastAPI's 422
FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "ServiceRequestForm",
    "required": ["jurisdiction_id", "service_code", "description"],
    "properties": {
        "jurisdiction_id": _field("The kecamatan's slug (e.g. `pegantenan`)"),
        "service_code": _field(
            "A service code of `GET /open311/v2/services.{format}?jurisdiction_id=…` (the kabupaten's categories)"
        ),
        "description": _field("What happened, 10-4000 characters"),
        "first_name": _field("Optional"),
        "last_name": _field("Optional; first and last name together at most 100 characters"),
        "email": _field("Where the response goes (this or `phone`, unless the report is anonymous)"),
        "phone": _field("Where the response goes (this or `email`, unless the report is anonymous)"),
        "address_string": _field("Where, at most 300 characters (passed on to staff)"),
        "lat": _field("Decimal degrees, -90..90, with `long` (passed on to staff)", "number"),
        "long": _field("Decimal degrees, -180..180, with `lat`", "number"),
        "media_url": _field("An http(s) link to a photo (passed on to staff, not fetched)"),
        "api_key": _field("Required when the deployment lists keys (or as a query parameter)"),
    },
}
REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "description": "A service request as GeoReport v2 posts it. With no name, e-mail or phone it is an "
        "anonymous report: accepted only where the kecamatan accepts anonymous complaints, else a 400.",
        "content": {
            "application/x-www-form-urlencoded": {"schema": FORM_SCHEMA},
            "multipart/form-data": {"schema": FORM_SCHEMA},
        },
    }
}


def _answer(fmt: str, document: list[dict[str, Any]], status: int) -> Response:
    if fmt == "xml":
        root = "errors" if status >= 400 else "service_requests"
        return Response(georeport_xml(root, document), status_code=status, media_type=MEDIA_TYPES["xml"])
    return JSONResponse(document, status_code=status)


def _problem(fmt: str, status: int, description: str) -> Response:
    return _problems_response(fmt, Problems([Problem(status, description)]))


def _problems_response(fmt: str, problems: Problems) -> Response:
    return _answer(fmt, problems.as_georeport(), problems.status)


def _lists(intake: Context, slug: str) -> tuple[tuple[Category, ...] | None, frozenset[str]]:
    """The category list of the kecamatan's kabupaten (None when the kecamatan is not known here) and every code of
    the lists served here."""
    kecamatan = intake.directory.get(slug) if slug else None
    served = served_codes(k.categories for k in intake.directory.active())
    return (kecamatan.categories if kecamatan else None), served


def api_keys(settings: IntakeSettings) -> list[str]:
    return [key.strip() for key in settings.open311_api_keys.split(",") if key.strip()]


def _key_accepted(given: str, keys: list[str]) -> bool:
    accepted = False
    for key in keys:  # every key compared, in constant time each
        accepted |= hmac.compare_digest(given.encode(), key.encode())
    return accepted


async def post_request(
    request: Request,
    idempotency_key: Annotated[str | None, Header(description="Optional; at most 190 characters")] = None,
    x_correlation_id: Annotated[str | None, Header(description="Optional UUID")] = None,
) -> Any:
    fmt = format_of(request.url.path) or "json"
    if idempotency_key is not None and not 0 < len(idempotency_key) <= 190:
        return _problem(fmt, 400, "Idempotency-Key harus 1 sampai 190 karakter.")
    try:
        correlation_id = uuid.UUID(x_correlation_id) if x_correlation_id else uuid.uuid4()
    except ValueError:
        return _problem(fmt, 400, "X-Correlation-Id harus berupa UUID.")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return _problem(
            fmt, 400, "Kirim permintaan sebagai application/x-www-form-urlencoded (atau multipart/form-data)."
        )
    try:
        form = {k: v for k, v in (await request.form()).multi_items() if isinstance(v, str)}
    except StarletteHTTPException as exc:  # a multipart body Starlette cannot read (400), or too large (413)
        if exc.status_code == 413:
            return _problem(fmt, 413, "Isi permintaan terlalu besar.")
        return _problem(
            fmt,
            400,
            "Isi permintaan tidak dapat dibaca sebagai formulir (multipart/form-data rusak atau tanpa boundary).",
        )
    keys = api_keys(request.app.state.settings)
    if keys:
        given = form.get("api_key") or request.query_params.get("api_key") or ""
        if not _key_accepted(given, keys):
            return _problem(fmt, 403, "api_key tidak ada atau tidak sah.")
    intake = get_intake(request)
    listed, served = await run_in_threadpool(_lists, intake, o.jurisdiction_of(form))
    try:
        new = o.read_new_request(form, listed, served)
    except Problems as exc:
        return _problems_response(fmt, exc)
    complainant = (
        anonymous_complainant()
        if new.anonymous
        else Complainant.model_construct(name=new.name, email=new.email, phone=new.phone)
    )
    command = SubmitComplaint(
        kecamatan=new.kecamatan,
        channel=o.CHANNEL,
        complainant=complainant,
        subject=new.subject,
        description=new.description,
        idempotency_key=f"open311:{idempotency_key}" if idempotency_key else None,
        correlation_id=correlation_id,
        category=new.category.code,  # the service is the complaint's category (issue #18 item 2)
    )
    try:
        accepted = await run_in_threadpool(submissions.submit_complaint, intake, command)
    except UnknownKecamatan:
        return _problem(fmt, 404, UNKNOWN_JURISDICTION)
    except submissions.AnonymousNotAccepted:
        return _problem(
            fmt,
            400,
            "Kecamatan ini tidak menerima pengaduan tanpa identitas: isi first_name, last_name dan email atau "
            "phone agar identitas dapat diverifikasi dan tanggapan dapat dikirim.",
        )
    except submissions.IdempotencyKeyReused:
        return _problem(fmt, 409, "Idempotency-Key ini sudah dipakai untuk permintaan yang berbeda.")
    except submissions.UnknownCategory:  # the kabupaten's list changed since it was read above
        return _problem(fmt, 400, f"service_code {new.category.code!r} {o.NOT_LISTED}")
    posted = PostedRequestOut(
        service_request_id=str(accepted.complaint_id), token=accepted.tracking_code, service_notice=SERVICE_NOTICE
    )
    return _answer(fmt, [posted.model_dump()], 200 if accepted.replayed else 201)


# The spec's two paths, documented each (the gateway's table sends exactly these to intake, so the docs name them
# rather than a {format} template), and the suffix-less one of ADR 0011 (JSON)
for suffix, answered in ((".json", "JSON"), (".xml", "the spec's XML")):
    router.post(
        f"/requests{suffix}",
        status_code=201,
        response_model=list[PostedRequestOut],
        responses={201: {"content": XML_CONTENT}, **georeport_errors(400, 403, 404, 409), **RATE_LIMITED_DOC},
        dependencies=[Depends(per_address("submissions"))],
        openapi_extra=REQUEST_BODY,
        summary=f"Open311: submit a complaint (form-encoded), answered in {answered}",
        description="Form fields: `jurisdiction_id` (kecamatan slug), `service_code`, `description` (10-4000 "
        "characters), `email` and/or `phone` (the response is sent there), `first_name`, `last_name`, "
        "`address_string`, `lat` + `long`, `media_url` (all optional), `api_key` (when keys are configured). With "
        "no name, e-mail or phone: an anonymous report, where the kecamatan accepts them. Header `Idempotency-Key` "
        "(optional) makes a retry answer the first result. The answer's `service_request_id` is the id the reads "
        "show; `token` is the tracking code, for the poster alone.",
    )(post_request)
router.post(
    "/requests",
    status_code=201,
    response_model=list[PostedRequestOut],
    include_in_schema=False,
    dependencies=[Depends(per_address("submissions"))],
)(post_request)
