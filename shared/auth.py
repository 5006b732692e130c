"""Who is asking: bearer tokens, and the FastAPI pieces every API uses to check them.

Users are the accounts service's (``services/accounts``: the users, their passwords, the sign-in router that
issues tokens); this module reads them only through its contract, the staff directory
(``shared/contracts/accounts.py``, ``shared/staff_directory.py``).

Tokens are HS256 JWTs signed with a key derived from ``Settings.secret_key``, with an id (``jti``); they
carry the user's role and scope. The format is written here next to its reader (``create_token``, which
accounts' sign-in calls, and tests and the bench to mint tokens), so the two cannot drift apart. A token lives
``DEFAULT_TTL`` (a working day), and every request checks it against the user's current state (``TokenGuard``):
a token whose id was revoked (``POST /v1/auth/logout``), of a user deactivated, given a new password or moved
since it was issued (``tokens_valid_after``), or whose role, kecamatan, kabupaten or unit no longer match the
user's, is refused. Each process keeps what it read of a user for ``PENGADUAN_AUTH_USER_CACHE_SECONDS``; a change
made by accounts also bumps a marker in Redis (accounts' ``UserChanges``) that the check reads with the
revocation list in one round trip, so every replica sees it at once. Redis unreachable: 503, never a token let
through unchecked.

An API that checks tokens (the app must set ``app.state.settings``: ``current_user`` reads the secret there)::

    app = FastAPI()
    install_error_handlers(app)                 # shared.http: the project's error shape
    install_auth(app, settings, engine)         # app.state.settings, the token guard, WWW-Authenticate on 401s

    @app.get("/v1/something")
    def something(user: CurrentUser) -> ...: ...
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Engine, select

from shared.config import Settings
from shared.contracts.accounts import KABUPATEN_ROLES, KECAMATAN_ROLES, ROLES
from shared.http import ApiError, error_response
from shared.ratelimit import ServiceUnavailable
from shared.staff_directory import staff_directory

log = logging.getLogger(__name__)

ISSUER = "pengaduan"
DEFAULT_TTL = timedelta(hours=8)
CLOCK_SKEW = timedelta(minutes=5)  # tokens issued "in the future" by a replica whose clock runs ahead


# --- who ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """The user a request acts for, as the token (or the database) tells."""

    username: str
    full_name: str
    role: str
    kecamatan: str | None = None
    kabupaten: str | None = None
    unit: str | None = None

    @property
    def is_staff(self) -> bool:
        """Kecamatan staff: staf, kasi, sekcam or camat."""
        return self.role in KECAMATAN_ROLES

    @property
    def is_kabupaten(self) -> bool:
        """Bound to one kabupaten (``kabupaten`` or ``pdp``): reads every kecamatan of it, masked."""
        return self.role in KABUPATEN_ROLES

    @property
    def is_data_protection(self) -> bool:
        """The kabupaten's data-protection officer (Pejabat Pelindungan Data Pribadi, UU 27/2022 art. 53)."""
        return self.role == "pdp"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def can_read_kecamatan(self, slug: str, kabupaten_of_slug: str | None) -> bool:
        """Invariant 6: staff read their own kecamatan only, kabupaten users every kecamatan of their
        kabupaten, admins all. ``kabupaten_of_slug`` is the kabupaten the kecamatan ``slug`` belongs to
        (from the kecamatan directory)."""
        if self.is_admin:
            return True
        if self.is_staff:
            return self.kecamatan is not None and slug == self.kecamatan
        if self.is_kabupaten:
            return self.kabupaten is not None and kabupaten_of_slug == self.kabupaten
        return False

    @classmethod
    def from_row(cls, row: Any) -> Principal:
        """The principal of a user row (the staff directory's, or accounts' own table)."""
        return cls(row.username, row.full_name, row.role, row.kecamatan, row.kabupaten, row.unit)

    def as_dict(self) -> dict[str, str | None]:
        return {
            "username": self.username,
            "full_name": self.full_name,
            "role": self.role,
            "kecamatan": self.kecamatan,
            "kabupaten": self.kabupaten,
            "unit": self.unit,
        }


