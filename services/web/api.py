"""The web app's way to the system: the public HTTP APIs, as any other client uses them.

``Api.call`` returns the decoded JSON of a 2xx answer and raises ``ApiProblem`` for a 4xx (the API's stable
code, its Indonesian message and its per-field errors, which the pages show next to their fields), and
``ApiUnavailable`` when the API cannot be reached or answers 5xx (the page says so and keeps the form).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.http import cookieless_jar


@dataclass
class ApiProblem(Exception):
    status: int
    code: str
    message: str
    errors: list[dict[str, str]] = field(default_factory=list)

    def field_errors(self, strip: str = "") -> dict[str, str]:
        """``{field: message}``, the first message per field; ``strip`` drops a prefix (``complainant.``)."""
        out: dict[str, str] = {}
        for e in self.errors:
            name = e.get("field", "")
            if strip and name.startswith(strip):
                name = name[len(strip):]
            out.setdefault(name, e.get("message", ""))
        return out


class ApiUnavailable(Exception):
    pass


UNAVAILABLE = "Layanan sedang tidak dapat dihubungi. Coba lagi sebentar."


class Api:
    def __init__(self, base_url: str, *, timeout: float = 30.0, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=httpx.Timeout(timeout, connect=5.0),
                                        cookies=cookieless_jar(),  # one client for every visitor
                                        transport=transport, follow_redirects=False)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def raw(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return await self.client.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiUnavailable(str(exc)) from exc

    async def call(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> Any:
        r = await self.raw(method, path, token=token, **kwargs)
        if r.status_code >= 500:
            raise ApiUnavailable(f"{method} {path}: HTTP {r.status_code}")
        if r.status_code >= 400:
            try:
                body = r.json()
            except ValueError:
                body = {}
            raise ApiProblem(r.status_code, body.get("code", f"http_{r.status_code}"),
                             body.get("message", "Permintaan tidak dapat diproses."), body.get("errors") or [])
        if r.status_code == 204 or not r.content:
            return None
        return r.json()
