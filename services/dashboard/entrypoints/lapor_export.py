"""``GET /v1/dashboard/exports/lapor.csv`` and ``.xlsx``: the period's complaints in a form SP4N-LAPOR!'s
administrators import, the category by its LAPOR! name (docs/adr/0023; the columns in ``domain/lapor_export.py``).

Who may: the kecamatan's staff (their own; ``kecamatan`` may be left out), kabupaten users (their regency's
kecamatan, one, several comma-separated, or all when left out) and admins. Filters ``from``/``to`` on the received
date; ``with_lapor=true`` adds the complaints that came from LAPOR! (left out otherwise: LAPOR! has them). Names are
shown as the Buku Rekap's export shows them, and a file that shows any is one row of the access log (with the reason
given in ``X-Access-Reason``), as the Buku Rekap's."""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from services.dashboard.adapters import exports
from services.dashboard.adapters import lapor_export as files
from services.dashboard.domain import lapor_export
from services.dashboard.domain import register as book
from services.dashboard.entrypoints.deps import DashboardDep, FilterErrors, masked_for, resolve_kecamatan
from services.dashboard.entrypoints.register import COMPLAINANT_COLUMNS
from shared import access_log, masking
from shared.access_log import AccessDep
from shared.auth import CurrentUser
from shared.http import ApiError, ErrorBody

router = APIRouter(tags=["register"])


@router.get(
    "/v1/dashboard/exports/lapor.{fmt}",
    response_class=Response,
    summary="The period's complaints for SP4N-LAPOR!'s import (csv, xlsx; LAPOR!'s category names)",
    responses={
        200: {"content": {exports.CSV_MEDIA_TYPE: {}, exports.XLSX_MEDIA_TYPE: {}}, "description": "The file"},
        **{code: {"model": ErrorBody} for code in (401, 403, 404, 422)},
    },
)
def lapor_file(
    user: CurrentUser,
    dash: DashboardDep,
    access: AccessDep,
    fmt: Annotated[Literal["csv", "xlsx"], Path(description="csv or xlsx")],
    kecamatan: Annotated[str | None, Query(description="Slug(s), comma-separated; staff may leave it out")] = None,
    start: Annotated[str | None, Query(alias="from", description="Received on or after (YYYY-MM-DD)")] = None,
    end: Annotated[str | None, Query(alias="to", description="Received on or before (YYYY-MM-DD)")] = None,
    with_lapor: Annotated[bool, Query(description="Also the complaints that came from LAPOR!")] = False,
) -> Response:
    errors = FilterErrors()
    period = errors.period(start, end)
    errors.raise_if_any()
    found = resolve_kecamatan(user, dash, kecamatan)
    slugs = [k.slug for k in found]
    by_slug = {k.slug: k for k in found}
    masked_reader = masked_for(user)
    stem = "laporan-sp4n-lapor" + "".join(f"-{d.isoformat()}" for d in (period.start, period.end) if d)
    out = exports.spool()
    try:
        # one snapshot for the count, the rows and the access log's complainants
        with dash.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            if files.count(conn, slugs, period, with_lapor) > dash.settings.export_max_rows:
                raise ApiError(
                    422,
                    "export_too_large",
                    f"Lebih dari {dash.settings.export_max_rows} baris. Persempit periode (from/to) atau pilih kecamatan.",
                )
            shown: list = []  # (complaint, kecamatan) whose complainant the file shows: for the access log

            def lines():
                for number, row in enumerate(files.rows(conn, slugs, period, with_lapor), start=1):
                    k = by_slug[row["kecamatan"]]
                    entry = dash.directory.on_record(k.slug)  # its kabupaten's list, with each category's LAPOR! name
                    tz = dash.calendars.for_kecamatan(k.slug).tz or ZoneInfo("Asia/Jakarta")
                    masked = masking.row_masked(user, row, export=True)
                    instansi = f"Kecamatan {k.name}, {k.kabupaten_name or k.kabupaten_slug}"
                    yield lapor_export.line(number, row, masked, tz, instansi, entry.categories if entry else ())
                    if not masked:
                        shown.append((row["complaint_id"], row["kecamatan"]))

            if fmt == "csv":
                files.write_csv(out, lines())
                media = exports.CSV_MEDIA_TYPE
            else:
                files.write_xlsx(out, lines(), title="Laporan untuk SP4N-LAPOR!")
                media = exports.XLSX_MEDIA_TYPE
            if shown and not masked_reader:  # names left the system in this file: who took them, and why
                access_log.record(
                    dash.engine,
                    user=user,
                    service="dashboard",
                    what=f"lapor.{fmt}",
                    complaint_ids=[cid for cid, _ in shown],
                    kecamatan=shown[0][1],
                    access=access,
                    # read again (only when a reason was given, which may quote them): not kept from the first pass
                    complainants=(
                        book.complainant(r)
                        for r in files.rows(conn, slugs, period, with_lapor, COMPLAINANT_COLUMNS)
                        if not masking.row_masked(user, r, export=True)
                    ),
                )
    except BaseException:
        out.close()
        raise
    return exports.file_response(out, media, f"{stem}.{fmt}")