def refuse_personal_document(user: Principal, confidential: bool = False) -> None:
    """A document carrying personal data (scan, photo, receipt, draft, letter) asked for by a reader who may
    read the complaint only masked (``shared.masking.sees_personal_data``): 403 ``personal_data_not_available``
    (no redacted version exists)."""
    from shared.masking import sees_personal_data

    if not sees_personal_data(user, confidential):
        raise ApiError(
            403,
            "personal_data_not_available",
            "Pengadu meminta identitasnya dirahasiakan: dokumen ini hanya dapat dibuka oleh Kasi/Kasubag dan Camat."
            if confidential and user.is_staff
            else "Dokumen ini memuat data pribadi pengadu dan hanya dapat dibuka oleh petugas kecamatannya.",
        )


# --- tokens ---------------------------------------------------------------------------------------


class AuthError(Exception):
    """A token that cannot be accepted; ``code`` is ``token_expired`` or ``token_invalid``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


TOKEN_MESSAGES = {
    "not_authenticated": "Silakan masuk terlebih dahulu.",
    "token_expired": "Sesi Anda sudah berakhir. Silakan masuk kembali.",
    "token_invalid": "Token tidak sah. Silakan masuk kembali.",
    "token_revoked": "Sesi ini sudah diakhiri. Silakan masuk kembali.",
    "account_inactive": "Akun ini tidak aktif lagi. Hubungi admin kecamatan.",
}


def _signing_key(secret: str) -> bytes:
    # A key of its own for tokens (secret_key may sign other things later), always 32 bytes for HS256.
    # It adds no entropy: production must still set a long random PENGADUAN_SECRET_KEY.
    return hmac.new(secret.encode(), b"pengaduan/auth-token/v1", hashlib.sha256).digest()


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")


@dataclass(frozen=True)
class TokenInfo:
    """What a valid token says besides who: its id and its lifetime (seconds since the epoch)."""

    token_id: str
    issued_at: int
    expires_at: int
    issued_at_ms: int  # milliseconds: a token issued just after a deactivation or a new password is not refused


def create_token(
    principal: Principal, secret: str, now: datetime, ttl: timedelta = DEFAULT_TTL, token_id: str | None = None
) -> str:
    _require_aware(now)
    issued = int(now.timestamp())
    claims = {
        "iss": ISSUER,
        "jti": token_id or str(uuid.uuid4()),
        "iat_ms": int(now.timestamp() * 1000),
        "sub": principal.username,
        "name": principal.full_name,
        "role": principal.role,
        "kecamatan": principal.kecamatan,
        "kabupaten": principal.kabupaten,
        "unit": principal.unit,
        "iat": issued,
        "exp": issued + int(ttl.total_seconds()),
    }
    return jwt.encode(claims, _signing_key(secret), algorithm="HS256")


def decode_token(token: str, secret: str, now: datetime) -> Principal:
    """The principal a token names, checked at ``now``; raises ``AuthError``."""
    return decode_token_info(token, secret, now)[0]


def decode_token_info(token: str, secret: str, now: datetime) -> tuple[Principal, TokenInfo]:
    """The principal a token names and the token's id and lifetime, checked at ``now``; raises ``AuthError``.
    Only the signature and the time are checked here; ``TokenGuard`` checks it against the user's state."""
    _require_aware(now)
    invalid = AuthError("token_invalid", TOKEN_MESSAGES["token_invalid"])
    try:
        claims = jwt.decode(
            token,
            _signing_key(secret),
            algorithms=["HS256"],
            issuer=ISSUER,
            # time is checked below against the ``now`` passed in, not pyjwt's own clock
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "require": ["sub", "iat", "exp", "iss", "jti"],
            },
        )
    except jwt.InvalidTokenError:
        raise invalid from None
    exp, iat = claims.get("exp"), claims.get("iat")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (exp, iat)):
        raise invalid
    moment = now.timestamp()
    if iat > moment + CLOCK_SKEW.total_seconds():
        raise invalid
    if exp <= moment:
        raise AuthError("token_expired", TOKEN_MESSAGES["token_expired"])
    try:
        principal = Principal(
            username=_text(claims["sub"], required=True),
            full_name=_text(claims.get("name"), required=True),
            role=_text(claims.get("role"), required=True),
            kecamatan=_text(claims.get("kecamatan")),
            kabupaten=_text(claims.get("kabupaten")),
            unit=_text(claims.get("unit")),
        )
    except ValueError:
        raise invalid from None
    if principal.role not in ROLES or (principal.is_staff and not principal.kecamatan):
        raise invalid
    if principal.is_kabupaten and (not principal.kabupaten or principal.kecamatan):
        raise invalid
    token_id = claims.get("jti")
    if not isinstance(token_id, str) or not 0 < len(token_id) <= 64:
        raise invalid
    iat_ms = claims.get("iat_ms", iat * 1000)
    if not isinstance(iat_ms, int) or isinstance(iat_ms, bool) or not iat * 1000 <= iat_ms < (iat + 1) * 1000:
        raise invalid
    return principal, TokenInfo(token_id, iat, exp, iat_ms)


