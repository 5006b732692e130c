"""Who is asking: users, passwords, bearer tokens, and the FastAPI pieces that check them.

Users live in ``tenancy.users`` (migration 0002); other services, and the token check here, read them through
the staff directory (``shared/contracts/accounts.py``). A user is one of

- kecamatan staff (``staf``, ``kasi``, ``sekcam``, ``camat``): bound to one kecamatan; a kasi also to a unit
  (``pemerintahan``, ``trantib``, ``kesra``, ``pmd``, ``pelayanan umum``, ...);
- ``kabupaten``: reads every kecamatan of one kabupaten (regency), touches none;
- ``admin``: operates the deployment.

Tokens are HS256 JWTs signed with a key derived from ``Settings.secret_key``, with an id (``jti``); they
carry the user's role and scope. A token lives ``DEFAULT_TTL`` (a working day), and every request checks it
against the user's current state (``TokenGuard``): a token whose id was revoked (``POST /v1/auth/logout``),
of a user deactivated, given a new password or moved since it was issued (``tokens_valid_after``), or whose
role, kecamatan, kabupaten or unit no longer match the user's, is refused. Each process keeps what it read of
a user for ``PENGADUAN_AUTH_USER_CACHE_SECONDS``; a change made through this module also bumps a marker in
Redis that the check reads with the revocation list in one round trip, so every replica sees it at once.
Redis unreachable: 503, never a token let through unchecked.

Sign-in is throttled (``SignInThrottle``): failures are counted per account and per client address in Redis;
beyond ``PENGADUAN_RATE_LIMIT_SIGNIN_*`` the answer is 429 with ``Retry-After``, before the password is hashed
(argon2 costs ~0.1 s of CPU: an unthrottled endpoint is also a way to burn CPU).

Mounting the router (the app must set ``app.state.settings``: ``current_user`` reads the secret there)::

    app = FastAPI()
    install_error_handlers(app)                 # shared.http: the project's error shape
    install_auth(app, settings, engine)         # app.state.settings, the token guard, WWW-Authenticate on 401s
    app.include_router(make_auth_router(lambda r: r.app.state.engine, lambda r: r.app.state.settings))

    @app.get("/v1/something")
    def something(user: CurrentUser) -> ...: ...
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pwdlib import PasswordHash
from pwdlib.exceptions import PwdlibError
from pwdlib.hashers.argon2 import Argon2Hasher
from pydantic import BaseModel
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Table,
    Text,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from shared.config import Settings
from shared.contracts.accounts import KECAMATAN_ROLES, ROLES
from shared.http import ApiError, ErrorBody, error_response
from shared.ratelimit import (
    RateLimitUnavailable,
    RateLimiter,
    ServiceUnavailable,
    TooManyRequests,
    client_address,
    limiter_for,
    parse_limits,
)
from shared.staff_directory import staff_directory
from shared.tenancy import Kecamatan, kecamatan_table, metadata

log = logging.getLogger(__name__)

USERNAME_PATTERN = re.compile(r"^[a-z0-9._-]{3,64}$")
NIP_PATTERN = re.compile(r"^[0-9]{18}$")
ISSUER = "pengaduan"
DEFAULT_TTL = timedelta(hours=8)
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; this bounds the work one request can ask for
CLOCK_SKEW = timedelta(minutes=5)  # tokens issued "in the future" by a replica whose clock runs ahead

users = Table(
    "users",
    metadata,  # shared.tenancy's: schema "tenancy", so the foreign key to the kecamatan resolves
    Column("username", Text, primary_key=True),
    Column("full_name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("kecamatan", Text, ForeignKey(kecamatan_table.c.slug), nullable=True),
    Column("kabupaten", Text, nullable=True),
    Column("unit", Text, nullable=True),
    Column("nip", Text, nullable=True),
    Column("password_hash", Text, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    # where notify reaches the user (migration 0006): overdue alerts always, new work when they ask for it
    Column("email", Text, nullable=True),
    Column("phone", Text, nullable=True),
    Column("notify_channel", Text, nullable=False, server_default=text("'email'")),
    Column("notify_new_work", Boolean, nullable=False, server_default=text("false")),
    # tokens issued before this are refused (migration 0009): deactivation, a new password, a move
    Column("tokens_valid_after", DateTime(timezone=True), nullable=True),
)  # the constraints (role, scope per role, formats) are in migration 0002


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
        return self.role == "kabupaten"

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

    def as_dict(self) -> dict[str, str | None]:
        return {
            "username": self.username,
            "full_name": self.full_name,
            "role": self.role,
            "kecamatan": self.kecamatan,
            "kabupaten": self.kabupaten,
            "unit": self.unit,
        }


# --- passwords ------------------------------------------------------------------------------------

_password_hash = PasswordHash((Argon2Hasher(),))


def hash_password(password: str) -> str:
    return _password_hash.hash(password)


@cache
def _dummy_hash() -> str:
    # made once per process, on first use, with the same parameters as real hashes
    return _password_hash.hash("pengaduan-dummy-password-for-unknown-users")


def verify_password(password: str, password_hash: str | None) -> bool:
    """True when ``password`` matches. With no hash (unknown user) it still runs one argon2 verification
    against a dummy hash and answers False, so unknown and known users take about the same time and a
    caller cannot tell which usernames exist."""
    return _verify_and_update(password, password_hash)[0]


def _verify_and_update(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """(matches, new hash when the hashing parameters changed since ``password_hash`` was made)."""
    if password_hash is None or len(password) > MAX_PASSWORD_LENGTH:
        _password_hash.verify("pengaduan-dummy-password-for-unknown-users!", _dummy_hash())
        return False, None
    try:
        return _password_hash.verify_and_update(password, password_hash)
    except PwdlibError:  # a hash in an unknown format: no match, never a 500
        return False, None


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


def create_token(principal: Principal, secret: str, now: datetime, ttl: timedelta = DEFAULT_TTL,
                 token_id: str | None = None) -> str:
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
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                     "require": ["sub", "iat", "exp", "iss", "jti"]},
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


# --- users in the database ------------------------------------------------------------------------


@dataclass(frozen=True)
class UserInfo:
    """A user as administration sees it (never the password hash)."""

    username: str
    full_name: str
    role: str
    kecamatan: str | None
    kabupaten: str | None
    unit: str | None
    nip: str | None
    active: bool
    created_at: datetime


def normalize_username(username: str) -> str:
    return username.strip().lower()


def add_user(
    engine: Engine,
    username: str,
    full_name: str,
    role: str,
    password: str,
    kecamatan: str | None = None,
    kabupaten: str | None = None,
    unit: str | None = None,
    nip: str | None = None,
    min_password_length: int = 12,
) -> None:
    """Adds one active user; raises ValueError with a message a person can act on."""
    check_new_password(password, min_password_length)
    with engine.connect() as conn:
        row = _validated_row(conn, username, full_name, role, kecamatan, kabupaten, unit, nip)
    row["password_hash"] = hash_password(password)  # outside any transaction: it takes ~0.1 s
    try:
        with engine.begin() as conn:
            conn.execute(users.insert().values(**row))
    except IntegrityError as exc:
        if "users_pkey" in str(exc.orig):
            raise ValueError(f"user {row['username']!r} already exists") from None
        raise ValueError(f"user {row['username']!r} refused by the database: {exc.orig}") from None


def check_new_password(password: str, min_length: int) -> None:
    """A new password is long enough (``PENGADUAN_PASSWORD_MIN_LENGTH``) and within the bound argon2 is
    given; raises ValueError. Length is what protects a password against guessing (NIST SP 800-63B): no
    composition rules."""
    if not password:
        raise ValueError("password must not be empty")
    if len(password) < min_length:
        raise ValueError(f"password is {len(password)} characters long; at least {min_length} are needed")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"password is longer than {MAX_PASSWORD_LENGTH} characters")


def _validated_row(conn, username, full_name, role, kecamatan, kabupaten, unit, nip) -> dict[str, Any]:
    username = normalize_username(username or "")
    if not USERNAME_PATTERN.fullmatch(username):
        raise ValueError(
            f"username {username!r} is not valid: use 3 to 64 of a-z, 0-9, '.', '_' or '-' (e.g. staf.pegantenan)"
        )
    full_name = (full_name or "").strip()
    if not full_name:
        raise ValueError("full name must not be empty")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    kecamatan = (kecamatan or "").strip().lower() or None
    kabupaten = (kabupaten or "").strip().lower() or None
    unit = (unit or "").strip() or None
    nip = (nip or "").replace(" ", "") or None
    if nip is not None and not NIP_PATTERN.fullmatch(nip):
        raise ValueError("NIP must be 18 digits")

    if role in KECAMATAN_ROLES:
        if kecamatan is None:
            raise ValueError(f"role {role!r} needs a kecamatan")
        found = conn.execute(
            select(kecamatan_table.c.kabupaten_slug, kecamatan_table.c.active).where(kecamatan_table.c.slug == kecamatan)
        ).first()
        if found is None:
            raise ValueError(f"unknown kecamatan {kecamatan!r} (run `pengaduan seed-demo` or add it first)")
        if not found.active:
            raise ValueError(f"kecamatan {kecamatan!r} is not active")
        if kabupaten is not None and kabupaten != found.kabupaten_slug:
            raise ValueError(f"kecamatan {kecamatan!r} belongs to kabupaten {found.kabupaten_slug!r}, not {kabupaten!r}")
        kabupaten = found.kabupaten_slug
        if role == "kasi" and unit is None:
            raise ValueError("role 'kasi' needs a unit (e.g. pemerintahan, trantib, kesra, pmd, pelayanan umum)")
    else:
        if kecamatan is not None:
            raise ValueError(f"role {role!r} is not bound to a kecamatan; leave the kecamatan out")
        if unit is not None:
            raise ValueError(f"role {role!r} has no unit; leave the unit out")
        if role == "kabupaten":
            if kabupaten is None:
                raise ValueError("role 'kabupaten' needs a kabupaten")
            known = conn.execute(
                select(kecamatan_table.c.slug).where(kecamatan_table.c.kabupaten_slug == kabupaten).limit(1)
            ).first()
            if known is None:
                raise ValueError(f"unknown kabupaten {kabupaten!r}: no kecamatan of it is registered")
        elif kabupaten is not None:
            raise ValueError(f"role {role!r} is not bound to a kabupaten; leave the kabupaten out")
    return {
        "username": username,
        "full_name": full_name,
        "role": role,
        "kecamatan": kecamatan,
        "kabupaten": kabupaten,
        "unit": unit,
        "nip": nip,
    }


def _principal(row: Any) -> Principal:
    return Principal(row.username, row.full_name, row.role, row.kecamatan, row.kabupaten, row.unit)


def authenticate(engine: Engine, username: str, password: str) -> Principal | None:
    """The principal when the password matches an active user, else None (same time either way)."""
    name = normalize_username(username or "")
    row = None
    if USERNAME_PATTERN.fullmatch(name):
        with engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username == name)).first()
    # the password is checked even for inactive users: their answer takes as long as anyone's
    valid, updated = _verify_and_update(password or "", row.password_hash if row is not None else None)
    if not valid or not row.active:
        return None
    if updated is not None:  # hashing parameters changed since this hash was made: store the new one
        with engine.begin() as conn:
            conn.execute(update(users).where(users.c.username == row.username).values(password_hash=updated))
    return _principal(row)


def load_principal(engine: Engine, username: str) -> Principal | None:
    """The current state of an active user (None when unknown or deactivated)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(users).where(users.c.username == normalize_username(username), users.c.active.is_(True))
        ).first()
    return _principal(row) if row is not None else None


