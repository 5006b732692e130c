"""The one base URL: routes each request to the service that owns it.

docker-compose puts nginx in front (deploy/nginx.conf); ``make run`` runs this small proxy, which
follows the same route table (a test checks the two agree). It also serves the merged API docs at
``/docs`` (assets vendored, no CDN) and an aggregated ``/healthz``.

Streams (``GET /v1/events/stream``, or any request that accepts ``text/event-stream``) go through a client of
their own, with its own connection limit: a held stream keeps its upstream connection for as long as it is
open, so in one pool 200 of them would leave nothing for the other requests. Beyond the streams' limit a new
stream waits a moment for a free connection, then gets 503 ``too_many_streams`` with ``Retry-After``.

Kept-alive connections: the gateway lets an idle upstream connection go after
``PENGADUAN_GATEWAY_KEEPALIVE_EXPIRY`` (4 s), before the services close theirs (``pengaduan api`` keeps them
``API_KEEPALIVE_SECONDS`` = 15 s), so it never sends a request down a connection the service is closing at
that moment (with both at 5 s, 1-3 requests in 300-800 got a 503 with no fault anywhere). Should a reused
connection fail anyway before any byte of the answer (the service restarted, say), a request that may be
sent twice (GET, HEAD, OPTIONS, PUT, DELETE, or any request with an ``Idempotency-Key``) is sent once more on
a new connection; a POST without one is not, and gets 503. Every upstream failure is logged (method, route,
service, error class; never the body).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import fastapi_offline
import httpx
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import Field
from starlette.background import BackgroundTask

from shared.config import Settings
from shared.contracts.open311 import XML_CONTENT
from shared.http import BodySizeLimitByPath, cookieless_jar, error_response, install_error_handlers
from shared.metrics import install_metrics
from shared.open311_http import GeoReportXmlErrors

log = logging.getLogger(__name__)


class GatewaySettings(Settings):
    gateway_max_connections: int = Field(200, description="Upstream connections for ordinary requests")
    gateway_max_streams: int = Field(
        1000, description="Upstream connections for streams (SSE), a pool of their own: streams never starve requests"
    )
    gateway_stream_wait_seconds: float = Field(
        2.0, description="How long a new stream waits for a free stream connection before 503 too_many_streams"
    )
    gateway_keepalive_expiry: float = Field(
        4.0,
        gt=0,
        description="Seconds an idle upstream connection is kept for the next request; keep it below the "
        "services' own keep-alive (15 s) so the gateway always lets go first",
    )


@dataclass(frozen=True)
class Route:
    """One entry of the route table (the composition root builds it from the services' declarations,
    ``pengaduan.registry.gateway_routes``; first match wins; deploy/nginx.conf agrees with it)."""

    prefix: str
    service: str
    methods: frozenset[str] = frozenset()  # empty: any
    exact: bool = False


MAX_BODY_BYTES = 1024 * 1024  # as nginx's client_max_body_size in deploy/nginx.conf
# inbound e-mail with attachments, scans uploaded by staff or with the citizens' form: larger (nginx: the
# same per location)
LARGE_BODY_PREFIXES = (
    "/v1/channels/",
    "/v1/staff/complaints",
    "/v1/complaints/form",
    "/pengaduan/baru",
    "/petugas/pengaduan/baru",
)  # the last two: the web forms with scans (citizens', and staff's entry of a complaint-box form)
LARGE_BODY_BYTES = 26 * 1024 * 1024
DEV_PREFIX = "/dev/outbox"  # make run only: the local sinks' page of what would have been sent
STREAM_PATHS = frozenset({"/v1/events/stream"})
STREAM_RETRY_AFTER = 5  # seconds
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}


# may be sent twice: a second copy changes nothing (and so does any request carrying an Idempotency-Key)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# a kept-alive connection the service closed as the request went out: no byte of an answer came back
STALE_CONNECTION = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


_DOT_SEGMENT = re.compile(rb"(^|/)(\.|%2e){1,2}(/|$|%2f|\\)", re.IGNORECASE)


def _has_dot_segment(raw_path: bytes) -> bool:
    """A path segment "." or "..", also percent-encoded (%2e, %2e%2e) or ended by an encoded slash."""
    path = raw_path.split(b"?", 1)[0]
    return bool(_DOT_SEGMENT.search(path))


def route_for(routes: Sequence[Route], method: str, path: str) -> str | None:
    route = _route(routes, method, path)
    return route.service if route else None


def _route(routes: Sequence[Route], method: str, path: str) -> Route | None:
    for r in routes:
        matched = path == r.prefix if r.exact else path.startswith(r.prefix)
        if matched and (not r.methods or method in r.methods):
            return r
    return None


def may_send_twice(method: str, headers: httpx.Headers | dict) -> bool:
    return method in IDEMPOTENT_METHODS or "idempotency-key" in {k.lower() for k in headers}


def is_stream(method: str, path: str, accept: str) -> bool:
    """Whether a request opens a stream that may stay open for hours (Server-Sent Events)."""
    return method == "GET" and (path in STREAM_PATHS or "text/event-stream" in accept.lower())


def create_gateway(
    backends: dict[str, str], routes: Sequence[Route], settings: GatewaySettings | None = None
) -> FastAPI:
    """``backends``: service name -> base URL (their order is the order of /healthz and the merged /docs);
    ``routes``: the route table (``pengaduan.registry.gateway_routes``)."""
    upstreams = Upstreams(backends, routes, settings or GatewaySettings())

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        await upstreams.close()

    app = FastAPI(title="pengaduan", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    install_error_handlers(app)  # the one error shape (405 with Allow), and URLs with control characters refused
    static = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/static-docs", StaticFiles(directory=static), name="static-docs")
    app.add_middleware(
        BodySizeLimitByPath, default=MAX_BODY_BYTES, large=LARGE_BODY_BYTES, prefixes=LARGE_BODY_PREFIXES
    )
    app.get("/docs", include_in_schema=False)(docs_page)
    app.get("/openapi.json", include_in_schema=False)(upstreams.openapi)
    app.get("/healthz", include_in_schema=False)(upstreams.healthz)
    app.api_route(
        "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"], include_in_schema=False
    )(upstreams.proxy)
    install_metrics(app, "gateway")
    app.add_middleware(GeoReportXmlErrors)  # outermost: Open311's .xml errors the gateway answers (ADR 0018)
    return app


async def docs_page() -> HTMLResponse:
    """The merged API docs (Swagger UI, its assets vendored: no CDN)."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="pengaduan API",
        swagger_js_url="/static-docs/swagger-ui-bundle.js",
        swagger_css_url="/static-docs/swagger-ui.css",
        swagger_favicon_url="/static-docs/favicon.png",
    )


