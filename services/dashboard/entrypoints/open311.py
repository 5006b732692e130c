"""Open311 GeoReport v2, the reads, each in JSON or the spec's XML by the path's suffix (``.json``, ``.xml``;
without one, JSON):

- ``GET  /open311/discovery.{json|xml}``: the spec's service discovery document (this endpoint, its formats);
- ``GET  /open311/v2/services``: the complaint categories of the kabupaten of ``jurisdiction_id`` (a kecamatan's
  slug; without one, the list every kecamatan served here shares, else a 400 naming the jurisdictions);
- ``GET  /open311/v2/services/{code}``: a category's definition (no attributes: ``metadata`` is false);
- ``GET  /open311/v2/requests``: a search (``service_request_id``, ``status``, ``start_date``/``end_date``,
  ``jurisdiction_id``, ``service_code``), newest first, at most 1000, within 90 days;
- ``GET  /open311/v2/requests/{id}``: one request, by its id (the complaint id) or the tracking code;
- ``GET  /open311/v2/tokens/{token}``: the id of the request a token (the tracking code) belongs to.

``POST /open311/v2/requests`` (a complaint) is intake's (services/intake/entrypoints/open311.py); the gateway
sends each method to its service. The reads come from the dashboard's own read model
(``dashboard.service_requests``, fed from the event store): a posted request is found once the workflow has
recorded it (moments later; while the broker is away, when it is back).

Errors are the spec's ``[{"code": <HTTP status>, "description": "..."}]`` (in XML ``errors/error``; Bahasa
Indonesia): 400 bad input (one entry per problem; no ``jurisdiction_id`` where the kabupaten's lists differ), 404
unknown ``jurisdiction_id``, service, request, token, format or path under ``/open311/``. On an ``.xml`` path an
error raised outside the route's own answer (an outage's 503, a 405) is the spec's XML too (shared/open311_http.py).
No login: nothing personal is shown (see services/dashboard/domain/open311.py for what is, and why a request is
always shown under its complaint id, never its tracking code).

What the including app must provide on ``app.state``: ``engine``, a SQLAlchemy engine on the project's
PostgreSQL (for the searches), and ``settings`` (install_auth; the discovery document's base URL).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import Engine

from services.dashboard.adapters.jurisdictions import jurisdictions
from services.dashboard.adapters.service_requests import find_service_requests
from services.dashboard.domain import open311 as g
from shared.contracts.open311 import (
    FORMAT_PARAMETER,
    FORMATS,
    MEDIA_TYPES,
    XML_CONTENT,
    Jurisdiction,
    Problem,
    Problems,
    catalogue,
    defined,
    format_of,
    georeport_errors,
    georeport_xml,
    service,
)
from shared.open311_http import GeoReportRoute

router = APIRouter(prefix="/open311", tags=["open311"], route_class=GeoReportRoute)


class ServiceOut(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class ServiceDefinitionOut(BaseModel):
    service_code: str
    attributes: list[dict[str, Any]]


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


class TokenOut(BaseModel):
    service_request_id: str
    token: str


class EndpointOut(BaseModel):
    specification: str
    url: str
    changeset: str
    type: str
    formats: list[str]


class DiscoveryOut(BaseModel):
    changeset: str
    contact: str
    key_service: str
    endpoints: list[EndpointOut]


# --- answers in either format ------------------------------------------------------------------------


def answer(fmt: str, root: str, document: list[Any] | dict[str, Any], status: int = 200) -> Response:
    """``document`` as JSON, or as the spec's XML under ``root``."""
    if fmt == "xml":
        return Response(georeport_xml(root, document), status_code=status, media_type=MEDIA_TYPES["xml"])
    return JSONResponse(document, status_code=status)


def problems_response(problems: Problems, fmt: str = "json") -> Response:
    return answer(fmt, "errors", problems.as_georeport(), problems.status)


def _problem(fmt: str, status: int, description: str) -> Response:
    return problems_response(Problems([Problem(status, description)]), fmt)


def _format(request: Request) -> str | None:
    """The format the path asked for (its ``{format}``), ``json`` without a suffix, None for an unknown one."""
    fmt = request.path_params.get("format", "json")
    return fmt if fmt in FORMATS else None


def _unknown_format() -> Response:
    return _problem("json", 404, "Format tidak dikenal: gunakan akhiran .json atau .xml.")


def _georeport(path: str, **kwargs: Any) -> Callable:
    """Registers one GET handler at ``path.{format}`` (documented; the spec's paths) and at ``path`` (JSON).
    The handler reads the format with :func:`_format`."""

    def register(fn: Callable) -> Callable:
        router.get(f"{path}.{{format}}", openapi_extra={"parameters": [FORMAT_PARAMETER]}, **kwargs)(fn)
        router.get(path, include_in_schema=False, **kwargs)(fn)
        return fn

    return register


def _responses(*errors: int) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": XML_CONTENT}, **georeport_errors(*errors)}


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def _shown(request: Request, rows: list[g.RequestRow]) -> list[dict[str, Any]]:
    """The rows as the spec's requests, each under its category's name in its kabupaten's list."""
    lists = {j.slug: j.categories for j in _jurisdictions(request)} if rows else {}
    return [g.as_georeport(row, lists.get(row.kecamatan, ())) for row in rows]