def set_active(engine: Engine, username: str, active: bool, changes: "UserChanges | None" = None) -> bool:
    """Activates or deactivates a user; False when there is no such user. Deactivation ends every token
    the user holds (``tokens_valid_after``), and ``changes`` tells every replica at once."""
    values: dict[str, Any] = {"active": active}
    if not active:
        values["tokens_valid_after"] = text("now()")
    with engine.begin() as conn:
        result = conn.execute(update(users).where(users.c.username == normalize_username(username)).values(**values))
    if result.rowcount == 1 and changes is not None:
        changes.changed(normalize_username(username))
    return result.rowcount == 1


def set_password(engine: Engine, username: str, password: str, min_length: int,
                 changes: "UserChanges | None" = None) -> None:
    """A new password; every token issued before it is refused from now on. Raises ValueError."""
    check_new_password(password, min_length)
    password_hash = hash_password(password)
    with engine.begin() as conn:
        result = conn.execute(
            update(users).where(users.c.username == normalize_username(username))
            .values(password_hash=password_hash, tokens_valid_after=text("now()"))
        )
    if result.rowcount != 1:
        raise ValueError(f"unknown user {username!r}")
    if changes is not None:
        changes.changed(normalize_username(username))


def list_users(engine: Engine, kecamatan: str | None = None) -> list[UserInfo]:
    query = select(*(users.c[name] for name in UserInfo.__dataclass_fields__)).order_by(
        users.c.kecamatan.nulls_first(), users.c.role, users.c.username
    )
    if kecamatan:
        query = query.where(users.c.kecamatan == kecamatan.strip().lower())
    with engine.connect() as conn:
        return [UserInfo(**r) for r in conn.execute(query).mappings()]


