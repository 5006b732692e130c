"""The web app's way to the system: the public HTTP APIs, as any other client uses them.

``Api.call`` returns the decoded JSON of a 2xx answer and raises ``ApiProblem`` for a 4xx (the API's stable
code, its Indonesian message and its per-field errors, which the pages show next to their fields), and
``ApiUnavailable`` when the API cannot be reached or answers 5xx (the page says so and keeps the form).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.contracts.letters import ESIGN_ERRORS
from shared.http import cookieless_jar

# The visitor's address (as uvicorn resolved it), passed on to the APIs as X-Forwarded-For, so their
# per-address limits count the citizen, not the web app. Set for each request by ``forward_client``.
CLIENT_ADDRESS: ContextVar[str | None] = ContextVar("pengaduan_web_client_address", default=None)


def forward_client(app):
    """ASGI middleware: remembers the visitor's address for ``Api`` calls made while handling the request."""

    async def middleware(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        client = scope.get("client")
        token = CLIENT_ADDRESS.set(client[0] if client else None)
        try:
            return await app(scope, receive, send)
        finally:
            CLIENT_ADDRESS.reset(token)

    return middleware


@dataclass
class ApiProblem(Exception):
    status: int
    code: str
    message: str
    errors: list[dict[str, str]] = field(default_factory=list)
    retry_after: str | None = None  # a 429's Retry-After, passed on to the visitor

    def field_errors(self, strip: str = "") -> dict[str, str]:
        """``{field: message}``, the first message per field; ``strip`` drops a prefix (``complainant.``)."""
        out: dict[str, str] = {}
        for e in self.errors:
            name = e.get("field", "")
            if strip and name.startswith(strip):
                name = name[len(strip) :]
            out.setdefault(name, e.get("message", ""))
        return out


class ApiUnavailable(Exception):
    pass


# a 5xx the API explains for the action it was asked (step 10 through BSrE: BSrE down or refusing the kabupaten's
# request): shown on the form like any refusal, not as the page of a service out of reach
EXPLAINED_SERVER_ERRORS = frozenset(code for code, status in ESIGN_ERRORS.items() if status >= 500)


UNAVAILABLE = "Layanan sedang tidak dapat dihubungi. Coba lagi sebentar."


class Api:
    def __init__(
        self, base_url: str, *, timeout: float = 30.0, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=5.0),
            cookies=cookieless_jar(),  # one client for every visitor
            transport=transport,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def raw(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        address = CLIENT_ADDRESS.get()
        if address:
            headers.setdefault("X-Forwarded-For", address)
        try:
            return await self.client.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiUnavailable(str(exc)) from exc

    async def call(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> Any:
        r = await self.raw(method, path, token=token, **kwargs)
        if r.status_code >= 400:
            try:
                body = r.json()
            except ValueError:
                body = {}
        if r.status_code >= 500 and not (isinstance(body, dict) and body.get("code") in EXPLAINED_SERVER_ERRORS):
            raise ApiUnavailable(f"{method} {path}: HTTP {r.status_code}")
        if r.status_code >= 400:
            raise ApiProblem(
                r.status_code,
                body.get("code", f"http_{r.status_code}"),
                body.get("message", "Permintaan tidak dapat diproses."),
                body.get("errors") or [],
                r.headers.get("retry-after"),
            )
        if r.status_code == 204 or not r.content:
            return None
        return r.json()
