"""Every failure as a page: a request that needs a sign-in goes to /masuk (and back), an API's refusal shows
its message with its status, an API out of reach is a 503 page, and 404, 405 and malformed requests have
pages of their own (``install_error_pages``)."""

from __future__ import annotations

import logging
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.web.adapters.api_client import UNAVAILABLE, ApiProblem, ApiUnavailable
from services.web.entrypoints import pages
from services.web.entrypoints import session as sessions

log = logging.getLogger(__name__)


def install_error_pages(app: FastAPI) -> None:
    app.add_exception_handler(pages.SignInRequired, sign_in_first)
    app.add_exception_handler(pages.Forbidden, forbidden)
    app.add_exception_handler(ApiProblem, api_refused)
    app.add_exception_handler(ApiUnavailable, unavailable)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, bad_request)


def _page_of_form(request: Request) -> str:
    """The page a form was on: its Referer when it is this site's, else the form's path without its last
    segment (``/petugas/pengaduan/{id}/{action}`` -> ``/petugas/pengaduan/{id}``)."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.path.startswith("/") and referer.netloc in ("", request.url.netloc):
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return request.url.path.rsplit("/", 1)[0] or "/"


async def sign_in_first(request: Request, _: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":  # a form sent with an expired session: back to its page, not to a POST-only path
        target = _page_of_form(request)
    return pages.redirect(f"/masuk?lanjut={quote(target, safe='')}")


async def forbidden(request: Request, _: Exception) -> Response:
    return pages.render(
        request,
        "galat.html",
        status_code=403,
        title="Tidak diizinkan",
        message="Halaman ini tidak untuk akun Anda, atau formulirnya sudah kedaluwarsa. "
        "Muat ulang halaman lalu coba lagi.",
    )


async def api_refused(request: Request, exc: ApiProblem) -> Response:
    """An API's 4xx that the page did not handle itself: its message, on a page, with its status."""
    if exc.status == 401:
        pages.session(request).sign_out()
        return await sign_in_first(request, exc)
    status = exc.status if 400 <= exc.status < 500 else 400
    title = {
        403: "Tidak diizinkan",
        404: "Tidak ditemukan",
        409: "Sudah berubah",
        429: "Terlalu banyak permintaan",
    }.get(status, "Tidak dapat diproses")
    response = pages.render(request, "galat.html", status_code=status, title=title, message=exc.message)
    if status == 429 and exc.retry_after:
        response.headers["Retry-After"] = exc.retry_after
    return response


async def unavailable(request: Request, exc: Exception) -> Response:
    log.warning("API unavailable: %s", exc)
    response = pages.render(request, "galat.html", status_code=503, title="Layanan tidak tersedia", message=UNAVAILABLE)
    response.headers["Retry-After"] = "5"  # as the APIs' 503 (shared.http)
    return response


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if not hasattr(request.state, "session"):
        request.state.session = sessions.Session()
    if exc.status_code == 404:
        return pages.render(
            request,
            "galat.html",
            status_code=404,
            title="Halaman tidak ditemukan",
            message="Alamat yang Anda buka tidak ada. Periksa kembali atau kembali ke beranda.",
        )
    if exc.status_code == 405:
        response = pages.render(
            request,
            "galat.html",
            status_code=405,
            title="Tidak dapat diproses",
            message="Cara membuka halaman ini tidak didukung.",
        )
        response.headers.update(exc.headers or {})  # Allow: the methods the page does take
        return response
    return pages.render(
        request,
        "galat.html",
        status_code=exc.status_code,
        title="Tidak dapat diproses",
        message="Permintaan tidak dapat diproses.",
    )


async def bad_request(request: Request, _: Exception) -> Response:
    return pages.render(
        request,
        "galat.html",
        status_code=400,
        title="Permintaan tidak sah",
        message="Alamat atau isian halaman ini tidak sah. Kembali ke beranda lalu coba lagi.",
    )
