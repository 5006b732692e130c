"""What accounts does: add users, check a password, activate and deactivate, change a password, list users,
store where notify reaches a user. Called by the sign-in router and by ``pengaduan users``.

A change that must end a user's sessions (deactivation, a new password) stamps ``tokens_valid_after`` and, given
``changes`` (``adapters/sessions.py``: ``UserChanges``), tells every replica's token guard at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.exc import IntegrityError

from services.accounts.adapters.passwords import hash_password, verify_and_update
from services.accounts.adapters.sessions import UserChanges
from services.accounts.adapters.tables import users
from services.accounts.domain.model import (
    USERNAME_PATTERN,
    KecamatanFacts,
    UserInfo,
    check_new_password,
    new_user,
    normalize_username,
)
from shared.auth import Principal
from shared.tenancy import kecamatan_table


class _Directory:
    """The kecamatan directory (``tenancy.kecamatan``) as the user rules ask it."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def kecamatan(self, slug: str) -> KecamatanFacts | None:
        found = self._conn.execute(
            select(kecamatan_table.c.kabupaten_slug, kecamatan_table.c.active).where(kecamatan_table.c.slug == slug)
        ).first()
        return KecamatanFacts(found.kabupaten_slug, found.active) if found is not None else None

    def has_kabupaten(self, slug: str) -> bool:
        known = self._conn.execute(
            select(kecamatan_table.c.slug).where(kecamatan_table.c.kabupaten_slug == slug).limit(1)
        ).first()
        return known is not None


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
        row: dict[str, Any] = new_user(_Directory(conn), username, full_name, role, kecamatan, kabupaten, unit, nip)
    row["password_hash"] = hash_password(password)  # outside any transaction: it takes ~0.1 s
    try:
        with engine.begin() as conn:
            conn.execute(users.insert().values(**row))
    except IntegrityError as exc:
        if "users_pkey" in str(exc.orig):
            raise ValueError(f"user {row['username']!r} already exists") from None
        raise ValueError(f"user {row['username']!r} refused by the database: {exc.orig}") from None


def authenticate(engine: Engine, username: str, password: str) -> Principal | None:
    """The principal when the password matches an active user, else None (same time either way)."""
    name = normalize_username(username or "")
    row = None
    if USERNAME_PATTERN.fullmatch(name):
        with engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username == name)).first()
    # the password is checked even for inactive users: their answer takes as long as anyone's
    valid, updated = verify_and_update(password or "", row.password_hash if row is not None else None)
    if not valid or not row.active:
        return None
    if updated is not None:  # hashing parameters changed since this hash was made: store the new one
        with engine.begin() as conn:
            conn.execute(update(users).where(users.c.username == row.username).values(password_hash=updated))
    return Principal.from_row(row)


def load_principal(engine: Engine, username: str) -> Principal | None:
    """The current state of an active user (None when unknown or deactivated)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(users).where(users.c.username == normalize_username(username), users.c.active.is_(True))
        ).first()
    return Principal.from_row(row) if row is not None else None


def set_active(engine: Engine, username: str, active: bool, changes: UserChanges | None = None) -> bool:
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


def set_password(
    engine: Engine, username: str, password: str, min_length: int, changes: UserChanges | None = None
) -> None:
    """A new password; every token issued before it is refused from now on. Raises ValueError."""
    check_new_password(password, min_length)
    password_hash = hash_password(password)
    with engine.begin() as conn:
        result = conn.execute(
            update(users)
            .where(users.c.username == normalize_username(username))
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


def set_contact(
    engine: Engine,
    username: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    channel: str | None = None,
    new_work: bool | None = None,
) -> None:
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
        if not conn.execute(
            users.update().where(users.c.username == normalize_username(username)).values(**values)
        ).rowcount:
            raise ValueError(f"unknown user {username!r}")