def _text(value: Any, required: bool = False) -> Any:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError("not a string")
    return value


# --- the token checked against the user's current state -------------------------------------------

# what the guard reads in Redis; accounts writes it (services/accounts/adapters/sessions.py: UserChanges)
REVOKED_KEY = "pengaduan:auth:revoked:{}"  # a token id signed out (value 1) until the token's expiry
CHANGED_KEY = "pengaduan:auth:changed:{}"  # a new random value each time a user is changed, for the caches
CHANGED_KEY_TTL = int((DEFAULT_TTL + CLOCK_SKEW).total_seconds()) + 60  # after it no token of before is alive


def cache_client(settings: Settings):
    """The Redis client of the token guard, and of accounts, which writes what the guard reads
    (``PENGADUAN_CACHE_URL``, else ``PENGADUAN_REDIS_URL``)."""
    import redis

    return redis.Redis.from_url(settings.effective_cache_url, socket_timeout=1.0, socket_connect_timeout=1.0)


@dataclass(frozen=True)
class _UserState:
    principal: Principal
    active: bool
    tokens_valid_after: float | None  # epoch seconds
    read_at: float  # time.monotonic() when it was read
    marker: bytes | None  # the user's change marker when it was read: another one means "read again"


# what the guard reads of a user (the staff directory: shared/contracts/accounts.py)
_GUARD_COLUMNS = tuple(
    staff_directory.c[name]
    for name in ("username", "full_name", "role", "kecamatan", "kabupaten", "unit", "active", "tokens_valid_after")
)


class TokenGuard:
    """Every token, every request: not revoked, its user active, unchanged since the token was issued.

    One Redis round trip per request (the token's revocation and the user's change marker, MGET); the user's
    row is read from PostgreSQL at most every ``cache_seconds`` per process, or at once after a change."""

    def __init__(self, engine: Engine, client, cache_seconds: float) -> None:
        self._engine = engine
        self._client = client
        self._cache_seconds = cache_seconds
        self._cache: dict[str, _UserState] = {}
        self._lock = threading.Lock()

    def check(self, principal: Principal, info: TokenInfo) -> Principal:
        try:
            revoked, changed = self._client.mget(
                REVOKED_KEY.format(info.token_id), CHANGED_KEY.format(principal.username)
            )
        except Exception as exc:  # redis down: refuse rather than let a revoked token through  # noqa: BLE001
            log.warning("token check impossible: cache unreachable", extra={"error": str(exc)[:200]})
            raise ServiceUnavailable from None
        if revoked is not None:
            raise Unauthorized("token_revoked")
        state = self._user(principal.username, changed)
        if state is None or not state.active:
            raise Unauthorized("account_inactive")
        if state.tokens_valid_after is not None and info.issued_at_ms <= state.tokens_valid_after * 1000:
            raise Unauthorized("token_revoked")
        if state.principal != principal:
            # role, kecamatan, kabupaten, unit or name changed since the token was issued: sign in again
            current = state.principal
            if (current.role, current.kecamatan, current.kabupaten, current.unit) != (
                principal.role,
                principal.kecamatan,
                principal.kabupaten,
                principal.unit,
            ):
                raise Unauthorized("token_revoked")
            return current  # only the name changed: act with the current one
        return principal

    def _user(self, username: str, marker: bytes | None) -> _UserState | None:
        # the marker is compared for equality, not as a time: hosts' clocks need not agree
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(username)
        if cached is not None and now - cached.read_at < self._cache_seconds and marker == cached.marker:
            return cached
        with self._engine.connect() as conn:
            row = conn.execute(select(*_GUARD_COLUMNS).where(staff_directory.c.username == username)).first()
        if row is None:
            with self._lock:
                self._cache.pop(username, None)
            return None
        state = _UserState(
            Principal.from_row(row),
            row.active,
            row.tokens_valid_after.timestamp() if row.tokens_valid_after is not None else None,
            now,
            marker,
        )
        with self._lock:
            if len(self._cache) > 10_000:  # bounded: a deployment has hundreds of users, not millions
                self._cache.clear()
            self._cache[username] = state
        return state


