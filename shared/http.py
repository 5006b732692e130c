"""HTTP mechanics every API shares: one error shape, validation messages, body limits, health checks.

Every error is ``{"code": "...", "message": "...", "errors": [{"field", "code", "message"}]}``: a stable
machine code, a message a person understands (Bahasa Indonesia: citizens see these), and for invalid
input, which field and why.
"""

from __future__ import annotations

import http.cookiejar
import logging
import re
import time
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.outages import UNREACHABLE, describe, unreachable

log = logging.getLogger(__name__)

# a dependency out of reach (PostgreSQL, the broker, Redis): 503 with Retry-After, whatever the route; the
# connection pools check a connection before lending it (shared.db), so the first request after the
# dependency's return is served
OUTAGE_RETRY_AFTER = 5
OUTAGE_MESSAGE = "Layanan sedang terganggu sementara. Silakan coba lagi dalam beberapa saat."


class FieldError(BaseModel):
    field: str
    code: str
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    errors: list[FieldError] = []


class ApiError(Exception):
    headers: dict[str, str] = {}  # sent with the answer (e.g. Retry-After on a 429 or 503)

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or []
        if headers:
            self.headers = {**self.headers, **headers}


def error_response(
    status: int, code: str, message: str, errors: list[FieldError] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = ErrorBody(code=code, message=message, errors=errors or [])
    return JSONResponse(status_code=status, content=body.model_dump(), headers=headers)


# Indonesian messages for pydantic's own error types; custom validators raise their own code and message.
_MESSAGES: dict[str, str] = {
    "missing": "Wajib diisi.",
    "string_type": "Harus berupa teks.",
    "string_too_short": "Terlalu pendek (minimal {min_length} karakter).",
    "string_too_long": "Terlalu panjang (maksimal {max_length} karakter).",
    "too_long": "Terlalu panjang (maksimal {max_length} karakter).",  # a SecretStr says it so
    "string_pattern_mismatch": "Formatnya tidak sesuai.",
    "extra_forbidden": "Kolom ini tidak dikenal.",
    "literal_error": "Nilai tidak diizinkan; pilihan: {expected}.",
    "model_attributes_type": "Harus berupa objek JSON.",
    "model_type": "Harus berupa objek JSON.",
    "dict_type": "Harus berupa objek JSON.",
    "int_type": "Harus berupa bilangan bulat.",
    "int_parsing": "Harus berupa bilangan bulat.",
    "int_from_float": "Harus berupa bilangan bulat.",
    "less_than_equal": "Paling besar {le}.",
    "greater_than_equal": "Paling kecil {ge}.",
    "less_than": "Harus kurang dari {lt}.",
    "greater_than": "Harus lebih dari {gt}.",
    "bool_type": "Harus bernilai true atau false.",
    "bool_parsing": "Harus bernilai true atau false.",
    "uuid_parsing": "Bukan UUID yang sah.",
    "string_unicode": "Berisi karakter yang tidak sah.",
}


def field_errors(errors: list[dict]) -> list[FieldError]:
    """Field errors, in Bahasa Indonesia, from pydantic's ``exc.errors()``."""
    result = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        kind = err.get("type", "invalid")
        template = _MESSAGES.get(kind)
        ctx = err.get("ctx") or {}
        if template:
            try:
                message = template.format(**ctx)
            except (KeyError, IndexError):
                message = template
        else:
            message = str(err.get("msg", "Tidak sah."))
            if message.startswith("Value error, "):
                message = message.removeprefix("Value error, ")
        result.append(FieldError(field=".".join(loc) or "body", code=kind, message=message))
    return result


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        response = error_response(exc.status, exc.code, exc.message, exc.errors)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(exc.errors())
        if any(e.code == "json_invalid" for e in errors):
            return error_response(400, "malformed_json", "Isi permintaan bukan JSON yang sah.")
        return error_response(422, "validation_error", "Ada isian yang belum benar. Periksa kembali.", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {
            400: "bad_request",
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
            415: "unsupported_media_type",
        }
        messages = {
            400: "Isi permintaan tidak dapat dibaca.",  # Starlette's: a form or multipart body it cannot parse
            404: "Alamat tidak ditemukan.",
            405: "Metode ini tidak didukung di alamat ini.",
            413: "Isi permintaan terlalu besar.",
        }
        response = error_response(
            exc.status_code,
            codes.get(exc.status_code, f"http_{exc.status_code}"),
            messages.get(exc.status_code, str(exc.detail)),
        )
        response.headers.update(exc.headers or {})  # 405: Allow, the methods the path does take
        return response

    app.add_middleware(RefuseControlCharacters)

    async def _unreachable(request: Request, exc: Exception) -> JSONResponse:
        if not unreachable(exc):  # e.g. an InterfaceError that is no lost connection: a bug, below
            raise exc
        return outage_response(request, exc)

    for kind in (*UNREACHABLE, sa_exc.DBAPIError):
        app.add_exception_handler(kind, _unreachable)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if unreachable(exc):  # raised from an outage (``raise ... from``), or out of a middleware
            return outage_response(request, exc)
        log.exception("unhandled error on %s %s", request.method, request.url.path)  # noqa: LOG004
        return error_response(500, "internal_error", "Terjadi kesalahan pada sistem. Silakan coba lagi nanti.")


def outage_response(request: Request, exc: BaseException) -> JSONResponse:
    """503 ``service_unavailable`` with ``Retry-After``: the request may be sent again as it is."""
    log.warning("dependency unreachable on %s %s: %s", request.method, request.url.path, describe(exc))
    return error_response(503, "service_unavailable", OUTAGE_MESSAGE, headers={"Retry-After": str(OUTAGE_RETRY_AFTER)})


# C0 controls (NUL, CR, LF, tab, ESC ...) and DEL: no path segment or query value has a use for them, and
# further in they break things (PostgreSQL refuses NUL in text, a CR/LF splits a header or a log line)
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
INVALID_URL_MESSAGE = "Alamat atau parameternya berisi karakter yang tidak sah."


def url_problem(path: str, raw_path: bytes | None, query_string: bytes) -> FieldError | None:
    """What is wrong with a request's URL, if anything: a control character or bytes that are not UTF-8 once
    percent-decoded, in the path or in a query parameter (name or value)."""
    raw = raw_path if raw_path is not None else path.encode("utf-8", "surrogateescape")
    try:
        decoded = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return FieldError(field="path", code="invalid_encoding", message="Alamat bukan teks UTF-8 yang sah.")
    if _CONTROL_CHARACTERS.search(decoded) or _CONTROL_CHARACTERS.search(path):
        return FieldError(field="path", code="invalid_character", message="Alamat berisi karakter kendali.")
    for pair in query_string.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        try:
            name_text = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8")
            value_text = unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            return FieldError(
                field=name.decode("ascii", "replace")[:40],
                code="invalid_encoding",
                message="Parameter ini bukan teks UTF-8 yang sah.",
            )
        if _CONTROL_CHARACTERS.search(name_text) or _CONTROL_CHARACTERS.search(value_text):
            field = _CONTROL_CHARACTERS.sub("?", name_text)[:40] or "query"
            return FieldError(field=field, code="invalid_character", message="Parameter ini berisi karakter kendali.")
    return None


class RefuseControlCharacters:
    """Answers 400 ``invalid_url`` for a URL whose path or query carries control characters (``%00``, ``%0D``
    ...) or bytes that are not UTF-8, before any route sees it: one check for every app instead of one per
    parameter (``shared.http.install_error_handlers`` installs it; the gateway too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = url_problem(scope.get("path", ""), scope.get("raw_path"), scope.get("query_string", b""))
            if problem is not None:
                response = error_response(400, "invalid_url", INVALID_URL_MESSAGE, [problem])
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodySizeLimit:
    """Refuses bodies over ``max_bytes`` with 413, whether or not they declare a Content-Length."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await _send_413(send)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _send_413(send)


class BodySizeLimitByPath:
    """``BodySizeLimit`` whose limit depends on the path: ``large`` under ``prefixes`` (where files come in:
    inbound e-mail, scans), ``default`` everywhere else."""

    def __init__(self, app: ASGIApp, default: int, large: int, prefixes: tuple[str, ...]) -> None:
        self.default = BodySizeLimit(app, max_bytes=default)
        self.large = BodySizeLimit(app, max_bytes=large)
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith(self.prefixes):
            await self.large(scope, receive, send)
        else:
            await self.default(scope, receive, send)


class _TooLarge(HTTPException):
    """An HTTPException, so FastAPI's body parsing passes it on as a 413 rather than a 400."""

    def __init__(self) -> None:
        super().__init__(status_code=413, detail="payload_too_large")


async def _send_413(send: Send) -> None:
    response = error_response(413, "payload_too_large", "Isi permintaan terlalu besar.")
    await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


class Health(BaseModel):
    status: str  # ok | degraded | down
    service: str
    checks: dict[str, dict[str, Any]]


def health_response(service: str, checks: dict[str, dict[str, Any]], essential: str = "database") -> JSONResponse:
    """ok when every check passes, degraded when only inessential ones fail, down (503) otherwise."""
    status = "ok" if all(c["ok"] for c in checks.values()) else "degraded" if checks[essential]["ok"] else "down"
    body = Health(status=status, service=service, checks=checks)
    return JSONResponse(body.model_dump(), status_code=503 if status == "down" else 200)


def check_database(engine: Engine) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
    except Exception as exc:  # reported, not hidden: this is the health answer  # noqa: BLE001
        return {"ok": False, "error": type(exc).__name__}


def check_broker(celery_app) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
        return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": type(exc).__name__}


def cookieless_jar() -> http.cookiejar.CookieJar:
    """A cookie jar that keeps nothing: for an HTTP client that passes many people's requests on (the
    gateway, the web app's API client). httpx keeps every Set-Cookie it sees on the client and adds it to
    later requests that carry no Cookie header: through a shared client, a visitor with no cookie would be
    sent the session of whoever signed in last."""
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
