"""Open311 GeoReport v2, the reads (JSON only; every path also answers with a ``.json`` suffix, ``.xml`` is
refused):

- ``GET  /open311/v2/services``: the complaint categories (``services.json`` of the spec);
- ``GET  /open311/v2/requests``: a search (``service_request_id``, ``status``, ``start_date``/``end_date``,
  ``jurisdiction_id``, ``service_code``), newest first, at most 1000, within 90 days;
- ``GET  /open311/v2/requests/{id}``: one request, by tracking code or public id.

``POST /open311/v2/requests`` (a complaint) is intake's (services/intake/entrypoints/open311.py); the gateway
sends each method to its service. The reads come from the dashboard's own read model
(``dashboard.service_requests``, fed from the event store): a posted request is found once the workflow has
recorded it (moments later; while the broker is away, when it is back).

Errors are the spec's ``[{"code": <HTTP status>, "description": "..."}]`` (Bahasa Indonesia): 400 bad
input (one entry per problem), 404 unknown ``jurisdiction_id`` or request. No login: nothing personal is
shown (see services/dashboard/domain/open311.py for what is, and why tracking codes are never listed).

What the including app must provide on ``app.state``: ``engine``, a SQLAlchemy engine on the project's
PostgreSQL (for the searches).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine

from services.dashboard.adapters.event_feed import kecamatan_exists
from services.dashboard.adapters.service_requests import find_service_requests
from services.dashboard.domain import open311 as g
from shared.contracts.open311 import SERVICES, Problem, Problems, georeport_errors

router = APIRouter(prefix="/open311/v2", tags=["open311"])


class ServiceOut(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


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


def _problem(status: int, description: str) -> JSONResponse:
    return problems_response(Problems([Problem(status, description)]))


def problems_response(problems: Problems) -> JSONResponse:
    return JSONResponse(problems.as_georeport(), status_code=problems.status)


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
    "/services",
    response_model=list[ServiceOut],
    responses=georeport_errors(404),
    summary="Open311: complaint categories as services",
)
def services(request: Request, jurisdiction_id: str | None = None) -> Any:
    if jurisdiction_id and not kecamatan_exists(_engine(request), jurisdiction_id.strip().lower()):
        return _unknown_jurisdiction()
    return [s.as_georeport() for s in SERVICES]


# --- requests -------------------------------------------------------------------------------------


@_json_only(
    "/requests",
    response_model=list[ServiceRequestOut],
    responses=georeport_errors(400, 404),
    summary="Open311: search requests (public, no personal data)",
    description="Filters: `service_request_id` (comma list of public ids or tracking codes; the other filters "
    "are then ignored), `status` (open, closed), `start_date`/`end_date` (ISO 8601; default and widest: 90 "
    "days), `jurisdiction_id`, `service_code` (comma list). Newest first, at most 1000. A request is listed "
    "under its public id (the complaint id), never its tracking code.",
)
def search_requests(request: Request) -> Any:
    try:
        query = g.read_query(request.query_params, datetime.now(UTC))
    except Problems as exc:
        return problems_response(exc)
    engine = _engine(request)
    if query.kecamatan is not None and not kecamatan_exists(engine, query.kecamatan):
        return _unknown_jurisdiction()
    return [g.as_georeport(row, _shown_id(row, query)) for row in find_service_requests(engine, query)]


def _shown_id(row: g.RequestRow, query: g.RequestQuery) -> str:
    """The tracking code only to one who asked by it; the public id otherwise."""
    return row.tracking_code if row.tracking_code in query.tracking_codes else str(row.complaint_id)


@router.get(
    "/requests/{service_request_id}",
    response_model=list[ServiceRequestOut],
    responses=georeport_errors(400, 404),
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
def xml_refused() -> JSONResponse:
    return _xml_refused()