# --- FastAPI --------------------------------------------------------------------------------------


class Unauthorized(ApiError):
    """A 401 in the project's error shape. ``install_auth`` adds ``WWW-Authenticate: Bearer`` to it; an app
    without it still answers the same body through ``shared.http``'s ApiError handler."""

    headers = {"WWW-Authenticate": "Bearer"}

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(401, code, message or TOKEN_MESSAGES.get(code, TOKEN_MESSAGES["token_invalid"]))


def _unauthorized_response(exc: Unauthorized) -> JSONResponse:
    response = error_response(exc.status, exc.code, exc.message, exc.errors)
    response.headers.update(exc.headers)
    return response


def install_auth(app: FastAPI, settings: Settings, engine: Engine) -> None:
    """Sets ``app.state.settings`` (where ``current_user`` finds the secret) and ``app.state.token_guard``
    (every token checked against its user's current state), and answers every 401 with
    ``WWW-Authenticate: Bearer``. Call it next to ``shared.http.install_error_handlers``."""
    app.state.settings = settings
    app.state.token_guard = TokenGuard(engine, cache_client(settings), settings.auth_user_cache_seconds)

    @app.exception_handler(Unauthorized)
    async def _unauthorized(_: Request, exc: Unauthorized) -> JSONResponse:
        return _unauthorized_response(exc)


# Declares the bearer scheme in OpenAPI (the docs' "Authorize" button); current_user reads the header itself.
bearer_scheme = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)


def _settings_of(request: Request) -> Settings:
    settings = getattr(request.app.state, "settings", None)
    if settings is None:
        raise RuntimeError("app.state.settings is not set: the app that uses shared.auth must set it (install_auth)")
    return settings


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("not_authenticated")
    return token


def _checked(request: Request, token: str) -> tuple[Principal, TokenInfo]:
    try:
        principal, info = decode_token_info(token, _settings_of(request).secret_key, datetime.now(UTC))
    except AuthError as exc:
        raise Unauthorized(exc.code, exc.message) from None
    guard: TokenGuard | None = getattr(request.app.state, "token_guard", None)
    if guard is None:
        raise RuntimeError("app.state.token_guard is not set: the app that uses shared.auth must call install_auth")
    return guard.check(principal, info), info


def current_token(request: Request) -> tuple[Principal, TokenInfo]:
    """The principal and the token of ``Authorization: Bearer <token>``, checked as ``current_user`` checks
    it (for a route that needs the token itself, e.g. to sign it out)."""
    return _checked(request, _bearer(request))


def current_user(request: Request, _scheme: Annotated[str | None, Depends(bearer_scheme)] = None) -> Principal:
    """The principal of ``Authorization: Bearer <token>``, checked against the user's current state; 401
    ``not_authenticated``, ``token_expired``, ``token_invalid``, ``token_revoked`` or ``account_inactive``
    otherwise (503 when the check cannot be made). The secret comes from ``request.app.state.settings``."""
    return _checked(request, _bearer(request))[0]


CurrentUser = Annotated[Principal, Depends(current_user)]
