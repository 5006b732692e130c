"""The organisation's routes (issue #15, docs/adr/0014), served beside the sign-in router by the process that
hosts accounts (``pengaduan/apps.py``):

- ``GET /v1/kecamatan/{slug}/units``: the kecamatan's units and their heads, for its staff, its kabupaten's
  users and admins (``include_retired``: retired units too);
- ``POST /v1/delegations``: an admin, the Camat, or the official themself names a Plh./Plt. for a role;
- ``GET /v1/delegations``: the delegations of a kecamatan (those not yet over, or all);
- ``POST /v1/delegations/{id}/end``: an admin, or who granted it, ends one early;
- what ``pengaduan org`` and ``users rank`` do, for admins (the admin pages, ``/admin/...``, call these):
  ``POST /v1/kecamatan/{slug}/units`` (a new unit), ``PATCH .../units/{code}`` (its name, kind, short names),
  ``POST .../units/{code}/retire``, ``POST .../units/{code}/head`` (appoint its Kasi/Kasubag) and
  ``POST .../units/{code}/head/end``, ``PATCH /v1/kecamatan/{slug}/officials/{username}`` (NIP, pangkat,
  golongan);
- ``GET /v1/kecamatan/{slug}/officials`` and ``GET /v1/kecamatan/{slug}/org-events`` (the change log), for the
  same readers as the units.

Every change runs the handler the commands run (``handlers.py``), recorded in ``tenancy.org_events`` with the
signed-in admin as its actor. Refusals are the domain's and the handlers' (``OrganisationRefused``), answered with
their status, stable code and message, and the field they concern when there is one.

There is no admin of one kabupaten: ``admin`` operates the whole deployment (``shared.auth.Principal``), so the
admin routes refuse every other role, whatever kecamatan.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from services.accounts import handlers
from services.accounts.bootstrap import Accounts
from services.accounts.domain.organisation import (
    ROLE_TITLES,
    DelegationRequest,
    OrganisationRefused,
    Person,
    UnitChange,
)
from services.accounts.entrypoints.api import AccountsDep
from shared.auth import CurrentUser, Principal
from shared.contracts.organisation import Delegation, UnitEntry
from shared.http import ApiError, ErrorBody, FieldError
from shared.text import FreeText, OneLine

router = APIRouter(tags=["organisation"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not signed in"},
    403: {"model": ErrorBody, "description": "Not allowed for this kecamatan or role (`forbidden`)"},
    404: {"model": ErrorBody, "description": "Unknown kecamatan or delegation"},
}


class Head(BaseModel):
    username: str
    name: str
    jabatan: str
    nip: str | None
    pangkat: str | None
    golongan: str | None


class Acting(BaseModel):
    """Who acts for the unit's Kasi/Kasubag today (a Plh. or Plt.)."""

    username: str
    kind: str
    label: str
    ends_on: date


class UnitOut(BaseModel):
    code: str
    kind: Literal["seksi", "subbagian"]
    name: str
    title: str
    short_names: list[str]
    head: Head | None
    acting: Acting | None = None  # a Plh./Plt. in force for its Kasi: the unit takes dispositions without a head
    active: bool = True  # False: retired (listed with include_retired only)


class DelegationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: OneLine = Field(max_length=20, examples=["camat"])
    kecamatan: OneLine = Field(max_length=64, examples=["pegantenan"])
    unit: OneLine | None = Field(None, max_length=120, description="for a Kasi's role: the unit, by code or by name")
    delegate: OneLine = Field(max_length=64, examples=["sekcam.pegantenan"])
    kind: Literal["plh", "plt"]
    starts_on: date
    ends_on: date
    reason: FreeText = Field(min_length=1, max_length=500, examples=["Cuti tahunan Camat"])


class DelegationOut(BaseModel):
    id: UUID
    kecamatan: str
    role: str
    unit: str | None
    delegate: str
    kind: str
    label: str
    starts_on: date
    ends_on: date
    reason: str
    granted_by: str
    granted_at: datetime
    ended_at: datetime | None
    in_force: bool


class EndIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: FreeText = Field(min_length=1, max_length=500, examples=["Camat kembali bertugas lebih awal"])