DEMO_PASSWORD = "demo"


def demo_users(items: Iterable[Kecamatan]) -> list[dict[str, Any]]:
    """Four staff per kecamatan (``staf.K``, ``kasi.K``, ``sekcam.K``, ``camat.K``), one watcher per
    kabupaten (``kabupaten.B``) and ``admin``."""
    rows: list[dict[str, Any]] = []
    kabupaten: dict[str, str] = {}
    for k in items:
        kabupaten.setdefault(k.kabupaten_slug, k.kabupaten_name)
        for role, name, unit in (
            ("staf", f"Staf Kecamatan {k.name}", None),
            ("kasi", f"Kasi Pemerintahan Kecamatan {k.name}", "pemerintahan"),
            ("sekcam", f"Sekretaris Kecamatan {k.name}", None),
            ("camat", f"Camat {k.name}", None),
        ):
            rows.append(
                {"username": f"{role}.{k.slug}", "full_name": name, "role": role, "kecamatan": k.slug,
                 "kabupaten": k.kabupaten_slug, "unit": unit}
            )
    for slug, name in kabupaten.items():
        rows.append(
            {"username": f"kabupaten.{slug}", "full_name": f"Operator {name}", "role": "kabupaten",
             "kecamatan": None, "kabupaten": slug, "unit": None}
        )
    rows.append(
        {"username": "admin", "full_name": "Administrator Sistem Pengaduan", "role": "admin",
         "kecamatan": None, "kabupaten": None, "unit": None}
    )
    return rows


