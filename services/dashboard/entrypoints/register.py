"""``GET /v1/register``: the Buku Rekap Pengaduan of one kecamatan, as JSON pages, CSV or XLSX.

The book holds the registered complaints (step 3 gave them their number), in register order. Filters:
``from``/``to`` on the received date, ``year`` on the register's year (numbers restart every year); both may
be combined. Staff read their own kecamatan's book (``kecamatan`` may be left out); kabupaten users and
admins must name a kecamatan (422 ``kecamatan_required``) and see personal data masked. See ``deps.py``
for the other error codes.

Staff are served the complainants' data: each page or export is one row of the access log (``shared.access_log``,
docs/adr/0017) holding every complaint in it, with the reason given in ``X-Access-Reason``.
"""

from __future__ import annotations

import math
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import Response

from services.dashboard.adapters import exports, queries
from services.dashboard.adapters.tables import complaints as table
from services.dashboard.domain import register as book
from services.dashboard.entrypoints.deps import DashboardDep, FilterErrors, masked_for, resolve_kecamatan
from services.dashboard.entrypoints.schemas import KecamatanRef, PeriodOut, RegisterItem, RegisterPage
from shared import access_log, masking
from shared.access_log import Access, AccessDep
from shared.auth import CurrentUser, Principal
from shared.http import ApiError, ErrorBody

FORMATS = ("json", "csv", "xlsx")
COMPLAINANT_COLUMNS = (
    table.c.complaint_id,
    table.c.complainant_confidential,
    table.c.complainant_name,
    table.c.complainant_nik,
    table.c.complainant_phone,
    table.c.complainant_email,
    table.c.complainant_address,
)

router = APIRouter(tags=["register"])