def _refused(exc: OrganisationRefused) -> ApiError:
    field = exc.details.get("field")
    errors = [FieldError(field=str(field), code=exc.code, message=exc.message)] if field else None
    return ApiError(exc.status, exc.code, exc.message, errors)


def _readable(accounts: Accounts, user: Principal, slug: str) -> date:
    """404 for a kecamatan not served, 403 for one the user may not read; else today there."""
    kecamatan = accounts.directory.get(slug)
    if kecamatan is None:
        raise ApiError(404, "unknown_kecamatan", f"Kecamatan '{slug}' tidak dikenal.")
    if not user.can_read_kecamatan(slug, kecamatan.kabupaten_slug):
        raise ApiError(403, "forbidden", "Anda tidak dapat melihat kecamatan ini.")
    return datetime.now(UTC).astimezone(kecamatan.time_zone).date()


def _head(entry: UnitEntry) -> Head | None:
    if entry.head_username is None:
        return None
    return Head(
        username=entry.head_username,
        name=entry.head_name or entry.head_username,
        jabatan=entry.unit.head_title,
        nip=entry.head_nip,
        pangkat=entry.head_pangkat,
        golongan=entry.head_golongan,
    )


def _out(d: Delegation, today: date) -> DelegationOut:
    return DelegationOut(**d.__dict__, label=d.label, in_force=d.in_force(today))


def _acting(user: Principal) -> Person:
    return Person(user.username, user.role, user.kecamatan, user.unit, True)


@router.get(
    "/v1/kecamatan/{slug}/units",
    response_model=list[UnitOut],
    responses=_ERRORS,
    summary="The kecamatan's units (seksi and subbagian) and their heads",
)
def list_units(slug: str, user: CurrentUser, accounts: AccountsDep, include_retired: bool = False) -> Any:
    today = _readable(accounts, user, slug)
    acting = _acting_for_units(accounts, slug, today)
    return [_unit_out(e, acting) for e in handlers.list_units(accounts.engine, slug, active_only=not include_retired)]


def _acting_for_units(accounts: Accounts, slug: str, today: date) -> dict[str | None, Acting]:
    return {
        d.unit: Acting(username=d.delegate, kind=d.kind, label=d.label, ends_on=d.ends_on)
        for d in handlers.list_delegations(accounts.engine, slug, since=today)
        if d.role == "kasi" and d.in_force(today)
    }


def _unit_out(e: UnitEntry, acting: dict[str | None, Acting]) -> UnitOut:
    return UnitOut(
        code=e.code,
        kind=e.kind,  # type: ignore[arg-type]
        name=e.name,
        title=e.unit.title,
        short_names=e.short_names,
        head=_head(e),
        acting=acting.get(e.code) if e.active else None,
        active=e.active,
    )


@router.post(
    "/v1/delegations",
    status_code=201,
    response_model=DelegationOut,
    responses={
        **_ERRORS,
        409: {"model": ErrorBody, "description": "Another delegation for the role overlaps (`delegation_overlaps`)"},
        422: {"model": ErrorBody, "description": "Unknown role, unit or delegate, or a bad period"},
    },
    summary="Name a Plh. or Plt. for a role of a kecamatan, for a period",
)
def grant(body: DelegationIn, user: CurrentUser, accounts: AccountsDep) -> Any:
    today = _readable(accounts, user, body.kecamatan)
    try:
        made = handlers.grant_delegation(accounts.engine, _acting(user), DelegationRequest(**body.model_dump()), today)
    except OrganisationRefused as exc:
        raise _refused(exc) from None
    return _out(made, today)


@router.get(
    "/v1/delegations",
    response_model=list[DelegationOut],
    responses=_ERRORS,
    summary="A kecamatan's delegations: those not yet over, or all",
)
def list_delegations(
    user: CurrentUser,
    accounts: AccountsDep,
    kecamatan: Annotated[str, Query(max_length=64)],
    include_past: bool = False,
) -> Any:
    today = _readable(accounts, user, kecamatan)
    found = handlers.list_delegations(accounts.engine, kecamatan, since=None if include_past else today)
    return [_out(d, today) for d in found]


