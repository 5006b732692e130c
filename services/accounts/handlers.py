"""What accounts does: add users, check a password, activate and deactivate, change a password, list users,
store where notify reaches a user. Called by the sign-in router and by ``pengaduan users``.

A change that must end a user's sessions (deactivation, a new password) stamps ``tokens_valid_after`` and, given
``changes`` (``adapters/sessions.py``: ``UserChanges``), tells every replica's token guard at once.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date
from typing import Any, Literal

from sqlalchemy import Connection, Engine, case, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from services.accounts.adapters.passwords import hash_password, verify_and_update
from services.accounts.adapters.sessions import UserChanges
from services.accounts.adapters.tables import org_delegations, org_events, org_units, users
from services.accounts.domain.model import (
    NIK_PATTERN,
    NIP_PATTERN,
    USERNAME_PATTERN,
    KecamatanFacts,
    UserInfo,
    check_new_password,
    check_rank,
    new_user,
    normalize_username,
)
from services.accounts.domain.organisation import (
    ROLE_TITLES,
    DelegationRequest,
    OrganisationRefused,
    Person,
    UnitChange,
    check_end,
    check_grant,
    check_unit,
    unit_names,
)
from shared.auth import Principal
from shared.contracts.organisation import Delegation, Unit, UnitEntry
from shared.organisation_directory import delegation_directory, units_of
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

    def units(self, kecamatan: str) -> list[Unit]:
        return [entry.unit for entry in units_of(self._conn, kecamatan)]

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
    *,
    pangkat: str | None = None,
    golongan: str | None = None,
) -> None:
    """Adds one active user; raises ValueError with a message a person can act on."""
    check_new_password(password, min_password_length)
    with engine.connect() as conn:
        row: dict[str, Any] = new_user(
            _Directory(conn), username, full_name, role, kecamatan, kabupaten, unit, nip, pangkat, golongan
        )
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


# -- the organisation (docs/adr/0014) ----------------------------------------------------------------------------
# Every change writes its table(s) and appends one row to tenancy.org_events in the same transaction: the tables
# are the state, the log is who changed what, when and why.


def _record(conn: Connection, kind: str, kecamatan: str | None, actor: str, data: dict[str, Any]) -> None:
    conn.execute(
        org_events.insert().values(
            id=uuid.uuid4(), kecamatan=kecamatan, type=kind, data=json.loads(json.dumps(data, default=str)), actor=actor
        )
    )


def person(engine: Engine, username: str) -> Person | None:
    """A user as the organisation's rules see them (None when unknown)."""
    with engine.connect() as conn:
        return _person_in(conn, username)


def list_units(engine: Engine, kecamatan: str, *, active_only: bool = True) -> list[UnitEntry]:
    with engine.connect() as conn:
        return units_of(conn, kecamatan, active_only=active_only)


def define_unit(
    engine: Engine, actor: str, kecamatan: str, change: UnitChange, *, expect: Literal["new", "existing"] | None = None
) -> Unit:
    """Adds a unit to a kecamatan, or changes one's kind, name and short names (its code stays); a retired unit
    defined again is active again. The first change gives the kecamatan a list of its own: a copy of the units it
    had (its kabupaten's, or the default). ``expect``: "new" refuses a code an active unit has (``unit_exists``),
    "existing" a code no active unit has (``unknown_unit``); the CLI's ``define-unit`` does either."""
    with engine.begin() as conn:
        _own_list(conn, kecamatan)
        entries = {e.code: e for e in units_of(conn, kecamatan, active_only=False)}
        current = {code: e.unit for code, e in entries.items()}
        was_active = change.code in entries and entries[change.code].active
        if expect == "new" and was_active:
            raise OrganisationRefused(
                "unit_exists",
                f"Kode '{change.code}' sudah dipakai {current[change.code].title}; pilih kode lain.",
                status=409,
                field="code",
            )
        if expect == "existing" and not was_active:
            raise OrganisationRefused(
                "unknown_unit", f"Unit '{change.code}' tidak ada atau sudah tidak aktif.", status=404
            )
        unit = check_unit(change, list(current.values()))
        values = {"kind": unit.kind, "name": unit.name, "short_names": list(unit.short_names), "active": True}
        stmt = insert(org_units).values(kecamatan=kecamatan, code=unit.code, **values)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["kecamatan", "code"], set_={**values, "changed_at": func.now()})
        )
        kind = "UnitChanged" if was_active else "UnitDefined"
        _record(conn, kind, kecamatan, actor, {"code": unit.code, **values})
    return unit