def ensure_demo_users(engine: Engine, items: Iterable[Kecamatan], password: str = DEMO_PASSWORD) -> int:
    """Adds the demo users that are missing (existing ones are left as they are); returns how many were
    added. One argon2 hash of the demo password serves them all. Never for production (the caller checks)."""
    password_hash = hash_password(password)
    rows = [{**r, "password_hash": password_hash} for r in demo_users(items)]
    with engine.begin() as conn:
        result = conn.execute(
            insert(users).values(rows).on_conflict_do_nothing(index_elements=["username"]).returning(users.c.username)
        )
        return len(result.all())


# --- the token checked against the user's current state -------------------------------------------

REVOKED_KEY = "pengaduan:auth:revoked:{}"  # a token id signed out (value 1) until the token's expiry
CHANGED_KEY = "pengaduan:auth:changed:{}"  # a new random value each time a user is changed, for the caches
CHANGED_KEY_TTL = int((DEFAULT_TTL + CLOCK_SKEW).total_seconds()) + 60  # after it no token of before is alive


def cache_client(settings: Settings):
    """The Redis client of the token guard and user changes (``PENGADUAN_CACHE_URL``, else ``PENGADUAN_REDIS_URL``)."""
    import redis

    return redis.Redis.from_url(settings.effective_cache_url, socket_timeout=1.0, socket_connect_timeout=1.0)


class UserChanges:
    """Tells every replica that a user changed (deactivated, new password, moved), so their cached reads of
    the user are dropped at once. The truth stays in ``tenancy.users`` (read through the staff directory); this
    is only the news."""

    def __init__(self, client) -> None:
        self._client = client

    def changed(self, username: str) -> None:
        self._client.set(CHANGED_KEY.format(username), uuid.uuid4().hex, ex=CHANGED_KEY_TTL)

    def revoke(self, info: TokenInfo, now: datetime) -> None:
        """Signs one token out: its id is refused until the token would have expired anyway."""
        ttl = max(1, info.expires_at - int(now.timestamp()) + int(CLOCK_SKEW.total_seconds()))
        self._client.set(REVOKED_KEY.format(info.token_id), "1", ex=ttl)


