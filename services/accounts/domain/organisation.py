"""The rules of a kecamatan's organisation (pure: no database, no clock; docs/adr/0014): which units it may
have, and who may name whom to act for an absent official, for how long.

A refusal is an ``OrganisationRefused`` with a stable ``code``, the HTTP status it answers with, and a message in
Bahasa Indonesia for the admin or official at the desk.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from shared.contracts.accounts import KECAMATAN_ROLES
from shared.contracts.organisation import DELEGATION_KINDS, UNIT_KINDS, Delegation, Unit, find_unit, normalise
from shared.text import clean_one_line

# BKN's circular on Plh. and Plt. (SE Kepala BKN 1/2021): appointed for at most three months at a time
MAX_DELEGATION_DAYS = 92
MAX_START_AHEAD_DAYS = 366
CODE_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
ROLE_TITLES = {"camat": "Camat", "sekcam": "Sekretaris Kecamatan", "kasi": "Kasi/Kasubag", "staf": "Staf"}


class OrganisationRefused(Exception):
    def __init__(self, code: str, message: str, status: int = 422, **details: object) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details


@dataclass(frozen=True)
class Person:
    """A user as these rules need them (from the staff directory)."""

    username: str
    role: str
    kecamatan: str | None
    unit: str | None
    active: bool


@dataclass(frozen=True)
class DelegationRequest:
    role: str
    kecamatan: str
    delegate: str
    kind: str
    starts_on: date
    ends_on: date
    reason: str
    unit: str | None = None  # for a Kasi's role: the unit, by code or as people write it


@dataclass(frozen=True)
class Grant:
    """A request found good: the unit resolved to its code."""

    role: str
    kecamatan: str
    unit: str | None
    delegate: str
    kind: str
    starts_on: date
    ends_on: date
    reason: str


def unit_names(units: Sequence[Unit]) -> str:
    """The list a refusal shows: "Seksi Pemerintahan (pemerintahan), ..."."""
    return ", ".join(f"{u.title} ({u.code})" for u in units)


def resolve_unit(units: Sequence[Unit], written: str) -> Unit:
    """The unit ``written`` names among ``units`` (a kecamatan's active units), or ``unknown_unit``."""
    found = find_unit(units, written)
    if found is None:
        raise OrganisationRefused(
            "unknown_unit",
            f"Unit '{written}' tidak dikenal. Unit yang ada: {unit_names(units)}.",
            units=[u.code for u in units],
        )
    return found


def check_grant(
    request: DelegationRequest,
    *,
    granter: Person,
    delegate: Person | None,
    units: Sequence[Unit],
    existing: Sequence[Delegation],
    today: date,
) -> Grant:
    """A delegation request checked: the role and kind known, the period sensible, the unit real, the delegate an
    active official of the kecamatan who does not hold the role already, the granter allowed (an admin, the
    Camat of the kecamatan, or the official whose role it is), and no other delegation for the same role
    overlapping it."""
    if request.role not in KECAMATAN_ROLES:
        raise OrganisationRefused(
            "unknown_role", f"Peran '{request.role}' tidak dikenal: pilih salah satu dari {', '.join(ROLE_TITLES)}."
        )
    if request.kind not in DELEGATION_KINDS:
        raise OrganisationRefused("unknown_kind", "Jenis pelaksana harus 'plh' (Plh.) atau 'plt' (Plt.).")
    if request.starts_on > request.ends_on:
        raise OrganisationRefused("invalid_period", "Tanggal mulai harus sebelum atau sama dengan tanggal selesai.")
    if request.ends_on < today:
        raise OrganisationRefused("invalid_period", "Masa pelaksana sudah lewat.")
    if request.starts_on > today + timedelta(days=MAX_START_AHEAD_DAYS):
        raise OrganisationRefused("invalid_period", "Plh./Plt. ditunjuk paling cepat setahun sebelum mulai bertugas.")
    if (request.ends_on - request.starts_on).days + 1 > MAX_DELEGATION_DAYS:
        raise OrganisationRefused(
            "invalid_period", f"Plh./Plt. ditunjuk paling lama tiga bulan ({MAX_DELEGATION_DAYS} hari) sekaligus."
        )
    if not request.reason.strip():
        raise OrganisationRefused("reason_required", "Sebutkan alasan penunjukan (misalnya cuti, dinas luar).")
    unit: str | None = None
    if request.role == "kasi":
        if not request.unit or not request.unit.strip():
            raise OrganisationRefused(
                "unknown_unit", f"Sebutkan unit Kasi/Kasubag yang diwakili. Unit yang ada: {unit_names(units)}."
            )
        unit = resolve_unit(units, request.unit).code
    elif request.unit:
        raise OrganisationRefused("unit_not_expected", "Unit hanya disebut untuk peran Kasi/Kasubag.")

    if not _may_grant(granter, request.role, request.kecamatan, unit):
        raise OrganisationRefused(
            "forbidden",
            "Hanya admin, Camat, atau pejabat yang bersangkutan yang dapat menunjuk Plh./Plt.",
            status=403,
        )
    if delegate is not None and delegate.username == granter.username:
        raise OrganisationRefused(
            "self_delegation", "Seseorang tidak dapat menunjuk dirinya sendiri sebagai Plh./Plt.", status=403
        )
    if delegate is None or not delegate.active or delegate.kecamatan != request.kecamatan:
        raise OrganisationRefused(
            "unknown_delegate", f"'{request.delegate}' bukan pegawai aktif kecamatan ini.", delegate=request.delegate
        )
    if delegate.role == "camat":  # the Camat signs and disposes: acting for another step would join the duties
        raise OrganisationRefused(
            "delegate_outranks_the_role", "Camat tidak dapat menjadi Plh./Plt. pejabat lain di kecamatannya."
        )
    if delegate.role == request.role and (request.role != "kasi" or delegate.unit == unit):
        raise OrganisationRefused(
            "delegate_holds_the_role", f"'{delegate.username}' sudah memegang peran ini; pilih pegawai lain."
        )
    for other in existing:
        if (
            other.ended_at is None
            and (other.kecamatan, other.role, other.unit) == (request.kecamatan, request.role, unit)
            and other.starts_on <= request.ends_on
            and request.starts_on <= other.ends_on
        ):
            raise OrganisationRefused(
                "delegation_overlaps",
                f"Sudah ada {other.label} untuk peran ini dari {other.starts_on:%d-%m-%Y} sampai {other.ends_on:%d-%m-%Y}"
                f" ({other.delegate}); akhiri dahulu bila perlu diganti.",
                status=409,
                delegation=str(other.id),
            )
    return Grant(
        role=request.role,
        kecamatan=request.kecamatan,
        unit=unit,
        delegate=delegate.username,
        kind=request.kind,
        starts_on=request.starts_on,
        ends_on=request.ends_on,
        reason=request.reason.strip(),
    )


def _may_grant(granter: Person, role: str, kecamatan: str, unit: str | None) -> bool:
    if granter.role == "admin":
        return True
    if granter.kecamatan != kecamatan or not granter.active:
        return False
    if granter.role == "camat":
        return True
    # an official names their own stand-in; the staf role has no one official: only an admin or the Camat
    return role != "staf" and granter.role == role and (role != "kasi" or granter.unit == unit)


def check_end(delegation: Delegation, *, ender: Person, today: date) -> None:
    """An admin, or whoever granted it, may end a delegation early; one ended or over cannot be ended again."""
    if ender.role != "admin" and ender.username != delegation.granted_by:
        raise OrganisationRefused(
            "forbidden", "Hanya admin atau yang menunjuk yang dapat mengakhiri Plh./Plt. ini.", status=403
        )
    if delegation.ended_at is not None or delegation.ends_on < today:
        raise OrganisationRefused("delegation_over", "Penunjukan ini sudah berakhir.", status=409)


@dataclass(frozen=True)
class UnitChange:
    code: str
    kind: str
    name: str
    short_names: tuple[str, ...] = field(default=())


def check_unit(change: UnitChange, others: Sequence[Unit]) -> Unit:
    """A unit to define (or redefine: ``others`` are the kecamatan's other units): a code of lower-case letters,
    digits and hyphens, a known kind, a name, and no name that another unit answers to."""
    if not CODE_PATTERN.fullmatch(change.code) or len(change.code) > 40:
        raise OrganisationRefused(
            "invalid_unit", "Kode unit: huruf kecil, angka dan tanda hubung, paling panjang 40 (misalnya 'trantib')."
        )
    if change.kind not in UNIT_KINDS:
        raise OrganisationRefused("invalid_unit", "Jenis unit harus 'seksi' atau 'subbagian'.")
    try:
        name = " ".join(clean_one_line(change.name).split())
        short_names = tuple(s for s in (" ".join(clean_one_line(x).split()) for x in change.short_names) if s)
    except ValueError:
        raise OrganisationRefused(
            "invalid_unit", "Nama unit hanya satu baris teks biasa (tanpa karakter kendali)."
        ) from None
    if not name or len(name) > 120 or not normalise(name) or any(len(x) > 120 for x in short_names):
        raise OrganisationRefused("invalid_unit", "Nama unit wajib diisi (paling panjang 120 huruf).")
    unit = Unit(change.code, change.kind, name, short_names)
    for written in (unit.code, unit.name, *unit.short_names):
        clash = find_unit([u for u in others if u.code != unit.code], written)
        if clash is not None:
            raise OrganisationRefused(
                "unit_name_taken", f"'{written}' sudah menunjuk {clash.title} ({clash.code}).", status=409
            )
    return unit