def retire_unit(engine: Engine, actor: str, kecamatan: str, code: str, reason: str) -> None:
    """A unit no longer takes dispositions (its history keeps its name). Refused while an active Kasi heads it:
    move or deactivate them first."""
    with engine.begin() as conn:
        _own_list(conn, kecamatan)
        found = {e.code: e for e in units_of(conn, kecamatan)}.get(code)
        if found is None:
            raise OrganisationRefused("unknown_unit", f"Unit '{code}' tidak ada atau sudah tidak aktif.", status=404)
        if found.head_username is not None:
            raise OrganisationRefused(
                "unit_has_head",
                f"{found.unit.title} masih dipimpin {found.head_name} ({found.head_username}); pindahkan dahulu.",
                status=409,
            )
        conn.execute(
            update(org_units)
            .where(org_units.c.kecamatan == kecamatan, org_units.c.code == code)
            .values(active=False, changed_at=func.now())
        )
        _record(conn, "UnitRetired", kecamatan, actor, {"code": code, "reason": reason})


def _own_list(conn: Connection, kecamatan: str) -> None:
    """Gives a kecamatan a list of its own (what the view showed it), if it has none yet. Takes a lock on the
    kecamatan's row so two first changes do not both copy."""
    found = conn.execute(
        select(kecamatan_table.c.slug).where(kecamatan_table.c.slug == kecamatan).with_for_update(key_share=True)
    ).first()
    if found is None:
        raise OrganisationRefused("unknown_kecamatan", f"Kecamatan '{kecamatan}' tidak dikenal.", status=404)
    if conn.execute(select(org_units.c.code).where(org_units.c.kecamatan == kecamatan).limit(1)).first():
        return
    inherited = units_of(conn, kecamatan, active_only=False)
    if inherited:
        conn.execute(
            org_units.insert(),
            [
                {
                    "kecamatan": kecamatan,
                    "code": e.code,
                    "kind": e.kind,
                    "name": e.name,
                    "short_names": e.short_names,
                    "active": e.active,
                }
                for e in inherited
            ],
        )


def grant_delegation(engine: Engine, granter: Person, request: DelegationRequest, today: date) -> Delegation:
    """Names a Plh./Plt. (``domain.organisation.check_grant`` says who may, for what); raises
    ``OrganisationRefused``. ``today``: the date in the kabupaten's time zone."""
    with engine.begin() as conn:
        # one grant at a time per kecamatan: the overlap check and the insert see the same delegations
        conn.execute(
            select(kecamatan_table.c.slug).where(kecamatan_table.c.slug == request.kecamatan).with_for_update()
        )
        delegate = _person_in(conn, request.delegate)
        units = [e.unit for e in units_of(conn, request.kecamatan)]
        existing = [
            Delegation(**r)
            for r in conn.execute(
                select(delegation_directory).where(
                    delegation_directory.c.kecamatan == request.kecamatan, delegation_directory.c.role == request.role
                )
            ).mappings()
        ]
        grant = check_grant(request, granter=granter, delegate=delegate, units=units, existing=existing, today=today)
        values = {"id": uuid.uuid4(), **dataclasses.asdict(grant), "granted_by": granter.username}
        row = conn.execute(org_delegations.insert().values(**values).returning(*org_delegations.c)).mappings().one()
        _record(conn, "DelegationGranted", grant.kecamatan, granter.username, dict(values))
        return _delegation(row)