@dataclass(frozen=True)
class _UserState:
    principal: Principal
    active: bool
    tokens_valid_after: float | None  # epoch seconds
    read_at: float  # time.monotonic() when it was read
    marker: bytes | None  # the user's change marker when it was read: another one means "read again"


# what the guard reads of a user (the staff directory: shared/contracts/accounts.py)
_GUARD_COLUMNS = tuple(staff_directory.c[name] for name in (
    "username", "full_name", "role", "kecamatan", "kabupaten", "unit", "active", "tokens_valid_after"))


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
        except Exception as exc:  # redis down: refuse rather than let a revoked token through
            log.warning("token check impossible: cache unreachable", extra={"error": str(exc)[:200]})
            raise ServiceUnavailable() from None
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
                principal.role, principal.kecamatan, principal.kabupaten, principal.unit
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
            _principal(row), row.active,
            row.tokens_valid_after.timestamp() if row.tokens_valid_after is not None else None, now, marker,
        )
        with self._lock:
            if len(self._cache) > 10_000:  # bounded: a deployment has hundreds of users, not millions
                self._cache.clear()
            self._cache[username] = state
        return state


class SignInThrottle:
    """Failed sign-ins counted per account and per client address (Redis, every replica); beyond the limits
    429 with ``Retry-After`` before the password is hashed. A success clears the account's count (not the
    address's: one right password must not buy an address more guesses at other accounts).

    Attempts still running are counted too (a counter per account and per address, raised before argon2 and
    lowered after): otherwise forty guesses sent at once would all pass the check before the first failed."""

    INFLIGHT_KEY = "pengaduan:auth:inflight:{}:{}"
    INFLIGHT_TTL = 120  # seconds: a process that dies mid-attempt gives its slot back by itself

    def __init__(self, limiter: RateLimiter, settings: Settings, client=None) -> None:
        self._limiter = limiter
        self._client = client if client is not None else cache_client(settings)
        self._per_account = parse_limits(settings.rate_limit_signin_account)
        self._per_address = parse_limits(settings.rate_limit_signin_address)

    def before(self, username: str, address: str) -> None:
        """Reserves one attempt for the account and the address, or raises 429 (503 without Redis). Every
        call that returns must be followed by ``failed`` or ``succeeded``."""
        if not self._limiter.enabled:
            return
        account = _account_key(username)
        keys = (self.INFLIGHT_KEY.format("account", account), self.INFLIGHT_KEY.format("address", address))
        try:
            pipe = self._client.pipeline()
            for key in keys:
                pipe.incr(key)
                pipe.expire(key, self.INFLIGHT_TTL)
            running_account, _, running_address, _ = pipe.execute()
            left_account, retry_account = self._limiter.remaining(self._per_account, "signin-account", account)
            left_address, retry_address = self._limiter.remaining(self._per_address, "signin-address", address)
        except Exception:  # Redis away (RateLimitUnavailable, or the client's own ConnectionError)
            self._release(keys)
            raise ServiceUnavailable() from None
        by_account, by_address = running_account <= left_account, running_address <= left_address
        if not (by_account and by_address):
            self._release(keys)
            log.warning("sign-in throttled", extra={"by_account": not by_account, "by_address": not by_address})
            retry = max(retry_account if not by_account else 0, retry_address if not by_address else 0, 1)
            raise TooManyRequests(retry, TOO_MANY_SIGNINS, code="too_many_attempts")

    def failed(self, username: str, address: str) -> None:
        if not self._limiter.enabled:
            return
        account = _account_key(username)
        try:
            self._limiter.count(self._per_account, "signin-account", account)
            self._limiter.count(self._per_address, "signin-address", address)
        except RateLimitUnavailable:
            raise ServiceUnavailable() from None
        finally:
            self._release((self.INFLIGHT_KEY.format("account", account), self.INFLIGHT_KEY.format("address", address)))

    def succeeded(self, username: str, address: str) -> None:
        if not self._limiter.enabled:
            return
        account = _account_key(username)
        try:
            self._limiter.clear(self._per_account, "signin-account", account)
        except RateLimitUnavailable:
            log.warning("sign-in counter not cleared: cache unreachable")
        finally:
            self._release((self.INFLIGHT_KEY.format("account", account), self.INFLIGHT_KEY.format("address", address)))

    def abandoned(self, username: str, address: str) -> None:
        """The attempt could not be judged (an error): its slots are given back, nothing is counted."""
        if self._limiter.enabled:
            account = _account_key(username)
            self._release((self.INFLIGHT_KEY.format("account", account), self.INFLIGHT_KEY.format("address", address)))

    def _release(self, keys) -> None:
        try:
            pipe = self._client.pipeline()
            for key in keys:
                pipe.decr(key)
            pipe.execute()
        except Exception:  # the slots expire by themselves
            log.warning("sign-in slot not released: cache unreachable")


