"""What every dashboard route needs: the container, who may read which kecamatan, and the filters.

Who reads what (invariant 6):

* kecamatan staff (staf, kasi, sekcam, camat): their own kecamatan only. Without ``kecamatan`` they get it;
  naming another is **403 ``kecamatan_forbidden``** (kecamatan slugs are public, so a 404 would hide
  nothing; a clear refusal tells the web app what happened). They see personal data of their kecamatan.
* ``kabupaten`` users: every kecamatan of their kabupaten (all of them when ``kecamatan`` is left out); one
  outside it is 403 ``kecamatan_forbidden``. Personal data masked.
* ``admin``: every kecamatan; personal data masked.
* an unknown slug is 422 ``unknown_kecamatan``; not signed in 401.

Filters: ``kecamatan`` (a slug, or several separated by commas), ``from`` and ``to`` (dates YYYY-MM-DD,
both included, in the kecamatan's time zone). Bad values are 422 ``validation_error`` with a code per field:
``invalid_date``, ``period_reversed``, ``invalid_number``, ``out_of_range``, ``unknown_format``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import Depends, Query, Request

from services.dashboard.adapters.queries import KecamatanInfo, Period
from services.dashboard.bootstrap import Dashboard
from shared.auth import CurrentUser, Principal
from shared.http import ApiError, FieldError

INVALID = "Ada isian yang belum benar. Periksa kembali."


def get_dashboard(request: Request) -> Dashboard:
    return request.app.state.dashboard


DashboardDep = Annotated[Dashboard, Depends(get_dashboard)]


class FilterErrors:
    """Collects every bad filter, so one answer names them all."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str, code: str, message: str) -> None:
        self.errors.append(FieldError(field=field, code=code, message=message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise ApiError(422, "validation_error", INVALID, self.errors)

    def date(self, field: str, value: str | None) -> date | None:
        if value is None or value.strip() == "":
            return None
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            self.add(field, "invalid_date", "Tanggal harus berformat YYYY-MM-DD, misalnya 2026-02-01.")
            return None

    def integer(self, field: str, value: str | None, default: int | None, low: int, high: int) -> int | None:
        if value is None or value.strip() == "":
            return default
        try:
            number = int(value.strip())
        except ValueError:
            self.add(field, "invalid_number", "Harus berupa bilangan bulat.")
            return default
        if not low <= number <= high:
            self.add(field, "out_of_range", f"Harus antara {low} dan {high}.")
            return default
        return number

    def period(self, start: str | None, end: str | None) -> Period:
        a, b = self.date("from", start), self.date("to", end)
        if a and b and b < a:
            self.add("to", "period_reversed", "Tanggal akhir (to) tidak boleh sebelum tanggal awal (from).")
        return Period(a, b)


def readable(user: Principal, dash: Dashboard) -> list[KecamatanInfo]:
    """Every kecamatan this user may read."""
    if user.is_admin:
        return dash.kecamatan.all()
    if user.is_kabupaten and user.kabupaten:
        return dash.kecamatan.of_kabupaten(user.kabupaten)
    if user.is_staff and user.kecamatan:
        own = dash.kecamatan.get(user.kecamatan)
        return [own] if own else []
    return []


def resolve_kecamatan(user: Principal, dash: Dashboard, value: str | None) -> list[KecamatanInfo]:
    """The kecamatan a request is about: the ones named (each checked), or all this user may read."""
    if value is None or not value.strip():
        found = [k for k in readable(user, dash) if k.active]
        if not found:
            raise ApiError(403, "no_kecamatan", "Akun ini tidak terhubung ke kecamatan mana pun.")
        return found
    result: list[KecamatanInfo] = []
    for slug in dict.fromkeys(s.strip().lower() for s in value.split(",") if s.strip()):
        k = dash.kecamatan.get(slug)
        if k is None:
            raise ApiError(422, "unknown_kecamatan", f"Kecamatan '{slug}' tidak dikenal.")
        if not user.can_read_kecamatan(k.slug, k.kabupaten_slug):
            # the reason as the reader's scope is: a kabupaten's user reads its kabupaten, not only one kecamatan
            scope = (
                "Pengguna kabupaten hanya dapat melihat kecamatan di kabupatennya sendiri."
                if user.is_kabupaten
                else "Staf kecamatan hanya dapat melihat kecamatannya sendiri."
            )
            raise ApiError(403, "kecamatan_forbidden", f"Anda tidak berhak melihat data Kecamatan {k.name}. {scope}")
        result.append(k)
    return result


def masked_for(user: Principal) -> bool:
    """Personal data is shown only to the kecamatan's own staff (the only kecamatan they can read)."""
    return not user.is_staff


@dataclass(frozen=True)
class Filters:
    user: Principal
    kecamatan: list[KecamatanInfo]
    period: Period
    masked: bool

    @property
    def slugs(self) -> list[str]:
        return [k.slug for k in self.kecamatan]


def dashboard_filters(
    user: CurrentUser,
    dash: DashboardDep,
    kecamatan: Annotated[
        str | None, Query(description="Slug, or several separated by commas; default: all you may read")
    ] = None,
    start: Annotated[str | None, Query(alias="from", description="Received on or after (YYYY-MM-DD)")] = None,
    end: Annotated[str | None, Query(alias="to", description="Received on or before (YYYY-MM-DD)")] = None,
) -> Filters:
    errors = FilterErrors()
    period = errors.period(start, end)
    errors.raise_if_any()
    return Filters(user, resolve_kecamatan(user, dash, kecamatan), period, masked_for(user))


FiltersDep = Annotated[Filters, Depends(dashboard_filters)]