def end_delegation(engine: Engine, ender: Person, delegation_id: uuid.UUID, today: date, reason: str) -> Delegation:
    """Ends a delegation early (an admin, or who granted it)."""
    with engine.begin() as conn:
        row = (
            conn.execute(select(org_delegations).where(org_delegations.c.id == delegation_id).with_for_update())
            .mappings()
            .first()
        )
        if row is None:
            raise OrganisationRefused("unknown_delegation", "Penunjukan Plh./Plt. ini tidak ditemukan.", status=404)
        check_end(_delegation(row), ender=ender, today=today)
        ended = (
            conn.execute(
                update(org_delegations)
                .where(org_delegations.c.id == delegation_id)
                .values(ended_at=func.now(), ended_by=ender.username)
                .returning(*org_delegations.c)
            )
            .mappings()
            .one()
        )
        _record(conn, "DelegationEnded", row["kecamatan"], ender.username, {"id": delegation_id, "reason": reason})
        return _delegation(ended)


def list_delegations(engine: Engine, kecamatan: str | None = None, *, since: date | None = None) -> list[Delegation]:
    """Delegations, latest first: of one kecamatan (or all), ending on or after ``since`` (or all)."""
    d = delegation_directory.c
    query = select(delegation_directory).order_by(d.starts_on.desc(), d.granted_at.desc())
    if kecamatan is not None:
        query = query.where(d.kecamatan == kecamatan)
    if since is not None:
        query = query.where(d.ends_on >= since)
    with engine.connect() as conn:
        return [Delegation(**r) for r in conn.execute(query).mappings()]


def get_delegation(engine: Engine, delegation_id: uuid.UUID) -> Delegation | None:
    with engine.connect() as conn:
        row = (
            conn.execute(select(delegation_directory).where(delegation_directory.c.id == delegation_id))
            .mappings()
            .first()
        )
    return Delegation(**row) if row is not None else None


def organisation_log(
    engine: Engine, kecamatan: str | None = None, limit: int = 200, *, before: int | None = None
) -> list[dict[str, Any]]:
    """The organisation's changes, latest first; ``before``: only those recorded before that position (the next
    page after a page whose last row had it)."""
    query = select(org_events).order_by(org_events.c.position.desc()).limit(limit)
    if kecamatan is not None:
        query = query.where(org_events.c.kecamatan == kecamatan)
    if before is not None:
        query = query.where(org_events.c.position < before)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


class RankRefused(OrganisationRefused, ValueError):
    """An official's NIP, pangkat or golongan refused: the API answers its code, ``users rank`` prints it as the
    ValueError it catches."""


