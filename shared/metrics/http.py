"""HTTP services' request metrics and their ``GET /metrics`` page (``install_metrics``)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from shared.metrics.instruments import Union, exposed_registry, instruments

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"


def install_metrics(app, service: str, *, collectors: Iterable[Any] = ()) -> None:
    """Count ``app``'s requests and answer ``GET /metrics`` (with ``collectors``' samples added to the page).

    Call it last in ``create_app``, so the counting sits outside the other middleware. The page is answered
    by the middleware itself, not a route: it is in no OpenAPI schema, comes before any catch-all (the
    gateway's proxy), and is not one of the gateway's own paths that nginx forwards (deploy/nginx.conf)."""
    app.add_middleware(HttpMetrics, service=service, router=app.router, collectors=tuple(collectors))


class HttpMetrics:
    """ASGI middleware: counts and times each request by its route template and status class, and answers
    ``GET /metrics``."""

    def __init__(self, app, service: str, router, collectors: tuple = ()) -> None:
        self.app = app
        self.service = service
        self.router = router
        self.collectors = collectors
        self.metrics = instruments()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path") == "/metrics" and scope.get("method") in ("GET", "HEAD"):
            await self.page(scope, send)
            return
        before = dict(scope)  # routing adds to the scope; a fallback match needs it as it came in
        status = 500  # unless a response starts: an exception that escaped every handler
        started = time.perf_counter()

        async def sending(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        in_progress = self.metrics.http_in_progress.labels(self.service)
        in_progress.inc()
        try:
            await self.app(scope, receive, sending)
        finally:
            in_progress.dec()
            method = scope.get("method", "GET")
            labels = (
                self.service,
                method if method in METHODS else "OTHER",
                route_template(scope, before, self.router),
                f"{status // 100}xx",
            )
            self.metrics.http_requests.labels(*labels).inc()
            self.metrics.http_duration.labels(*labels).observe(time.perf_counter() - started)

    async def page(self, scope, send) -> None:
        from prometheus_client import exposition
        from starlette.concurrency import run_in_threadpool

        accept = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"accept"), "")
        encoder, content_type = exposition.choose_encoder(accept)
        # scrape-time collectors block on PostgreSQL and Redis: off the event loop
        body = await run_in_threadpool(encoder, Union(exposed_registry(), *self.collectors))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def route_template(scope, before, router) -> str:
    """The path pattern that served the request (``/v1/track/{tracking_code}``), never the path itself."""
    route = scope.get("route")
    template = getattr(route, "path_format", None)
    if template:
        return template
    from starlette.routing import Match

    for candidate in _every_route(router.routes):  # answered before routing (a body limit), or a mount (static files)
        match, _ = candidate.matches(before)
        if match is Match.FULL:
            return getattr(candidate, "path_format", None) or UNMATCHED
    return UNMATCHED


def _every_route(routes):
    """The routes, those of included routers too (FastAPI keeps an included router as one entry of its own)."""
    for route in routes:
        inner = getattr(route, "effective_route_contexts", None)
        if inner is None:
            yield route
        else:
            yield from inner()