class Upstreams:
    """The services behind the gateway and the two connection pools that reach them."""

    def __init__(self, backends: dict[str, str], routes: Sequence[Route], settings: GatewaySettings) -> None:
        self.backends = backends
        self.routes = routes
        self.services = [name for name in backends if name != "devsinks"]
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, connect=5.0),
            limits=httpx.Limits(
                max_connections=settings.gateway_max_connections, keepalive_expiry=settings.gateway_keepalive_expiry
            ),
            cookies=cookieless_jar(),
        )  # never one visitor's cookie on another's request
        # streams: no read timeout (the feed sends a heartbeat; a stream ends when either side leaves), no idle
        # connections kept (each stream opens its own and holds it), a short wait for a free one
        self.streams = httpx.AsyncClient(
            timeout=httpx.Timeout(connect=5.0, read=None, write=30.0, pool=settings.gateway_stream_wait_seconds),
            limits=httpx.Limits(max_connections=settings.gateway_max_streams, max_keepalive_connections=0),
            cookies=cookieless_jar(),
        )

    async def close(self) -> None:
        await self.client.aclose()
        await self.streams.aclose()

    async def openapi(self) -> JSONResponse:
        """Every service's spec merged (``merge_openapi``); 503 if one cannot be read (a spec with a part
        missing would lie by omission)."""

        async def spec_of(service: str) -> dict | None:
            for attempt in (1, 2):  # once more: a kept-alive connection the service has just closed fails once
                try:
                    r = await self.client.get(f"{self.backends[service]}/openapi.json")
                    return r.json() if r.status_code == 200 else None  # the web app has none
                except (httpx.HTTPError, ValueError):
                    if attempt == 2:
                        raise
            return None

        try:
            specs = await asyncio.gather(*(spec_of(s) for s in self.services))
        except (httpx.HTTPError, ValueError):
            return error_response(503, "service_unavailable", "Layanan sedang tidak tersedia. Coba lagi sebentar.")
        return JSONResponse(merge_openapi({s: spec for s, spec in zip(self.services, specs) if spec is not None}))  # noqa: B905

    async def healthz(self) -> JSONResponse:
        """Every service's own /healthz; down if one is down, degraded if one is degraded."""

        async def one(service: str) -> dict:
            try:
                r = await self.client.get(f"{self.backends[service]}/healthz", timeout=3.0)
                body = r.json()
                return (
                    body
                    if "status" in body
                    else {"status": "down", "service": service, "error": f"HTTP {r.status_code}"}
                )
            except (httpx.HTTPError, ValueError) as exc:
                return {"status": "down", "service": service, "error": type(exc).__name__}

        results = await asyncio.gather(*(one(s) for s in self.services))
        statuses = {r["status"] for r in results}
        status = "down" if "down" in statuses else ("degraded" if "degraded" in statuses else "ok")
        return JSONResponse({"status": status, "services": results}, status_code=503 if status == "down" else 200)

    def route(self, request: Request) -> Route | None:
        if "devsinks" in self.backends and request.url.path.startswith(DEV_PREFIX):
            return Route(DEV_PREFIX, "devsinks")
        return _route(self.routes, request.method, request.url.path)

    async def proxy(self, request: Request, path: str) -> Response:
        """The request to the service that owns it, its answer streamed back (SSE, large PDFs and exports)."""
        if _has_dot_segment(request.scope.get("raw_path") or request.url.path.encode()):
            # routed on the path as written, sent on as httpx normalises it: /v1/letters/../../internal/... would
            # reach a route no prefix names (nginx normalises before matching; the gateway refuses)
            return error_response(404, "not_found", "Alamat tidak ditemukan.")
        route = self.route(request)
        if route is None:
            return error_response(404, "not_found", "Alamat tidak ditemukan.")
        # the bytes as they came: a header value need not be ASCII (httpx would refuse to encode it: a 500); without
        # the blanks around it, which are not part of a field value (RFC 9110 5.5: a value with them was sent on and
        # h11 refused it, a 503, though the service would have answered)
        headers = [
            (k, v.strip(b" \t")) for k, v in request.headers.raw if k.decode("latin-1").lower() not in HOP_BY_HOP
        ]
        via = (
            self.streams
            if is_stream(request.method, request.url.path, request.headers.get("accept", ""))
            else self.client
        )
        try:
            upstream = via.build_request(
                request.method,
                f"{self.backends[route.service]}{request.url.path}",
                params=request.query_params,
                headers=[*headers, ("x-forwarded-for", request.client.host if request.client else "")],
                content=await request.body(),
            )
        except httpx.InvalidURL:  # what RefuseControlCharacters lets through and httpx still refuses
            return error_response(400, "invalid_url", "Alamat atau parameternya berisi karakter yang tidak sah.")
        r = await self._send(via, upstream, request.method, route)
        if isinstance(r, Response):
            return r
        out_headers = {k: v for k, v in r.headers.items() if k.lower() not in HOP_BY_HOP}
        return StreamingResponse(
            r.aiter_raw(), status_code=r.status_code, headers=out_headers, background=BackgroundTask(r.aclose)
        )

    async def _send(
        self, via: httpx.AsyncClient, upstream: httpx.Request, method: str, route: Route
    ) -> httpx.Response | Response:
        """The upstream's answer, or the gateway's own 503 (the service away, or the streams' limit reached)."""
        retried = False
        try:
            try:
                return await via.send(upstream, stream=True)
            except STALE_CONNECTION as exc:
                # streams never reuse a connection (no keep-alive in their pool): nothing stale to retry there
                if via is self.streams or not may_send_twice(method, upstream.headers):
                    raise
                log.info(
                    "upstream connection lost before an answer; sending once more",
                    extra={
                        "method": method,
                        "route": route.prefix,
                        "service": route.service,
                        "error": type(exc).__name__,
                    },
                )
                retried = True
                return await via.send(upstream, stream=True)  # the body is bytes: it can be sent again
        except httpx.HTTPError as exc:
            if isinstance(exc, httpx.PoolTimeout) and via is self.streams:  # the streams' own limit, not a fault
                return error_response(
                    503,
                    "too_many_streams",
                    "Terlalu banyak aliran kejadian terbuka. Coba lagi sebentar.",
                    headers={"Retry-After": str(STREAM_RETRY_AFTER)},
                )
            log.warning(
                "upstream request failed",
                extra={
                    "method": method,
                    "route": route.prefix,
                    "service": route.service,
                    "error": type(exc).__name__,
                    "retried": retried,
                },
            )
            return error_response(503, "service_unavailable", "Layanan sedang tidak tersedia. Coba lagi sebentar.")


