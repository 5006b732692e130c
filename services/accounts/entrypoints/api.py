"""The sign-in router: ``POST /v1/auth/token`` (OAuth2 password flow, form-encoded, throttled),
``POST /v1/auth/logout`` and ``GET /v1/auth/me``. Served by the workflow API's process for now
(``pengaduan/apps.py``); the token it issues is checked by every API with ``shared.auth``.

The app that includes it keeps accounts' container in ``app.state.accounts`` and also calls
``shared.auth.install_auth``, because ``current_user`` finds the secret and the token guard on ``app.state``::

    install_error_handlers(app)                 # shared.http: the project's error shape
    install_auth(app, settings, engine)         # app.state.settings, the token guard, WWW-Authenticate on 401s
    app.state.accounts = bootstrap(settings, engine=engine)   # services.accounts.bootstrap
    app.include_router(router)
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from services.accounts.bootstrap import Accounts
from services.accounts.handlers import authenticate, load_principal
from shared.auth import CurrentUser, Unauthorized, create_token, current_token
from shared.http import ErrorBody, error_response
from shared.ratelimit import ServiceUnavailable, client_address

log = logging.getLogger(__name__)


class UserOut(BaseModel):
    username: str
    full_name: str
    role: str
    kecamatan: str | None = None
    kabupaten: str | None = None
    unit: str | None = None


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    user: UserOut


PasswordForm = Annotated[OAuth2PasswordRequestForm, Depends()]

INVALID_CREDENTIALS = "Nama pengguna atau kata sandi salah."
_UNAUTHORIZED_DOC = {401: {"model": ErrorBody, "description": "Not signed in, or the token expired or is invalid"}}


def accounts_of(request: Request) -> Accounts:
    """Accounts' container, kept by the app that serves this router (``pengaduan/apps.py`` sets it)."""
    accounts = getattr(request.app.state, "accounts", None)
    if accounts is None:
        raise RuntimeError("app.state.accounts is not set: the app that serves accounts' router must set it")
    return accounts


AccountsDep = Annotated[Accounts, Depends(accounts_of)]

router = APIRouter(tags=["auth"])


@router.post(
    "/v1/auth/token",
    response_model=TokenOut,
    responses={
        401: {"model": ErrorBody, "description": "Wrong username or password, or inactive user"},
        429: {
            "model": ErrorBody,
            "description": "Too many failed sign-ins for this account or from this "
            "address (`too_many_attempts`); `Retry-After` says when to try again",
        },
        503: {"model": ErrorBody, "description": "The sign-in counters cannot be reached"},
    },
    summary="Sign in: username and password for a bearer token",
)
def issue_token(form: PasswordForm, request: Request, accounts: AccountsDep) -> Any:
    guard = accounts.throttle
    address = client_address(request)
    guard.before(form.username, address)  # 429 before argon2 runs
    try:
        principal = authenticate(accounts.engine, form.username, form.password)
    except BaseException:  # the database away (a 503): the attempt's slot is given back
        guard.abandoned(form.username, address)
        raise
    if principal is None:
        guard.failed(form.username, address)
        log.info("failed sign-in")  # no username: people type passwords into that field too
        response = error_response(401, "invalid_credentials", INVALID_CREDENTIALS)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    guard.succeeded(form.username, address)
    log.info("signed in", extra={"username": principal.username, "role": principal.role})
    ttl = accounts.settings.token_ttl
    token = create_token(principal, accounts.settings.secret_key, datetime.now(UTC), ttl)
    return TokenOut(access_token=token, expires_in=int(ttl.total_seconds()), user=UserOut(**principal.as_dict()))


@router.get("/v1/auth/me", response_model=UserOut, responses=_UNAUTHORIZED_DOC, summary="The signed-in user")
def me(user: CurrentUser, accounts: AccountsDep) -> Any:
    # read back from the database: a deactivated user is refused here at once, and names are current
    fresh = load_principal(accounts.engine, user.username)
    if fresh is None:
        raise Unauthorized("not_authenticated", "Akun ini tidak aktif lagi. Hubungi admin kecamatan.")
    return UserOut(**fresh.as_dict())


@router.post(
    "/v1/auth/logout",
    status_code=204,
    responses={**_UNAUTHORIZED_DOC, 503: {"model": ErrorBody}},
    summary="Sign out: the bearer token is refused from now on, by every replica",
)
def logout(request: Request, accounts: AccountsDep) -> Response:
    principal, info = current_token(request)
    try:
        accounts.changes.revoke(info, datetime.now(UTC))
    except Exception:  # Redis away (or a bug): sign-out cannot be guaranteed, say so; the cause is logged
        log.warning("sign-out not recorded", exc_info=True)
        raise ServiceUnavailable from None
    log.info("signed out", extra={"username": principal.username})
    return Response(status_code=204)