@router.get(
    "/v1/register",
    response_model=RegisterPage,
    summary="Buku Rekap Pengaduan of a kecamatan (json pages, csv, xlsx)",
    responses={
        200: {
            "content": {exports.CSV_MEDIA_TYPE: {}, exports.XLSX_MEDIA_TYPE: {}},
            "description": "A page (json) or the whole period as a file (csv, xlsx)",
        },
        **{code: {"model": ErrorBody} for code in (401, 403, 422)},
    },
)
def register(
    user: CurrentUser,
    dash: DashboardDep,
    access: AccessDep,
    kecamatan: Annotated[str | None, Query(description="Slug; staff may leave it out")] = None,
    start: Annotated[str | None, Query(alias="from", description="Received on or after (YYYY-MM-DD)")] = None,
    end: Annotated[str | None, Query(alias="to", description="Received on or before (YYYY-MM-DD)")] = None,
    year: Annotated[str | None, Query(description="Register year")] = None,
    format: Annotated[str | None, Query(description="json (default), csv or xlsx")] = None,
    page: Annotated[str | None, Query(description="json: page number, from 1")] = None,
    page_size: Annotated[str | None, Query(description="json: rows per page")] = None,
) -> RegisterPage | Response:
    settings = dash.settings
    errors = FilterErrors()
    period = errors.period(start, end)
    the_year = errors.integer("year", year, None, 2000, 2100)
    fmt = (format or "json").strip().lower()
    if fmt not in FORMATS:
        errors.add("format", "unknown_format", "Format harus salah satu dari: json, csv, xlsx.")
    page_no = errors.integer("page", page, 1, 1, 1_000_000)
    size = errors.integer("page_size", page_size, settings.register_page_size, 1, settings.register_max_page_size)
    errors.raise_if_any()
    if not (kecamatan and kecamatan.strip()) and not user.is_staff:
        raise ApiError(422, "kecamatan_required", "Pilih satu kecamatan: buku rekap dibuat per kecamatan.")
    found = resolve_kecamatan(user, dash, kecamatan)
    if len(found) != 1:
        raise ApiError(422, "kecamatan_required", "Pilih satu kecamatan: buku rekap dibuat per kecamatan.")
    k = found[0]
    masked = masked_for(user)
    ref = KecamatanRef(slug=k.slug, name=k.name, kabupaten=k.kabupaten_slug)

    tz = dash.calendars.for_kecamatan(k.slug).tz or ZoneInfo("Asia/Jakarta")
    if fmt == "json":
        with dash.engine.connect() as conn:
            total, rows = queries.register(conn, k.slug, period, the_year, offset=(page_no - 1) * size, limit=size)
        answer = RegisterPage(
            kecamatan=ref,
            period=PeriodOut(from_=period.start, to=period.end),
            year=the_year,
            page=page_no,
            page_size=size,
            total=total,
            pages=math.ceil(total / size) if total else 0,
            items=[RegisterItem(**book.item(r, masking.row_masked(user, r), tz)) for r in rows],
        )
        _record(
            dash, user, "register.json", [r for r in rows if not masking.row_masked(user, r)], k.slug, masked, access
        )
        return answer

    kecamatan_entry = dash.directory.on_record(k.slug)  # its kabupaten's list, for the Kategori column
    names = {c.code: c.name for c in kecamatan_entry.categories} if kecamatan_entry else {}
    stem = f"buku-rekap-pengaduan-{k.slug}" + _period_stem(period, the_year)
    out = exports.spool()
    try:
        # one snapshot for the count, the rows and the access log's complainants
        with dash.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            if queries.count_register(conn, k.slug, period, the_year) > settings.export_max_rows:
                raise ApiError(
                    422,
                    "export_too_large",
                    f"Lebih dari {settings.export_max_rows} baris. Persempit periode (from/to atau year).",
                )
            shown: list = []  # the complaints whose complainant the file shows: for the access log

            def lines():
                for r in queries.register_rows(conn, k.slug, period, the_year):
                    hidden = masking.row_masked(user, r, export=True)
                    if not hidden:
                        shown.append(r["complaint_id"])
                    yield book.line(r, hidden, tz, names)

            if fmt == "csv":
                exports.write_csv(out, lines())
                media = exports.CSV_MEDIA_TYPE
            else:
                exports.write_xlsx(
                    out,
                    lines(),
                    kecamatan=k.name,
                    kabupaten=_kabupaten_name(dash, k),
                    period=book.period_label(period.start, period.end, the_year),
                    generated=dash.clock().astimezone(tz).strftime("%d-%m-%Y %H:%M"),
                )
                media = exports.XLSX_MEDIA_TYPE
            if not masked and shown:  # before the answer goes out (fail closed)
                access_log.record(
                    dash.engine,
                    user=user,
                    service="dashboard",
                    what=f"register.{fmt}",
                    complaint_ids=shown,
                    kecamatan=k.slug,
                    access=access,
                    # read again (only when a reason was given, which may quote them): not kept from the first pass
                    complainants=(
                        book.complainant(r)
                        for r in queries.register_rows(conn, k.slug, period, the_year, COMPLAINANT_COLUMNS)
                        if not masking.row_masked(user, r, export=True)
                    ),
                )
    except BaseException:
        out.close()
        raise
    return exports.file_response(out, media, f"{stem}.{fmt}")


def _record(dash, user: Principal, what: str, rows: list[dict], kecamatan: str, masked: bool, access: Access) -> None:
    """The kecamatan's own staff were served the complainants' data of these rows: one access-log row for the page
    or the whole export (``shared.access_log``; before the answer goes out). A masked book records nothing, nor
    rows shown masked (a confidential complainant to a Staf or Sekcam, or in an export)."""
    if not masked and rows:
        access_log.record(
            dash.engine,
            user=user,
            service="dashboard",
            what=what,
            complaint_ids=[r["complaint_id"] for r in rows],
            kecamatan=kecamatan,
            access=access,
            complainants=(book.complainant(r) for r in rows),  # masked in the reason given, if it quotes them
        )


def _period_stem(period: queries.Period, year: int | None) -> str:
    parts = []
    if year is not None:
        parts.append(str(year))
    if period.start:
        parts.append(period.start.isoformat())
    if period.end:
        parts.append(period.end.isoformat())
    return ("-" + "_".join(parts)) if parts else ""


def _kabupaten_name(_dash, k: queries.KecamatanInfo) -> str:
    return k.kabupaten_name or k.kabupaten_slug
