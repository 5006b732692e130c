"""The sign-in router: ``POST /v1/auth/token`` (OAuth2 password flow, form-encoded, throttled),
``POST /v1/auth/logout`` and ``GET /v1/auth/me``. Served by the workflow API's process for now
(``pengaduan/apps.py``); the token it issues is checked by every API with ``shared.auth``.

The app that includes it must also call ``shared.auth.install_auth``, because ``current_user`` finds the
secret and the token guard on ``app.state``::

    install_error_handlers(app)                 # shared.http: the project's error shape
    install_auth(app, settings, engine)         # app.state.settings, the token guard, WWW-Authenticate on 401s
    app.include_router(make_auth_router(lambda r: engine, lambda r: r.app.state.settings))
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel
from sqlalchemy import Engine

from services.accounts.entrypoints.throttle import SignInThrottle
from services.accounts.handlers import authenticate, load_principal
from shared.auth import DEFAULT_TTL, CurrentUser, Unauthorized, UserChanges, cache_client, create_token, current_token
from shared.config import Settings
from shared.http import ErrorBody, error_response
from shared.ratelimit import ServiceUnavailable, client_address, limiter_for

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


def make_auth_router(
    get_engine: Callable[[Request], Engine], get_settings: Callable[[Request], Settings], ttl: timedelta = DEFAULT_TTL
) -> APIRouter:
    """``POST /v1/auth/token``, ``POST /v1/auth/logout`` and ``GET /v1/auth/me``, reading users from
    ``get_engine(request)`` and the secret and limits from ``get_settings(request)``."""
    router = APIRouter(tags=["auth"])
    state: dict[str, Any] = {}

    def throttle(request: Request) -> SignInThrottle:
        if "throttle" not in state:  # built on first use, from the app's settings (nothing at import time)
            settings = get_settings(request)
            state["throttle"] = SignInThrottle(limiter_for(settings), settings)
        return state["throttle"]

    def changes(request: Request) -> UserChanges:
        if "changes" not in state:
            state["changes"] = UserChanges(cache_client(get_settings(request)))
        return state["changes"]

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
    def issue_token(form: PasswordForm, request: Request) -> Any:
        guard = throttle(request)
        address = client_address(request)
        guard.before(form.username, address)  # 429 before argon2 runs
        try:
            principal = authenticate(get_engine(request), form.username, form.password)
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
        token = create_token(principal, get_settings(request).secret_key, datetime.now(UTC), ttl)
        return TokenOut(access_token=token, expires_in=int(ttl.total_seconds()), user=UserOut(**principal.as_dict()))

    @router.get("/v1/auth/me", response_model=UserOut, responses=_UNAUTHORIZED_DOC, summary="The signed-in user")
    def me(user: CurrentUser, request: Request) -> Any:
        # read back from the database: a deactivated user is refused here at once, and names are current
        fresh = load_principal(get_engine(request), user.username)
        if fresh is None:
            raise Unauthorized("not_authenticated", "Akun ini tidak aktif lagi. Hubungi admin kecamatan.")
        return UserOut(**fresh.as_dict())

    @router.post(
        "/v1/auth/logout",
        status_code=204,
        responses={**_UNAUTHORIZED_DOC, 503: {"model": ErrorBody}},
        summary="Sign out: the bearer token is refused from now on, by every replica",
    )
    def logout(request: Request) -> Response:
        principal, info = current_token(request)
        try:
            changes(request).revoke(info, datetime.now(UTC))
        except Exception:  # Redis away (or a bug): sign-out cannot be guaranteed, say so; the cause is logged
            log.warning("sign-out not recorded", exc_info=True)
            raise ServiceUnavailable from None
        log.info("signed out", extra={"username": principal.username})
        return Response(status_code=204)

    return router
