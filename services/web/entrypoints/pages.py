"""What every page handler uses: the templates, the session, the API client, CSRF checks and rendering."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from services.web.adapters.api_client import Api, ApiProblem, ApiUnavailable
from services.web.config import WebSettings
from services.web.domain import formatting
from services.web.entrypoints.session import CSRF_FIELD, Session

WEB = Path(__file__).resolve().parents[1]  # services/web: templates/ and static/ (package data)
templates = Jinja2Templates(directory=str(WEB / "templates"))  # autoescape on for .html (select_autoescape)
templates.env.filters.update(
    tanggal=formatting.tanggal, waktu=formatting.waktu, waktu_panjang=formatting.waktu_panjang, iso=formatting.iso
)

ROLE_LABELS = {
    "staf": "Staf",
    "kasi": "Kasi/Kasubag",
    "sekcam": "Sekcam",
    "camat": "Camat",
    "kabupaten": "Kabupaten",
    "admin": "Admin",
}
templates.env.globals.update(ROLE_LABELS=ROLE_LABELS, CSRF_FIELD=CSRF_FIELD)


class Forbidden(Exception):
    """A stale or forged form (CSRF), or a page the signed-in user may not see."""


class SignInRequired(Exception):
    pass


def session(request: Request) -> Session:
    return request.state.session


def api(request: Request) -> Api:
    return request.app.state.api


def settings(request: Request) -> WebSettings:
    return request.app.state.settings


def require_user(request: Request, *roles: str) -> Session:
    """The signed-in session, else ``SignInRequired`` (a redirect to /masuk?lanjut=...); ``roles``: any of."""
    s = session(request)
    if not s.signed_in:
        raise SignInRequired
    if roles and s.role not in roles:
        raise Forbidden
    return s


async def check_csrf(request: Request) -> dict[str, Any]:
    """The submitted form, after its CSRF field matched the session's (else ``Forbidden``)."""
    form = await request.form()
    if not session(request).csrf_ok(form.get(CSRF_FIELD) if isinstance(form.get(CSRF_FIELD), str) else None):
        raise Forbidden
    return form


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    s = session(request)
    context.setdefault("flash", s.pop_flash())
    context.setdefault(
        "dev_outbox", bool(settings(request).devsinks_url) and settings(request).environment != "production"
    )
    return templates.TemplateResponse(
        request,
        template,
        {"session": s, "user": s.user, "csrf_token": s.csrf, **context},
        status_code=status_code,
    )


def redirect(url: str, flash: str | None = None, request: Request | None = None) -> Response:
    if flash and request is not None:
        session(request).set_flash(flash)
    return RedirectResponse(url, status_code=303)


KECAMATAN_TTL = 300.0  # seconds; as the API's Cache-Control


async def kecamatan_choices(request: Request) -> list[tuple[str, str]]:
    """``(slug, name)`` of every kecamatan served here (``GET /v1/kecamatan``, public), by name; kept for five
    minutes per process. ``ApiUnavailable`` (a 503 page) when the API cannot say."""
    cached = getattr(request.app.state, "kecamatan", None)
    now = time.monotonic()
    if cached is None or now - cached[0] > KECAMATAN_TTL:
        try:
            items = await api(request).call("GET", "/v1/kecamatan")
        except ApiUnavailable:
            if cached is not None:  # a list a little old beats no form
                return cached[1]
            raise
        cached = (now, sorted(((k["slug"], k["name"]) for k in items), key=lambda c: c[1]))
        request.app.state.kecamatan = cached
    return cached[1]


async def end_session(request: Request) -> None:
    """The session's token is revoked at the API (every copy of the cookie dies with it), then the session
    is emptied. An API that cannot be reached does not keep the visitor signed in here."""
    s = session(request)
    if s.token:
        try:  # noqa: SIM105
            await api(request).call("POST", "/v1/auth/logout", token=s.token)
        except (ApiProblem, ApiUnavailable):  # already expired or revoked (401), or the API is away
            pass
    s.sign_out()
