"""Bearer tokens for tests: the user the token names is written to ``tenancy.users`` first (as it is), since
every API checks a token against its user's current state (shared.auth.TokenGuard, reading the staff directory)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert

from services.accounts.adapters.passwords import hash_password
from services.accounts.adapters.sessions import UserChanges
from services.accounts.adapters.tables import users
from shared.auth import DEFAULT_TTL, Principal, cache_client, create_token
from shared.config import Settings

_HASH: list[str] = []


@cache
def _engine(database_url: str) -> Engine:
    from shared.db import make_engine

    return make_engine(Settings(database_url=database_url, environment="test"), pool_size=1)


def ensure_user(settings: Settings, principal: Principal) -> Principal:
    """The user as ``principal`` says, active, whatever it was before (every replica told at once). A kasi
    without a unit gets ``pemerintahan`` (the database requires one); the principal written is returned."""
    if principal.role == "kasi" and principal.unit is None:
        principal = Principal(
            principal.username,
            principal.full_name,
            principal.role,
            principal.kecamatan,
            principal.kabupaten,
            "pemerintahan",
        )
    if not _HASH:
        _HASH.append(hash_password("kata-sandi-uji-yang-panjang"))
    values = {
        "username": principal.username,
        "full_name": principal.full_name,
        "role": principal.role,
        "kecamatan": principal.kecamatan,
        "kabupaten": principal.kabupaten,
        "unit": principal.unit,
        "password_hash": _HASH[0],
        "active": True,
        "tokens_valid_after": None,
    }
    with _engine(settings.database_url).begin() as conn:
        conn.execute(
            insert(users)
            .values(values)
            .on_conflict_do_update(
                index_elements=["username"], set_={k: v for k, v in values.items() if k != "username"}
            )
        )
    UserChanges(cache_client(settings)).changed(principal.username)
    return principal


def bearer_token(
    settings: Settings, principal: Principal, ttl: timedelta = DEFAULT_TTL, now: datetime | None = None
) -> str:
    principal = ensure_user(settings, principal)
    return create_token(principal, settings.secret_key, now or datetime.now(UTC), ttl)


def bearer_header(settings: Settings, principal: Principal, ttl: timedelta = DEFAULT_TTL) -> dict[str, str]:
    return {"Authorization": f"Bearer {bearer_token(settings, principal, ttl)}"}
