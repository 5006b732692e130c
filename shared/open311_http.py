"""Open311's HTTP mechanics that intake (the POST) and the dashboard (the reads) share: on a path asking for the
spec's XML (``….xml``), every error is the spec's XML error list (``<errors><error><code/><description/>``), also
one raised before the route's own format handling: a rate limit's 429 from a dependency, a body Starlette cannot
read (400) or that grows past the limit (413), an outage's 503, a method the path does not take (405), a bug's 500.

:class:`GeoReportRoute` is the routers' ``route_class``. It asks the app's own exception handlers
(shared/http.py ``install_error_handlers``) for the answer, so status, message (Bahasa Indonesia), headers
(``Retry-After``, ``Allow``) and logging stay the same as everywhere, and writes that answer as the spec's list.
On other paths (``.json``, no suffix) nothing changes: those errors keep the project's JSON shape, as the
other APIs' (the routes' own problems are already the spec's list in both formats: shared/contracts/open311.py).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.contracts.open311 import MEDIA_TYPES, Problem, format_of, georeport_xml

__all__ = ["GeoReportRoute", "GeoReportXmlErrors", "as_xml_error"]

_KEPT_HEADERS = ("retry-after", "allow")


class GeoReportRoute(APIRoute):
    """An Open311 route: an error raised on an ``.xml`` path before (or outside) the route's own answer is the
    spec's XML error list."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                if format_of(request.url.path) != "xml":
                    raise
                return await as_xml_error(request, exc)

        return route

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods and format_of(scope.get("path", "")) == "xml":
            refused = HTTPException(status_code=405, headers={"Allow": ", ".join(sorted(self.methods))})
            response = await as_xml_error(Request(scope, receive), refused)
            await response(scope, receive, send)
            return
        await super().handle(scope, receive, send)


async def as_xml_error(request: Request, exc: Exception) -> Response:
    """The app's answer to ``exc`` (its exception handlers, by the exception's class and then its bases; one that
    passes the exception on hands it to the next, as the outage handler does with a database error that is no
    outage), written as the spec's XML error list with the same status and headers. Re-raises what no handler
    takes."""
    handlers: dict[Any, Callable[..., Any]] = request.app.exception_handlers
    for kind in type(exc).__mro__:
        handler = handlers.get(kind)
        if handler is None:
            continue
        try:
            answered = handler(request, exc)
            response = await answered if inspect.isawaitable(answered) else answered
        except Exception as again:
            if again is exc:
                continue
            raise
        return _as_xml(response)
    raise exc


def _as_xml(response: Response) -> Response:
    status = response.status_code
    try:
        body = json.loads(bytes(response.body))
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    problems = [Problem(status, str(body.get("message") or "Permintaan tidak dapat dilayani."))]
    problems += [Problem(status, f"{e.get('field')}: {e.get('message')}") for e in body.get("errors") or []]
    headers = {k: v for k, v in response.headers.items() if k.lower() in _KEPT_HEADERS}
    document = [p.as_georeport() for p in problems]
    return Response(
        georeport_xml("errors", document), status_code=status, media_type=MEDIA_TYPES["xml"], headers=headers
    )


OPEN311_PREFIX = "/open311/"
MAX_ERROR_BODY = 64 * 1024  # an error's JSON is small; anything larger is passed on as it is


class GeoReportXmlErrors:
    """ASGI middleware, outermost in the apps that serve Open311 (intake, the dashboard) and in the gateway: an error
    answered in JSON on an Open311 ``.xml`` path before any route (a URL the error handlers refuse, a body refused by
    its Content-Length, the gateway's own 502/503/504 while a service is down) is rewritten as the spec's XML error
    list, with the same status and headers. Answers that are already XML, and every other path, pass untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(OPEN311_PREFIX) or format_of(path) != "xml":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def rewriting(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers", [])}
                if message["status"] >= 400 and headers.get("content-type", "").startswith("application/json"):
                    start = message  # held until the body is whole
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False) and sum(map(len, chunks)) <= MAX_ERROR_BODY:
                return
            held, start = start, None
            body = b"".join(chunks)
            if message.get("more_body", False):  # too large to be an error's answer: passed on as it came
                await send(held)
                await send({"type": "http.response.body", "body": body, "more_body": True})
                return
            kept = {
                k.decode("latin-1"): v.decode("latin-1")
                for k, v in held.get("headers", [])
                if k.decode("latin-1").lower() in _KEPT_HEADERS
            }
            xml = _as_xml(Response(body, status_code=held["status"], headers=kept, media_type="application/json"))
            await xml(scope, receive, send)

        await self.app(scope, receive, rewriting)