def set_rank(
    engine: Engine,
    actor: str,
    username: str,
    *,
    nip: str | None,
    pangkat: str | None,
    golongan: str | None,
    kecamatan: str | None = None,
    changes: UserChanges | None = None,
    tte_nik: str | None = None,
) -> dict[str, Any]:
    """An official's NIP, pangkat and golongan (printed under their signature) and the NIK their BSrE certificate is
    registered under (``tte_nik``: sent to BSrE when they sign, docs/adr/0016): the ones given change (an empty one
    is cleared), the others stay; ``kecamatan``: only an official of it. Returns the values stored (a NIK as its
    last four digits); raises ``RankRefused``. The change log records a NIK's last four digits only."""
    values: dict[str, Any] = {}
    if nip is not None:
        values["nip"] = nip.replace(" ", "") or None
        if values["nip"] is not None and not NIP_PATTERN.fullmatch(values["nip"]):
            raise RankRefused("invalid_nip", "NIP terdiri dari 18 digit angka.", field="nip")
    if tte_nik is not None:
        values["tte_nik"] = tte_nik.replace(" ", "") or None
        if values["tte_nik"] is not None and not NIK_PATTERN.fullmatch(values["tte_nik"]):
            raise RankRefused("invalid_tte_nik", "NIK terdiri dari 16 digit angka.", field="tte_nik")
    for name, given in (("pangkat", pangkat), ("golongan", golongan)):
        if given is None:
            continue
        try:  # the rules are model.check_rank's; each field is checked alone so the refusal names it
            checked = check_rank(given, None)[0] if name == "pangkat" else check_rank(None, given)[1]
        except ValueError:
            raise RankRefused(
                f"invalid_{name}",
                "Pangkat paling panjang 60 huruf."
                if name == "pangkat"
                else "Golongan ditulis seperti III/a atau IV/b.",
                field=name,
            ) from None
        values[name] = checked
    if not values:
        raise RankRefused("nothing_to_change", "Isi NIP, pangkat, golongan, atau NIK TTE yang diubah.")
    where = [users.c.username == normalize_username(username)]
    if kecamatan is not None:
        where.append(users.c.kecamatan == kecamatan)
    with engine.begin() as conn:
        row = conn.execute(update(users).where(*where).values(**values).returning(users.c.kecamatan)).first()
        if row is None:
            raise RankRefused("unknown_official", f"Pegawai '{username}' tidak ditemukan di kecamatan ini.", status=404)
        shown = {k: (mask_nik(v) if k == "tte_nik" else v) for k, v in values.items()}
        _record(conn, "OfficialRankSet", row.kecamatan, actor, {"username": normalize_username(username), **shown})
    if changes is not None:
        changes.changed(normalize_username(username))
    return shown


def mask_nik(nik: str | None) -> str | None:
    """A NIK as an official's record shows it: its last four digits (``************1234``)."""
    return None if nik is None else "*" * (len(nik) - 4) + nik[-4:]


OFFICIAL_COLUMNS = ("username", "full_name", "role", "unit", "nip", "pangkat", "golongan", "active", "tte_nik")


def list_officials(engine: Engine, kecamatan: str, *, active_only: bool = True) -> list[dict[str, Any]]:
    """A kecamatan's officials (its users), by post: Camat, Sekcam, Kasi/Kasubag, staff; then by name."""
    rank = case({"camat": 0, "sekcam": 1, "kasi": 2}, value=users.c.role, else_=3)
    query = (
        select(*(users.c[name] for name in OFFICIAL_COLUMNS))
        .where(users.c.kecamatan == kecamatan)
        .order_by(rank, users.c.unit.nulls_last(), users.c.full_name, users.c.username)
    )
    if active_only:
        query = query.where(users.c.active.is_(True))
    with engine.connect() as conn:
        return [{**r, "tte_nik": mask_nik(r["tte_nik"])} for r in conn.execute(query).mappings()]


# A unit's head is its active Kasi/Kasubag (docs/adr/0014): appointing one makes a staff member of the kecamatan
# (or the Kasi of another unit) the unit's Kasi, ending the post makes them staff. Their role or unit changes, so
# every token they hold is refused from then on (shared.auth.TokenGuard) and ``changes`` tells every replica.
APPOINTABLE_ROLES = ("staf", "kasi")