@router.post(
    "/v1/delegations/{delegation_id}/end",
    response_model=DelegationOut,
    responses={**_ERRORS, 409: {"model": ErrorBody, "description": "Already over (`delegation_over`)"}},
    summary="End a delegation early",
)
def end(delegation_id: UUID, body: EndIn, user: CurrentUser, accounts: AccountsDep) -> Any:
    found = handlers.get_delegation(accounts.engine, delegation_id)
    kecamatan = accounts.directory.get(found.kecamatan) if found is not None else None
    if found is None or kecamatan is None or not user.can_read_kecamatan(found.kecamatan, kecamatan.kabupaten_slug):
        # another kecamatan's delegation is as unknown as one that does not exist
        raise ApiError(404, "unknown_delegation", "Penunjukan Plh./Plt. ini tidak ditemukan.")
    today = _readable(accounts, user, found.kecamatan)
    try:
        ended = handlers.end_delegation(accounts.engine, _acting(user), delegation_id, today, body.reason)
    except OrganisationRefused as exc:
        raise _refused(exc) from None
    return _out(ended, today)


# -- what the commands do, for admins (issue #15 item 1) ---------------------------------------------------------
Code = Annotated[str, Path(max_length=40, description="the unit's code, e.g. `trantib`")]
Username = Annotated[str, Path(max_length=64, description="e.g. `kasi.trantib.pegantenan`")]
_ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    403: {"model": ErrorBody, "description": "Not an admin (`forbidden`)"},
    404: {"model": ErrorBody, "description": "Unknown kecamatan (`unknown_kecamatan`) or unit (`unknown_unit`)"},
}


class UnitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: OneLine = Field(max_length=40, examples=["perizinan"], description="lower case letters, digits, hyphens")
    kind: Literal["seksi", "subbagian"]
    name: OneLine = Field(max_length=120, examples=["Pelayanan Perizinan"], description="without the kind")
    short_names: list[Annotated[OneLine, Field(max_length=120)]] = Field(
        default=[], max_length=12, description="what people also write", examples=[["perizinan", "yanzin"]]
    )


