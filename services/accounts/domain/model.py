"""What a user is, and the rules a new user or a new password must follow (pure: no database, no clock).

A user is one of the roles of ``shared.contracts.accounts.ROLES``:

- kecamatan staff (``staf``, ``kasi``, ``sekcam``, ``camat``): bound to one kecamatan; a kasi (Kasi/Kasubag)
  also to one of its units, by code (``pemerintahan``, ``trantib``, ...: ``shared.contracts.organisation``), named
  as people write it and stored as the code;
- ``kabupaten``: reads every kecamatan of one kabupaten (regency), touches none;
- ``admin``: operates the deployment.

The database checks the same (migration 0002's constraints); these rules give a person a message to act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.contracts.accounts import KABUPATEN_ROLES, KECAMATAN_ROLES, ROLES
from shared.contracts.organisation import Unit, find_unit

USERNAME_PATTERN = re.compile(r"^[a-z0-9._-]{3,64}$")
NIP_PATTERN = re.compile(r"^[0-9]{18}$")
NIK_PATTERN = re.compile(r"^[0-9]{16}$")  # the NIK an official's BSrE certificate is registered under
GOLONGAN_PATTERN = re.compile(r"^(I|II|III|IV)/[a-e]$")  # a civil servant's grade: III/a ... IV/e
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; this bounds the work one request can ask for


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


@dataclass(frozen=True)
class KecamatanFacts:
    """What the rules need to know of a kecamatan: its kabupaten, and whether it is served."""

    kabupaten_slug: str
    active: bool


class Directory(Protocol):
    """The kecamatan directory as the rules ask it (``handlers`` answers from ``tenancy.kecamatan``)."""

    def kecamatan(self, slug: str) -> KecamatanFacts | None: ...

    def has_kabupaten(self, slug: str) -> bool: ...

    def units(self, kecamatan: str) -> list[Unit]:
        """The kecamatan's active units."""
        ...


def normalize_username(username: str) -> str:
    return username.strip().lower()


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


def new_user(
    directory: Directory,
    username: str | None,
    full_name: str | None,
    role: str,
    kecamatan: str | None,
    kabupaten: str | None,
    unit: str | None,
    nip: str | None,
    pangkat: str | None = None,
    golongan: str | None = None,
) -> dict[str, str | None]:
    """The row of a new user as it will be stored (normalized), or ValueError with a message a person can act
    on. A kecamatan role takes its kabupaten from the kecamatan; a kasi's unit is stored as its code."""
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
    pangkat, golongan = check_rank(pangkat, golongan)

    if role in KECAMATAN_ROLES:
        if kecamatan is None:
            raise ValueError(f"role {role!r} needs a kecamatan")
        found = directory.kecamatan(kecamatan)
        if found is None:
            raise ValueError(f"unknown kecamatan {kecamatan!r} (run `pengaduan seed-demo` or add it first)")
        if not found.active:
            raise ValueError(f"kecamatan {kecamatan!r} is not active")
        if kabupaten is not None and kabupaten != found.kabupaten_slug:
            raise ValueError(
                f"kecamatan {kecamatan!r} belongs to kabupaten {found.kabupaten_slug!r}, not {kabupaten!r}"
            )
        kabupaten = found.kabupaten_slug
        if role == "kasi" or unit is not None:  # a kasi heads a unit; other staff may work in one
            units = directory.units(kecamatan)
            names = ", ".join(f"{u.code} ({u.title})" for u in units)
            if unit is None:
                raise ValueError(f"role 'kasi' needs a unit, one of: {names}")
            found_unit = find_unit(units, unit)
            if found_unit is None:
                raise ValueError(f"unknown unit {unit!r} in kecamatan {kecamatan!r}; its units: {names}")
            unit = found_unit.code
    else:
        if kecamatan is not None:
            raise ValueError(f"role {role!r} is not bound to a kecamatan; leave the kecamatan out")
        if unit is not None:
            raise ValueError(f"role {role!r} has no unit; leave the unit out")
        if role in KABUPATEN_ROLES:
            if kabupaten is None:
                raise ValueError(f"role {role!r} needs a kabupaten")
            if not directory.has_kabupaten(kabupaten):
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
        "pangkat": pangkat,
        "golongan": golongan,
    }


def check_rank(pangkat: str | None, golongan: str | None) -> tuple[str | None, str | None]:
    """An official's pangkat (e.g. "Pembina") and golongan (e.g. "IV/a"), normalised; ValueError otherwise."""
    pangkat = " ".join((pangkat or "").split()) or None
    golongan = (golongan or "").replace(" ", "") or None
    if pangkat is not None and len(pangkat) > 60:
        raise ValueError("pangkat is longer than 60 characters")
    if golongan is not None:
        roman, _, letter = golongan.partition("/")
        golongan = f"{roman.upper()}/{letter.lower()}"
        if not GOLONGAN_PATTERN.fullmatch(golongan):
            raise ValueError(f"golongan {golongan!r} is not a grade like III/a or IV/b")
    return pangkat, golongan
