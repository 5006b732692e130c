"""The organisation's routes (issue #15, docs/adr/0014), served beside the sign-in router by the process that
hosts accounts (``pengaduan/apps.py``):

- ``GET /v1/kecamatan/{slug}/units``: the kecamatan's units and their heads, for its staff, its kabupaten's
  users and admins;
- ``POST /v1/delegations``: an admin, the Camat, or the official themself names a Plh./Plt. for a role;
- ``GET /v1/delegations``: the delegations of a kecamatan (those not yet over, or all);
- ``POST /v1/delegations/{id}/end``: an admin, or who granted it, ends one early.

Refusals are the domain's (``domain/organisation.py``), answered with their status, stable code and message.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from services.accounts import handlers
from services.accounts.bootstrap import Accounts
from services.accounts.domain.organisation import DelegationRequest, OrganisationRefused, Person
from services.accounts.entrypoints.api import AccountsDep
from shared.auth import CurrentUser, Principal
from shared.contracts.organisation import Delegation, UnitEntry
from shared.http import ApiError, ErrorBody
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
    return ApiError(exc.status, exc.code, exc.message)


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
def list_units(slug: str, user: CurrentUser, accounts: AccountsDep) -> Any:
    today = _readable(accounts, user, slug)
    acting = {
        d.unit: Acting(username=d.delegate, kind=d.kind, label=d.label, ends_on=d.ends_on)
        for d in handlers.list_delegations(accounts.engine, slug, since=today)
        if d.role == "kasi" and d.in_force(today)
    }
    return [
        UnitOut(
            code=e.code,
            kind=e.kind,  # type: ignore[arg-type]
            name=e.name,
            title=e.unit.title,
            short_names=e.short_names,
            head=_head(e),
            acting=acting.get(e.code),
        )
        for e in handlers.list_units(accounts.engine, slug)
    ]


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