def appoint_head(
    engine: Engine, actor: str, kecamatan: str, code: str, username: str, changes: UserChanges | None = None
) -> UnitEntry:
    """Makes ``username`` (an active staf or Kasi of the kecamatan) the head of the unit ``code``; refused while the
    unit has a head (end that first). Returns the unit with its new head."""
    with engine.begin() as conn:
        _lock_kecamatan(conn, kecamatan)
        found = _active_unit(conn, kecamatan, code)
        official = _person_in(conn, username)
        if found.head_username is not None and official is not None and found.head_username == official.username:
            raise OrganisationRefused(
                "already_head", f"{found.head_name} sudah menjabat {found.unit.head_title}.", status=409
            )
        if found.head_username is not None:
            raise OrganisationRefused(
                "unit_has_head",
                f"{found.unit.head_title} masih dijabat {found.head_name} ({found.head_username}); akhiri jabatannya"
                " dahulu.",
                status=409,
            )
        if official is None or not official.active or official.kecamatan != kecamatan:
            raise OrganisationRefused(
                "unknown_official", f"'{username}' bukan pegawai aktif kecamatan ini.", field="username"
            )
        if official.role not in APPOINTABLE_ROLES:
            raise OrganisationRefused(
                "official_holds_another_post",
                f"'{official.username}' menjabat {ROLE_TITLES.get(official.role, official.role)}; hanya staf atau"
                " Kasi/Kasubag unit lain yang dapat diangkat menjadi kepala unit.",
                field="username",
            )
        conn.execute(
            update(users)
            .where(users.c.username == official.username)
            .values(role="kasi", unit=code, tokens_valid_after=text("now()"))
        )
        _record(
            conn,
            "OfficialAppointed",
            kecamatan,
            actor,
            {
                "username": official.username,
                "unit": code,
                "jabatan": found.unit.head_title,
                "previous_role": official.role,
                "previous_unit": official.unit,
            },
        )
        appointed = _active_unit(conn, kecamatan, code)
    if changes is not None:
        changes.changed(official.username)
    return appointed


def relieve_head(
    engine: Engine, actor: str, kecamatan: str, code: str, reason: str, changes: UserChanges | None = None
) -> UnitEntry:
    """Ends the post of the unit's head: they stay in the kecamatan as staff (deactivate them with ``pengaduan
    users deactivate`` if they leave). Returns the unit, headless unless another active Kasi of it was left."""
    reason = reason.strip()
    if not reason:
        raise OrganisationRefused("reason_required", "Sebutkan alasan (misalnya mutasi, pensiun).", field="reason")
    with engine.begin() as conn:
        _lock_kecamatan(conn, kecamatan)
        found = _active_unit(conn, kecamatan, code)
        if found.head_username is None:
            raise OrganisationRefused(
                "unit_without_head", f"{found.unit.title} tidak mempunyai kepala saat ini.", status=409
            )
        conn.execute(
            update(users)
            .where(users.c.username == found.head_username)
            .values(role="staf", unit=None, tokens_valid_after=text("now()"))
        )
        _record(
            conn,
            "OfficialRelieved",
            kecamatan,
            actor,
            {"username": found.head_username, "unit": code, "jabatan": found.unit.head_title, "reason": reason},
        )
        relieved = _active_unit(conn, kecamatan, code)
    if changes is not None:
        changes.changed(found.head_username)
    return relieved


def _lock_kecamatan(conn: Connection, kecamatan: str) -> None:
    """One change of a kecamatan's posts at a time (two appointments to one unit would both see it headless)."""
    found = conn.execute(
        select(kecamatan_table.c.slug).where(kecamatan_table.c.slug == kecamatan).with_for_update()
    ).first()
    if found is None:
        raise OrganisationRefused("unknown_kecamatan", f"Kecamatan '{kecamatan}' tidak dikenal.", status=404)


def _active_unit(conn: Connection, kecamatan: str, code: str) -> UnitEntry:
    units = units_of(conn, kecamatan)
    found = next((e for e in units if e.code == code), None)
    if found is None:
        raise OrganisationRefused(
            "unknown_unit",
            f"Unit '{code}' tidak ada atau sudah tidak aktif. Unit yang ada: {unit_names([e.unit for e in units])}.",
            status=404,
        )
    return found


def _person_in(conn: Connection, username: str) -> Person | None:
    row = conn.execute(
        select(users.c.username, users.c.role, users.c.kecamatan, users.c.unit, users.c.active).where(
            users.c.username == normalize_username(username)
        )
    ).first()
    return Person(row.username, row.role, row.kecamatan, row.unit, row.active) if row is not None else None


def _delegation(row: Any) -> Delegation:
    return Delegation(**{name: row[name] for name in Delegation.__dataclass_fields__})
