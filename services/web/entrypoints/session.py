"""Browser sessions and CSRF protection.

One cookie, ``pengaduan_sesi``: signed (itsdangerous, with a key derived from ``secret_key``), HttpOnly,
SameSite=Lax, Secure when the site is served over TLS, holding

* ``csrf``: a random value, also written into every form as ``csrf_token``; a POST whose field does not
  match the cookie's is refused (403). A cross-site page cannot read the cookie nor forge its signature;
* for a signed-in user: the bearer token the workflow API issued (``POST /v1/auth/token``) and who they
  are (username, role, kecamatan, display name), read from the API's ``/v1/auth/me`` at sign-in.

Citizens (no login) get a cookie with only ``csrf`` the first time they open a form. The JSON APIs keep their
bearer tokens. The server-rendered pages never hand the token to a script; the one exception is the
dashboard page (``/dasbor``, its own script), which asks ``POST /sesi/token`` (same origin, a custom header
no cross-site page can send) so a user signed in here need not sign in again there.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from fastapi import Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "pengaduan_sesi"
CSRF_FIELD = "csrf_token"


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    key = hmac.new(secret_key.encode(), b"pengaduan web session", hashlib.sha256).hexdigest()
    return URLSafeTimedSerializer(key, salt="sesi")


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    token: str | None = None
    user: dict[str, Any] | None = None  # username, role, kecamatan, name, unit
    flash: str | None = None  # one message for the next page (after a redirect)
    changed: bool = False

    @property
    def signed_in(self) -> bool:
        return bool(self.token and self.user)

    @property
    def role(self) -> str | None:
        return self.user.get("role") if self.user else None

    def sign_in(self, token: str, user: dict[str, Any]) -> None:
        self.token, self.user = token, user
        self.csrf = secrets.token_urlsafe(24)  # a new value at every change of who is signed in
        self.changed = True

    def sign_out(self) -> None:
        self.token = self.user = None
        self.csrf = secrets.token_urlsafe(24)
        self.changed = True

    def set_flash(self, message: str) -> None:
        self.flash = message
        self.changed = True

    def pop_flash(self) -> str | None:
        message, self.flash = self.flash, None
        if message:
            self.changed = True
        return message

    def csrf_ok(self, submitted: str | None) -> bool:
        return bool(submitted) and hmac.compare_digest(submitted.encode(), self.csrf.encode())


def load(request: Request, secret_key: str, max_age: int) -> Session:
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            data = _serializer(secret_key).loads(raw, max_age=max_age)
            return Session(csrf=data["c"], token=data.get("t"), user=data.get("u"), flash=data.get("f"))
        except (BadSignature, KeyError, TypeError):
            pass
    return Session(changed=True)


def store(response: Response, session: Session, secret_key: str, max_age: int, secure: bool) -> None:
    if session.token:  # the cookie lives no longer than the token in it (then: sign in again, cleanly)
        max_age = max(0, min(max_age, _seconds_left(session.token)))
    data: dict[str, Any] = {"c": session.csrf}
    if session.token:
        data["t"], data["u"] = session.token, session.user
    if session.flash:
        data["f"] = session.flash
    response.set_cookie(
        COOKIE,
        _serializer(secret_key).dumps(data),
        max_age=max_age,
        httponly=True,
        secure=secure,
        samesite="lax",
        path="/",
    )


def _seconds_left(token: str) -> int:
    """Seconds until the bearer token expires (read without checking its signature: the APIs check it on
    every call; this only bounds the cookie's life)."""
    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return 0
    return int(exp - time.time()) if exp else 0
