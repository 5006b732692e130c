"""The web session, for the dashboard page's script: one sign-in for ``/masuk`` and ``/dasbor``.

``/dasbor`` (served by the dashboard service, same origin) reads the APIs with a bearer token kept in
``sessionStorage``. A user who signed in on ``/masuk`` already has such a token in the web session's cookie
(HttpOnly: the script cannot read it), so the page asks for it here instead of showing its own sign-in form:

* ``POST /sesi/token``: the session's token as ``{"access_token", "token_type", "expires_in", "user"}``
  (the shape of ``POST /v1/auth/token``), ``Cache-Control: no-store``; 401 ``not_authenticated`` when nobody is
  signed in, 401 ``token_expired``/``token_invalid`` when the session's token no longer holds (the session is
  then ended, as the pages do on an API 401);
* ``POST /sesi/keluar``: ends the web session (as ``POST /keluar``), 204.

CSRF: both answer JSON, not forms, so they take no ``csrf_token`` field. Instead they require the header
``X-Pengaduan-Sesi: 1``: a page of another site can make a browser send the cookie with a plain form or a
"simple" fetch, but not with a custom header unless this origin grants a CORS preflight, which it never does.
Without the header (or with ``Sec-Fetch-Site`` naming another site): 403 ``sesi_header_required``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from services.web.adapters.api_client import ApiProblem, ApiUnavailable
from services.web.entrypoints.pages import api, end_session, session, settings
from shared.auth import TOKEN_MESSAGES, AuthError, decode_token
from shared.http import error_response

router = APIRouter()

HEADER = "X-Pengaduan-Sesi"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
USER_FIELDS = ("username", "full_name", "role", "kecamatan", "kabupaten", "unit")


def _refused(request: Request) -> JSONResponse | None:
    """403 unless the request carries the custom header (and, when the browser tells, comes from this site)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if request.headers.get(HEADER) != "1" or (fetch_site is not None and fetch_site not in ("same-origin", "none")):
        return _json_error(
            403,
            "sesi_header_required",
            "Permintaan ditolak: hanya halaman situs ini yang dapat meminta sesi. Muat ulang halaman.",
        )
    return None


def _json_error(status: int, code: str, message: str) -> JSONResponse:
    response = error_response(status, code, message)
    response.headers.update(NO_STORE)
    return response


@router.post("/sesi/token", include_in_schema=False)
async def session_token(request: Request) -> Response:
    refused = _refused(request)
    if refused is not None:
        return refused
    s = session(request)
    if not s.signed_in:
        return _json_error(401, "not_authenticated", TOKEN_MESSAGES["not_authenticated"])
    now = datetime.now(UTC)
    # The token is checked as the APIs check it (shared.auth.decode_token: the same key derived from the shared
    # PENGADUAN_SECRET_KEY, HS256, issuer, iat, exp), not merely trusted because it sits in our signed cookie:
    # an expired token is refused here rather than handed to the page, which would fail on its first read.
    try:
        decode_token(s.token, settings(request).secret_key, now)
    except AuthError as exc:
        s.sign_out()  # as the pages do when an API answers 401: sign in again
        return _json_error(401, exc.code, exc.message)
    # and as the APIs hold it now: not signed out elsewhere (a replayed cookie), the user still active
    try:
        await api(request).call("GET", "/v1/auth/me", token=s.token)
    except ApiProblem as exc:
        if exc.status == 401:
            s.sign_out()
            return _json_error(401, exc.code, exc.message)
        return _json_error(exc.status, exc.code, exc.message)
    except ApiUnavailable:
        return _json_error(503, "service_unavailable", "Layanan sedang tidak tersedia. Coba lagi sebentar.")
    # verified just above: read back its exp only
    exp = jwt.decode(s.token, options={"verify_signature": False})["exp"]
    body = {
        "access_token": s.token,
        "token_type": "bearer",
        "expires_in": max(0, int(exp - now.timestamp())),
        "user": {k: (s.user or {}).get(k) for k in USER_FIELDS},
    }
    return JSONResponse(body, headers=NO_STORE)


@router.post("/sesi/keluar", include_in_schema=False)
async def session_sign_out(request: Request) -> Response:
    refused = _refused(request)
    if refused is not None:
        return refused
    if session(request).signed_in:
        await end_session(request)
    return Response(status_code=204, headers=NO_STORE)
