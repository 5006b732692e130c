"""What wraps every answer of the web app: the session cookie read and written, a strict Content-Security-Policy
(this origin only, no inline script) and the other security headers, and caching (pages never: they hold
personal data; /static for an hour)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from services.web.entrypoints import session as sessions

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=(), payment=()",
}


async def with_session(request: Request, call_next) -> Response:
    if request.url.path.startswith("/static/"):
        response = await call_next(request)
        response.headers.setdefault("Cache-Control", "public, max-age=3600")
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
    settings = request.app.state.settings
    max_age = settings.web_session_hours * 3600
    request.state.session = sessions.load(request, settings.secret_key, max_age)
    response = await call_next(request)
    s: sessions.Session = request.state.session
    if s.changed:
        sessions.store(response, s, settings.secret_key, max_age, settings.secure_cookies)
    for k, v in HEADERS.items():
        response.headers.setdefault(k, v)
    response.headers.setdefault("Cache-Control", "no-store")  # pages hold personal data
    return response
