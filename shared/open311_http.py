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
from starlette.types import Receive, Scope, Send

from shared.contracts.open311 import MEDIA_TYPES, Problem, format_of, georeport_xml

__all__ = ["GeoReportRoute", "as_xml_error"]

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
