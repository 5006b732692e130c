"""``GET /dasbor``: the dashboard page (Bahasa Indonesia) for kabupaten users and kecamatan staff.

One HTML page and its two assets, ``/dasbor/static/dasbor.js`` and ``/dasbor/static/dasbor.css``, all in
``services/dashboard/static`` (vendored, no CDN, no build step). The page itself is public and holds no data:
it takes the web app's session when the user signed in at ``/masuk`` (``POST /sesi/token``), else signs in
itself with ``POST /v1/auth/token`` (the workflow API, behind the same base URL), keeps the bearer token in
``sessionStorage`` and reads ``/v1/dashboard/...`` and ``/v1/register`` with it, drawing its charts as inline
SVG. A strict Content-Security-Policy allows only this origin's scripts, styles and fetches: no inline script,
no inline style, no framing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from shared.http import ApiError

STATIC = Path(__file__).resolve().parent.parent / "static"
PAGE = "dasbor.html"
ASSETS = {
    "dasbor.js": "text/javascript; charset=utf-8",
    "dasbor.css": "text/css; charset=utf-8",
}

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
ASSET_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}

router = APIRouter(tags=["dasbor"], include_in_schema=False)

_loaded: dict[str, tuple[int, bytes, str]] = {}


def _load(name: str) -> tuple[bytes, str]:
    """The file's bytes and ETag, read again only when the file changed (a deploy, or an edit under make run)."""
    path = STATIC / name
    stamp = path.stat().st_mtime_ns
    cached = _loaded.get(name)
    if cached is None or cached[0] != stamp:
        content = path.read_bytes()
        cached = (stamp, content, '"' + hashlib.sha256(content).hexdigest()[:32] + '"')
        _loaded[name] = cached
    return cached[1], cached[2]


def _serve(request: Request, name: str, media_type: str, headers: dict[str, str]) -> Response:
    content, etag = _load(name)
    # revalidated on every load (cheap 304s), so a new deploy is picked up at once
    out = {**headers, "ETag": etag, "Cache-Control": "no-cache"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=out)
    return Response(content, media_type=media_type, headers=out)


@router.api_route("/dasbor", methods=["GET", "HEAD"], summary="The dashboard page (HTML)")
def page(request: Request) -> Response:
    return _serve(request, PAGE, "text/html; charset=utf-8", PAGE_HEADERS)


@router.api_route("/dasbor/", methods=["GET", "HEAD"])
def page_with_slash() -> Response:
    return RedirectResponse("/dasbor", status_code=308)


@router.api_route("/dasbor/static/{name}", methods=["GET", "HEAD"], summary="The page's script and style sheet")
def asset(name: str, request: Request) -> Response:
    media_type = ASSETS.get(name)  # a fixed list: nothing else under static/ (nor outside it) is served
    if media_type is None:
        raise ApiError(404, "not_found", "Alamat tidak ditemukan.")
    return _serve(request, name, media_type, ASSET_HEADERS)