class UnitPatch(BaseModel):
    """What changes; what is left out stays. The code never changes (events and complaints name it)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["seksi", "subbagian"] | None = None
    name: OneLine | None = Field(None, max_length=120)
    short_names: list[Annotated[OneLine, Field(max_length=120)]] | None = Field(None, max_length=12)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: FreeText = Field(min_length=1, max_length=500, examples=["Digabung dengan Seksi PMD (Perbup 2026)"])


class AppointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: OneLine = Field(max_length=64, examples=["staf.pegantenan"])


class RankIn(BaseModel):
    """What changes; what is left out stays, an empty value is cleared."""

    model_config = ConfigDict(extra="forbid")

    nip: OneLine | None = Field(None, max_length=40, examples=["197001011990031001"], description="18 digits")
    pangkat: OneLine | None = Field(None, max_length=120, examples=["Penata Tingkat I"])
    golongan: OneLine | None = Field(None, max_length=20, examples=["III/d"])
    tte_nik: OneLine | None = Field(
        None,
        max_length=40,
        description="16 digits: the NIK the official's BSrE signing certificate is registered under (sent to BSrE "
        "when they sign; shown afterwards as its last four digits only)",
    )


class OfficialOut(BaseModel):
    username: str
    full_name: str
    role: str
    jabatan: str
    unit: str | None
    nip: str | None
    pangkat: str | None
    golongan: str | None
    active: bool
    tte_nik: str | None = Field(None, description="the NIK for BSrE signing as its last four digits, if set")


class OrgEventOut(BaseModel):
    position: int
    id: UUID
    type: str = Field(examples=["UnitDefined"])
    actor: str = Field(description="the username, or `cli:<login name>` for the commands")
    recorded_at: datetime
    data: dict[str, Any]


def _admin(accounts: Accounts, user: Principal, slug: str) -> date:
    """404 for a kecamatan not served, 403 for anyone but an admin; else today there."""
    kecamatan = accounts.directory.get(slug)
    if kecamatan is None:
        raise ApiError(404, "unknown_kecamatan", f"Kecamatan '{slug}' tidak dikenal.")
    if not user.is_admin:
        raise ApiError(403, "forbidden", "Hanya admin yang dapat mengubah susunan organisasi kecamatan.")
    return datetime.now(UTC).astimezone(kecamatan.time_zone).date()


def _unit_now(accounts: Accounts, slug: str, code: str, today: date) -> UnitOut:
    """The unit as it is after a change (retired ones too)."""
    entry = next(e for e in handlers.list_units(accounts.engine, slug, active_only=False) if e.code == code)
    return _unit_out(entry, _acting_for_units(accounts, slug, today))


@router.post(
    "/v1/kecamatan/{slug}/units",
    status_code=201,
    response_model=UnitOut,
    responses={
        **_ADMIN_ERRORS,
        409: {"model": ErrorBody, "description": "The code or a name is taken (`unit_exists`, `unit_name_taken`)"},
        422: {"model": ErrorBody, "description": "A bad code or name (`invalid_unit`, `validation_error`)"},
    },
    summary="Add a unit (seksi or subbagian) to a kecamatan (admin)",
)
def add_unit(slug: str, body: UnitIn, user: CurrentUser, accounts: AccountsDep) -> Any:
    today = _admin(accounts, user, slug)
    change = UnitChange(body.code, body.kind, body.name, tuple(body.short_names))
    try:
        unit = handlers.define_unit(accounts.engine, user.username, slug, change, expect="new")
    except OrganisationRefused as exc:
        raise _refused(exc) from None
    return _unit_now(accounts, slug, unit.code, today)


@router.patch(
    "/v1/kecamatan/{slug}/units/{code}",
    response_model=UnitOut,
    responses={
        **_ADMIN_ERRORS,
        409: {"model": ErrorBody, "description": "Another unit answers to the name (`unit_name_taken`)"},
        422: {"model": ErrorBody, "description": "A bad name, or nothing to change (`nothing_to_change`)"},
    },
    summary="Rename a unit, or change its kind or short names; its code stays (admin)",
)
def change_unit(slug: str, code: Code, body: UnitPatch, user: CurrentUser, accounts: AccountsDep) -> Any:
    today = _admin(accounts, user, slug)
    if body.kind is None and body.name is None and body.short_names is None:
        raise ApiError(422, "nothing_to_change", "Isi nama, jenis, atau nama lain unit yang diubah.")
    current = next((e for e in handlers.list_units(accounts.engine, slug) if e.code == code), None)
    if current is None:
        raise ApiError(404, "unknown_unit", f"Unit '{code}' tidak ada atau sudah tidak aktif.")
    change = UnitChange(
        code,
        body.kind if body.kind is not None else current.kind,
        body.name if body.name is not None else current.name,
        tuple(body.short_names if body.short_names is not None else current.short_names),
    )
    try:
        handlers.define_unit(accounts.engine, user.username, slug, change, expect="existing")
    except OrganisationRefused as exc:
        raise _refused(exc) from None
    return _unit_now(accounts, slug, code, today)


@router.post(
    "/v1/kecamatan/{slug}/units/{code}/retire",
    response_model=UnitOut,
    responses={**_ADMIN_ERRORS, 409: {"model": ErrorBody, "description": "A Kasi still heads it (`unit_has_head`)"}},
    summary="Retire a unit: it takes no more dispositions, its history keeps its name (admin)",
)
def retire_unit(slug: str, code: Code, body: ReasonIn, user: CurrentUser, accounts: AccountsDep) -> Any:
    today = _admin(accounts, user, slug)
    try:
        handlers.retire_unit(accounts.engine, user.username, slug, code, body.reason)
    except OrganisationRefused as exc:
        raise _refused(exc) from None
    return _unit_now(accounts, slug, code, today)


@router.post(
    "/v1/kecamatan/{slug}/units/{code}/head",
    response_model=UnitOut,
    responses={
        **_ADMIN_ERRORS,
        409: {"model": ErrorBody, "description": "The unit has a head (`unit_has_head`, `already_head`)"},
        422: {
            "model": ErrorBody,
            "description": "Not an active official of the kecamatan (`unknown_official`), or the Camat or Sekcam "
            "(`official_holds_another_post`)",
        },
    },
    summary="Appoint a unit's head: a staf or another unit's Kasi becomes its Kasi/Kasubag (admin)",
    description="The official's role or unit changes, so every token they hold is refused: they sign in again.",
)
def appoint_head(slug: str, code: Code, body: AppointIn, user: CurrentUser, accounts: AccountsDep) -> Any:
    today = _admin(accounts, user, slug)
    try:
        handlers.appoint_head(accounts.engine, user.username, slug, code, body.username, accounts.changes)
    except OrganisationRefused as exc:
        raise _refused(exc) from None
    return _unit_now(accounts, slug, code, today)


@router.post(
    "/v1/kecamatan/{slug}/units/{code}/head/end",
    response_model=UnitOut,
    responses={**_ADMIN_ERRORS, 409: {"model": ErrorBody, "description": "No head (`unit_without_head`)"}},
    summary="End the post of a unit's head: they stay as staf of the kecamatan (admin)",
    description="Every token the official holds is refused: they sign in again, as staf.",
)
def relieve_head(slug: str, code: Code, body: ReasonIn, user: CurrentUser, accounts: AccountsDep) -> Any:
    today = _admin(accounts, user, slug)
    try:
        handlers.relieve_head(accounts.engine, user.username, slug, code, body.reason, accounts.changes)
    except OrganisationRefused as exc:
        raise _refused(exc) from None
    return _unit_now(accounts, slug, code, today)


def _officials(accounts: Accounts, slug: str, *, active_only: bool = True) -> list[OfficialOut]:
    titles = {e.code: e.unit.head_title for e in handlers.list_units(accounts.engine, slug, active_only=False)}
    return [
        OfficialOut(
            **o,
            jabatan=titles.get(o["unit"] or "", ROLE_TITLES["kasi"])
            if o["role"] == "kasi"
            else ROLE_TITLES.get(o["role"], o["role"]),
        )
        for o in handlers.list_officials(accounts.engine, slug, active_only=active_only)
    ]


@router.get(
    "/v1/kecamatan/{slug}/officials",
    response_model=list[OfficialOut],
    responses=_ERRORS,
    summary="The kecamatan's officials with their jabatan, NIP, pangkat and golongan",
)
def list_officials(slug: str, user: CurrentUser, accounts: AccountsDep, include_inactive: bool = False) -> Any:
    _readable(accounts, user, slug)
    return _officials(accounts, slug, active_only=not include_inactive)


@router.patch(
    "/v1/kecamatan/{slug}/officials/{username}",
    response_model=OfficialOut,
    responses={
        **_ADMIN_ERRORS,
        404: {"model": ErrorBody, "description": "Unknown kecamatan, or no such official of it (`unknown_official`)"},
        422: {
            "model": ErrorBody,
            "description": "`invalid_nip`, `invalid_pangkat`, `invalid_golongan`, `invalid_tte_nik`, "
            "`nothing_to_change`",
        },
    },
    summary="Set an official's NIP, pangkat and golongan, printed under their signature (admin)",
)
def set_rank(slug: str, username: Username, body: RankIn, user: CurrentUser, accounts: AccountsDep) -> Any:
    _admin(accounts, user, slug)
    try:
        handlers.set_rank(
            accounts.engine,
            user.username,
            username,
            nip=body.nip,
            pangkat=body.pangkat,
            golongan=body.golongan,
            kecamatan=slug,
            changes=accounts.changes,
            tte_nik=body.tte_nik,
        )
    except OrganisationRefused as exc:
        raise _refused(exc) from None
    wanted = username.strip().lower()
    return next(o for o in _officials(accounts, slug, active_only=False) if o.username == wanted)


@router.get(
    "/v1/kecamatan/{slug}/org-events",
    response_model=list[OrgEventOut],
    responses=_ERRORS,
    summary="The kecamatan's organisation changes, latest first (`Link` names the next page)",
)
def org_events(
    slug: str,
    user: CurrentUser,
    accounts: AccountsDep,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="positions before this one: the next page")
    ] = None,
) -> Any:
    _readable(accounts, user, slug)
    found = handlers.organisation_log(accounts.engine, slug, limit, before=before)
    if len(found) == limit:
        response.headers["Link"] = (
            f'</v1/kecamatan/{slug}/org-events?limit={limit}&before={found[-1]["position"]}>; rel="next"'
        )
    return found