def merge_openapi(specs: dict[str, dict]) -> dict:
    """One spec from the services' own (``{service: spec}``): their paths (not their ``/healthz``) and every
    section of their components (schemas, security schemes). A component two services define differently
    under one name (each has its own ``StepOut``) is not overwritten by the last: each service's version is
    kept as ``{service}_{name}`` and that service's ``$ref``s point to it. FastAPI documents its own 422 body
    (``HTTPValidationError``, ``{"detail": [...]}``); every service answers 422 with shared.http's
    ``ErrorBody`` instead (install_error_handlers), so that is what the merged spec says. Every app (and this
    gateway) answers 400 ``invalid_url`` to a URL with control characters before any route sees it
    (shared.http.RefuseControlCharacters): every operation documents it."""
    first: dict[tuple[str, str], object] = {}
    clashes: set[tuple[str, str]] = set()
    for spec in specs.values():
        for section, items in spec.get("components", {}).items():
            for name, value in items.items():
                if first.setdefault((section, name), value) != value:
                    clashes.add((section, name))
    merged: dict = {
        "openapi": "3.1.0",
        "info": {"title": "pengaduan", "version": "1"},
        "paths": {},
        "components": {"schemas": {}},
    }
    for service, spec in specs.items():
        components = spec.get("components", {})
        renamed = {
            (section, name): f"{service}_{name}" for section, name in clashes if name in components.get(section, {})
        }
        refs = {
            f"#/components/{section}/{name}": f"#/components/{section}/{new}"
            for (section, name), new in renamed.items()
        }
        if "ErrorBody" in components.get("schemas", {}):
            refs[f"{SCHEMAS}HTTPValidationError"] = f"{SCHEMAS}ErrorBody"
        spec = _with_refs(spec, refs) if refs else spec
        for path, item in spec.get("paths", {}).items():  # one path may be two services' (Open311: POST, GET)
            if path != "/healthz":
                merged["paths"].setdefault(path, {}).update(item)
        for section, items in spec.get("components", {}).items():
            for name, value in items.items():
                merged["components"].setdefault(section, {})[renamed.get((section, name), name)] = value
    if "ErrorBody" in merged["components"]["schemas"]:
        for path, item in merged["paths"].items():
            for op in item.values():
                _document_invalid_url(op)
                if path.startswith("/open311/"):  # on an .xml path it is the spec's XML list (ADR 0018)
                    op["responses"]["400"]["content"].setdefault("text/xml", XML_CONTENT["text/xml"])
    for name in ("HTTPValidationError", "ValidationError"):  # the second is only the first's part
        if f"{SCHEMAS}{name}" not in _refs(merged):
            merged["components"]["schemas"].pop(name, None)
    return merged