def _jurisdictions(request: Request) -> list[Jurisdiction]:
    return jurisdictions(_engine(request))


# --- discovery -----------------------------------------------------------------------------------------


@router.get(
    "/discovery.{format}",
    response_model=DiscoveryOut,
    responses=_responses(404),
    openapi_extra={"parameters": [FORMAT_PARAMETER]},
    summary="Open311: service discovery (this GeoReport v2 endpoint and its formats)",
)
def discovery(request: Request) -> Response:
    fmt = _format(request)
    if fmt is None:
        return _unknown_format()
    settings = request.app.state.settings
    document = g.discovery(settings.public_base_url, production=settings.environment == "production")
    return answer(fmt, "discovery", document)


# --- services ------------------------------------------------------------------------------------------


@_georeport(
    "/v2/services",
    response_model=list[ServiceOut],
    responses=_responses(400, 404),
    summary="Open311: the complaint categories of the kabupaten of `jurisdiction_id`, as services",
    description="`jurisdiction_id`: a kecamatan's slug; its kabupaten's category list. Without it, the list every "
    "kecamatan served here shares; where the kabupaten's lists differ, a 400 naming the jurisdictions.",
)
def services(request: Request, jurisdiction_id: str | None = None) -> Response:
    fmt = _format(request)
    if fmt is None:
        return _unknown_format()
    try:
        listed = catalogue(_jurisdictions(request), jurisdiction_id)
    except Problems as exc:
        return problems_response(exc, fmt)
    return answer(fmt, "services", [service(c) for c in listed])


@_georeport(
    "/v2/services/{service_code}",
    response_model=ServiceDefinitionOut,
    responses=_responses(404),
    summary="Open311: a category's definition (no attributes to fill in: every service has metadata false)",
)
def service_definition(request: Request, service_code: str, jurisdiction_id: str | None = None) -> Response:
    fmt = _format(request)
    if fmt is None:
        return _unknown_format()
    try:
        category = defined(_jurisdictions(request), jurisdiction_id, service_code)
    except Problems as exc:
        return problems_response(exc, fmt)
    if category is None:
        return _problem(fmt, 404, f"service_code {service_code[:40]!r} tidak dikenal (lihat daftar di services.xml).")
    return answer(fmt, "service_definition", g.service_definition(category))


# --- requests ------------------------------------------------------------------------------------------


@_georeport(
    "/v2/requests",
    response_model=list[ServiceRequestOut],
    responses=_responses(400, 404),
    summary="Open311: search requests (public, no personal data)",
    description="Filters: `service_request_id` (comma list of request ids; a tracking code is taken too; the "
    "other filters are then ignored), `status` (open, closed), `start_date`/`end_date` (ISO 8601; default and "
    "widest: 90 days), `jurisdiction_id`, `service_code` (comma list: codes of the kecamatan's kabupaten's "
    "category list; without `jurisdiction_id`, of any list served here). Newest first, at most 1000. A request is "
    "always shown under its id (the complaint id), never its tracking code.",
)
def search_requests(request: Request) -> Response:
    fmt = _format(request)
    if fmt is None:
        return _unknown_format()
    try:
        query = g.read_query(request.query_params, datetime.now(UTC), _jurisdictions(request))
    except Problems as exc:
        return problems_response(exc, fmt)
    return answer(fmt, "service_requests", _shown(request, find_service_requests(_engine(request), query)))


def _one(request: Request, raw: str) -> g.RequestRow | None:
    codes, ids = g.read_ids(raw)
    if len(codes) + len(ids) != 1:
        return None
    rows = find_service_requests(
        _engine(request), g.RequestQuery(tracking_codes=codes, complaint_ids=ids, by_id=True, limit=1)
    )
    return rows[0] if rows else None


@_georeport(
    "/v2/requests/{service_request_id}",
    response_model=list[ServiceRequestOut],
    responses=_responses(404),
    summary="Open311: one request, by its id (or the tracking code, as its holder types it)",
)
def get_request(request: Request, service_request_id: str) -> Response:
    fmt = _format(request)
    if fmt is None:
        return _unknown_format()
    row = _one(request, service_request_id)
    if row is None:
        return _problem(fmt, 404, "Permintaan layanan tidak ditemukan. Periksa kembali id-nya.")
    return answer(fmt, "service_requests", _shown(request, [row]))


@_georeport(
    "/v2/tokens/{token}",
    response_model=list[TokenOut],
    responses=_responses(404),
    summary="Open311: the id of the request a token (its tracking code) belongs to",
)
def get_token(request: Request, token: str) -> Response:
    fmt = _format(request)
    if fmt is None:
        return _unknown_format()
    codes, _ = g.read_ids(token)
    row = _one(request, codes[0]) if len(codes) == 1 else None
    if row is None:
        return _problem(fmt, 404, "Token tidak ditemukan, atau permintaannya belum tercatat: coba lagi sebentar lagi.")
    return answer(fmt, "service_requests", [g.as_token(row)])


# --- anything else under /open311/ ---------------------------------------------------------------------


@router.get("/{path:path}", include_in_schema=False)
def not_found(path: str) -> Response:
    """A path the spec's clients may try that this deployment does not have: the spec's 404, in its format."""
    return _problem(format_of(path) or "json", 404, "Alamat tidak ditemukan di layanan Open311 ini.")