def _account_key(username: str) -> str:
    # a digest: the counter's key must not keep what people typed (sometimes a password) in Redis
    return hashlib.sha256(normalize_username(username or "").encode()).hexdigest()[:32]


TOO_MANY_SIGNINS = "Terlalu banyak percobaan masuk yang gagal. Tunggu beberapa saat, lalu coba lagi."


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


def current_user(request: Request, _scheme: Annotated[str | None, Depends(bearer_scheme)] = None) -> Principal:
    """The principal of ``Authorization: Bearer <token>``, checked against the user's current state; 401
    ``not_authenticated``, ``token_expired``, ``token_invalid``, ``token_revoked`` or ``account_inactive``
    otherwise (503 when the check cannot be made). The secret comes from ``request.app.state.settings``."""
    return _checked(request, _bearer(request))[0]


CurrentUser = Annotated[Principal, Depends(current_user)]


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
    """``POST /v1/auth/token`` (OAuth2 password flow, form-encoded, throttled), ``POST /v1/auth/logout`` and
    ``GET /v1/auth/me``.

    The app that includes it must also call ``install_auth``, because ``current_user`` is a module-level
    dependency and finds the secret and the token guard on ``app.state``."""
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
            429: {"model": ErrorBody, "description": "Too many failed sign-ins for this account or from this "
                  "address (`too_many_attempts`); `Retry-After` says when to try again"},
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
        "/v1/auth/logout", status_code=204, responses={**_UNAUTHORIZED_DOC, 503: {"model": ErrorBody}},
        summary="Sign out: the bearer token is refused from now on, by every replica",
    )
    def logout(request: Request) -> Response:
        token = _bearer(request)
        principal, info = _checked(request, token)
        try:
            changes(request).revoke(info, datetime.now(UTC))
        except Exception:
            raise ServiceUnavailable() from None
        log.info("signed out", extra={"username": principal.username})
        return Response(status_code=204)

    return router


def set_contact(engine: Engine, username: str, *, email: str | None = None, phone: str | None = None,
                channel: str | None = None, new_work: bool | None = None) -> None:
    """Where notify reaches a user: e-mail and phone (validated), the channel they prefer, and whether they
    want a message for every new piece of work (overdue alerts always come). Raises ValueError."""
    import phonenumbers
    from email_validator import EmailNotValidError, validate_email

    values: dict[str, Any] = {}
    if email is not None:
        try:
            values["email"] = validate_email(email, check_deliverability=False).normalized if email else None
        except EmailNotValidError as exc:
            raise ValueError(f"email: {exc}") from None
    if phone is not None:
        if phone:
            try:
                parsed = phonenumbers.parse(phone, "ID")
            except phonenumbers.NumberParseException:
                parsed = None
            if parsed is None or not phonenumbers.is_valid_number(parsed):
                raise ValueError(f"phone: {phone!r} is not a valid phone number")
            values["phone"] = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        else:
            values["phone"] = None
    if channel is not None:
        if channel not in ("email", "sms", "whatsapp"):
            raise ValueError("channel: one of email, sms, whatsapp")
        values["notify_channel"] = channel
    if new_work is not None:
        values["notify_new_work"] = new_work
    if not values:
        return
    with engine.begin() as conn:
        if not conn.execute(users.update().where(users.c.username == normalize_username(username)).values(**values)).rowcount:
            raise ValueError(f"unknown user {username!r}")
