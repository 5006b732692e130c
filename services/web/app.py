"""``pengaduan api web``: the web app (a uvicorn factory, ``create_app``).

Pages: ``public`` (citizens: home, complaint form, confirmation, tracking), ``staff`` (sign-in, inbox,
complaint, actions, register book) and the kabupaten's dashboard (``/dasbor``, served by the dashboard
service). Every response carries a strict Content-Security-Policy (this origin only, no inline script).
"""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.web import pages, session as sessions
from services.web.api import Api, ApiProblem, ApiUnavailable, UNAVAILABLE, forward_client
from services.web.config import WebSettings
from shared.gateway import LARGE_BODY_BYTES, MAX_BODY_BYTES
from shared.http import BodySizeLimitByPath, RefuseControlCharacters
from shared.metrics import install_metrics

log = logging.getLogger(__name__)

CSP = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
    "font-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
))
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=(), payment=()",
}


def _page_of_form(request: Request) -> str:
    """The page a form was on: its Referer when it is this site's, else the form's path without its last
    segment (``/petugas/pengaduan/{id}/{action}`` -> ``/petugas/pengaduan/{id}``)."""
    from urllib.parse import urlsplit

    referer = urlsplit(request.headers.get("referer", ""))
    if referer.path.startswith("/") and referer.netloc in ("", request.url.netloc):
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return request.url.path.rsplit("/", 1)[0] or "/"


def create_app(settings: WebSettings | None = None, api: Api | None = None) -> FastAPI:
    settings = settings or WebSettings()
    max_age = settings.web_session_hours * 3600

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.api = api or Api(settings.web_api_url)
        yield
        await app.state.api.aclose()

    app = FastAPI(title="pengaduan web", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.mount("/static", StaticFiles(directory=str(pages.HERE / "static")), name="static")
    # the complaint form carries scans and photos (intake checks each file's size); every other form is small
    app.add_middleware(BodySizeLimitByPath, default=MAX_BODY_BYTES, large=LARGE_BODY_BYTES, prefixes=("/pengaduan/baru",))
    app.add_middleware(RefuseControlCharacters)  # %00 and the like in a URL: 400, not a 500 from the API client
    app.add_middleware(forward_client)  # the visitor's address goes with every API call (rate limits)

    @app.middleware("http")
    async def with_session(request: Request, call_next) -> Response:
        if request.url.path.startswith("/static/"):
            response = await call_next(request)
            response.headers.setdefault("Cache-Control", "public, max-age=3600")
            response.headers["X-Content-Type-Options"] = "nosniff"
            return response
        request.state.session = sessions.load(request, settings.secret_key, max_age)
        response = await call_next(request)
        s: sessions.Session = request.state.session
        if s.changed:
            sessions.store(response, s, settings.secret_key, max_age, settings.secure_cookies)
        for k, v in HEADERS.items():
            response.headers.setdefault(k, v)
        response.headers.setdefault("Cache-Control", "no-store")  # pages hold personal data
        return response

    @app.exception_handler(pages.SignInRequired)
    async def sign_in_first(request: Request, _: Exception) -> Response:
        from urllib.parse import quote

        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":  # a form sent with an expired session: back to its page, not to a POST-only path
            target = _page_of_form(request)
        return pages.redirect(f"/masuk?lanjut={quote(target, safe='')}")

    @app.exception_handler(pages.Forbidden)
    async def forbidden(request: Request, _: Exception) -> Response:
        return pages.render(request, "galat.html", status_code=403, title="Tidak diizinkan",
                            message="Halaman ini tidak untuk akun Anda, atau formulirnya sudah kedaluwarsa. "
                                    "Muat ulang halaman lalu coba lagi.")

    @app.exception_handler(ApiProblem)
    async def api_refused(request: Request, exc: ApiProblem) -> Response:
        """An API's 4xx that the page did not handle itself: its message, on a page, with its status."""
        if exc.status == 401:
            pages.session(request).sign_out()
            return await sign_in_first(request, exc)
        status = exc.status if 400 <= exc.status < 500 else 400
        title = {403: "Tidak diizinkan", 404: "Tidak ditemukan", 409: "Sudah berubah",
                 429: "Terlalu banyak permintaan"}.get(status, "Tidak dapat diproses")
        response = pages.render(request, "galat.html", status_code=status, title=title, message=exc.message)
        if status == 429 and exc.retry_after:
            response.headers["Retry-After"] = exc.retry_after
        return response

    @app.exception_handler(ApiUnavailable)
    async def unavailable(request: Request, exc: Exception) -> Response:
        log.warning("API unavailable: %s", exc)
        response = pages.render(request, "galat.html", status_code=503, title="Layanan tidak tersedia",
                                message=UNAVAILABLE)
        response.headers["Retry-After"] = "5"  # as the APIs' 503 (shared.http)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not hasattr(request.state, "session"):
            request.state.session = sessions.Session()
        if exc.status_code == 404:
            return pages.render(request, "galat.html", status_code=404, title="Halaman tidak ditemukan",
                                message="Alamat yang Anda buka tidak ada. Periksa kembali atau kembali ke beranda.")
        if exc.status_code == 405:
            response = pages.render(request, "galat.html", status_code=405, title="Tidak dapat diproses",
                                    message="Cara membuka halaman ini tidak didukung.")
            response.headers.update(exc.headers or {})  # Allow: the methods the page does take
            return response
        return pages.render(request, "galat.html", status_code=exc.status_code, title="Tidak dapat diproses",
                            message="Permintaan tidak dapat diproses.")

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, _: Exception) -> Response:
        return pages.render(request, "galat.html", status_code=400, title="Permintaan tidak sah",
                            message="Alamat atau isian halaman ini tidak sah. Kembali ke beranda lalu coba lagi.")

    from services.web.entrypoints import public, sesi, staff

    app.include_router(public.router)
    app.include_router(staff.router)
    app.include_router(sesi.router)  # POST /sesi/token|keluar: the web session for the /dasbor page's script

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:  # pages that do not name their icon (the dashboard page) ask here
        return FileResponse(pages.HERE / "static" / "favicon.svg", media_type="image/svg+xml",
                            headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict:
        return {"status": "ok", "service": "web"}

    install_metrics(app, "web")
    return app
