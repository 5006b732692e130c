"""What every page handler uses: the templates, the session, the API client, CSRF checks and rendering."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context

from services.web.adapters.api_client import Api, ApiProblem, ApiUnavailable
from services.web.config import WebSettings
from services.web.domain import formatting
from services.web.domain.formatting import Zone
from services.web.entrypoints.session import CSRF_FIELD, Session

WEB = Path(__file__).resolve().parents[1]  # services/web: templates/ and static/ (package data)
templates = Jinja2Templates(directory=str(WEB / "templates"))  # autoescape on for .html (select_autoescape)


def _zone(context: Context) -> Zone:
    """The zone the page's dates are shown in: ``zone`` of the page's context, which ``render`` takes from the
    request once the handler has named the kecamatan (``zone_of``). A page that shows a moment without having
    named it fails here, rather than show another kabupaten's hour."""
    zone = context.get("zone")
    if not isinstance(zone, Zone):
        raise RuntimeError(f"{context.name}: a moment shown before the page asked zone_of(request, kecamatan)")
    return zone


@pass_context
def _tanggal(context: Context, value: Any) -> str:
    return formatting.tanggal(value, context.get("zone"))


@pass_context
def _waktu(context: Context, value: Any) -> str:
    return formatting.waktu(value, _zone(context))


@pass_context
def _waktu_panjang(context: Context, value: Any) -> str:
    return formatting.waktu_panjang(value, _zone(context))


templates.env.filters.update(tanggal=_tanggal, waktu=_waktu, waktu_panjang=_waktu_panjang, iso=formatting.iso)

ROLE_LABELS = {
    "staf": "Staf",
    "kasi": "Kasi/Kasubag",
    "sekcam": "Sekcam",
    "camat": "Camat",
    "kabupaten": "Kabupaten",
    "pdp": "Pejabat PDP",
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
    context.setdefault("zone", getattr(request.state, "zone", None))
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
MISS_RELOAD = 5.0  # seconds: a slug not in the list reloads it (a kecamatan added since), at most this often


async def kecamatan_directory(request: Request, *, missing: str | None = None) -> dict[str, dict[str, Any]]:
    """Every kecamatan served here by slug, as ``GET /v1/kecamatan`` (public) lists it: name, kabupaten and the
    kabupaten's ``time_zone`` and ``time_zone_label``; kept for five minutes per process, read again sooner when
    ``missing`` is not in it. ``ApiUnavailable`` (a 503 page) when the API cannot say and nothing is kept."""
    cached = getattr(request.app.state, "kecamatan", None)
    now = time.monotonic()
    stale = cached is None or now - cached[0] > KECAMATAN_TTL
    if not stale and missing is not None and missing not in cached[1]:
        stale = now - cached[0] > MISS_RELOAD
    if stale:
        try:
            items = await api(request).call("GET", "/v1/kecamatan")
        except ApiUnavailable:
            if cached is not None:  # a list a little old beats no page
                return cached[1]
            raise
        cached = (now, {k["slug"]: k for k in items})
        request.app.state.kecamatan = cached
    return cached[1]


async def kecamatan_choices(request: Request) -> list[tuple[str, str]]:
    """``(slug, name)`` of every kecamatan served here, by name."""
    return sorted(((k["slug"], k["name"]) for k in (await kecamatan_directory(request)).values()), key=lambda c: c[1])


async def zone_of(request: Request, kecamatan: str | None = None) -> Zone:
    """The time zone of ``kecamatan``'s kabupaten (WIB, WITA or WIT), in which the page shows every date and
    time from now on (``render`` hands it to the templates' date filters). Without a kecamatan, or for one no
    longer listed (retired), the zone of the signed-in user's kecamatan or kabupaten; WIB when none is known."""
    user = session(request).user or {}
    directory = await kecamatan_directory(request, missing=kecamatan or user.get("kecamatan"))
    found = directory.get(kecamatan or "") or directory.get(user.get("kecamatan") or "")
    if found is None and user.get("kabupaten"):
        found = next((k for k in directory.values() if k.get("kabupaten") == user["kabupaten"]), None)
    zone = Zone.of(found.get("time_zone"), found.get("time_zone_label")) if found else formatting.WIB
    request.state.zone = zone
    return zone


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