SCHEMAS = "#/components/schemas/"
INVALID_URL_DOC = "The address or a parameter holds control characters or is not UTF-8 (`invalid_url`)"


def _document_invalid_url(op: dict) -> None:
    responses = op.setdefault("responses", {})
    error = {"$ref": f"{SCHEMAS}ErrorBody"}
    if "400" not in responses:
        responses["400"] = {"description": INVALID_URL_DOC, "content": {"application/json": {"schema": error}}}
        return
    content = responses["400"].setdefault("content", {}).setdefault("application/json", {})
    own = content.get("schema")
    if own is not None and own != error:  # Open311 documents its own 400 (a GeoReport error list)
        content["schema"] = {"anyOf": [own, error]}
    else:
        content["schema"] = error
    responses["400"]["description"] = f"{responses['400'].get('description', 'Bad Request')}; or: {INVALID_URL_DOC}"


def _refs(node) -> set[str]:
    if isinstance(node, dict):
        return {v for k, v in node.items() if k == "$ref"} | {r for v in node.values() for r in _refs(v)}
    if isinstance(node, list):
        return {r for v in node for r in _refs(v)}
    return set()


def _with_refs(node, refs: dict[str, str]):
    """A copy of ``node`` with every ``$ref`` found in ``refs`` replaced."""
    if isinstance(node, dict):
        return {
            k: (refs.get(v, v) if k == "$ref" and isinstance(v, str) else _with_refs(v, refs)) for k, v in node.items()
        }
    if isinstance(node, list):
        return [_with_refs(v, refs) for v in node]
    return node
