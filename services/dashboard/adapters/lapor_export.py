"""The LAPOR! export's rows (the dashboard's complaints read model) and its files: CSV (UTF-8 with a byte-order mark,
comma-separated, one header row, dates ``dd-mm-yyyy HH:MM``) and XLSX (one sheet ``Laporan``, the header row
bold, dates as dates). Inert as the Buku Rekap's files are (``exports.py``): a text is never a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from services.dashboard.adapters.exports import _NOT_IN_XLSX, FORMULA_START
from services.dashboard.adapters.queries import Period
from services.dashboard.adapters.tables import complaints as c
from services.dashboard.domain.lapor_export import COLUMNS, DATE_COLUMNS

LAPOR_CHANNEL = "lapor"


def _conditions(kecamatan: Sequence[str], period: Period, with_lapor: bool) -> list[Any]:
    conds: list[Any] = [c.c.kecamatan.in_(list(kecamatan))]
    if period.start is not None:
        conds.append(c.c.received_date >= period.start)
    if period.end is not None:
        conds.append(c.c.received_date <= period.end)
    if not with_lapor:
        conds.append(c.c.channel != LAPOR_CHANNEL)
    return conds


def count(conn: Connection, kecamatan: Sequence[str], period: Period, with_lapor: bool) -> int:
    query = select(func.count()).select_from(c).where(*_conditions(kecamatan, period, with_lapor))
    return conn.execute(query).scalar_one()


def rows(conn: Connection, kecamatan: Sequence[str], period: Period, with_lapor: bool) -> list[dict[str, Any]]:
    """The complaints of these kecamatan received in the period, oldest first."""
    query = select(c).where(*_conditions(kecamatan, period, with_lapor)).order_by(c.c.received_at, c.c.complaint_id)
    return [dict(r) for r in conn.execute(query).mappings()]


def _text(value: Any) -> Any:
    if isinstance(value, str):
        return _NOT_IN_XLSX.sub("\ufffd", value)
    return value


def csv_bytes(lines: Iterable[list[Any]]) -> bytes:
    def cell(value: Any) -> str:
        if isinstance(value, datetime):
            return value.strftime("%d-%m-%Y %H:%M")
        text = "" if value is None else str(value)
        return "'" + text if text.startswith(FORMULA_START) else text

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([name for name, _ in COLUMNS])
    for values in lines:
        writer.writerow([cell(v) for v in values])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx(lines: Iterable[list[Any]], *, title: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Laporan"
    for col, (name, width) in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=1, column=col, value=name)
        cell.font = Font(bold=True)
        ws.column_dimensions[get_column_letter(col)].width = width
    for r, values in enumerate(lines, start=2):
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row=r, column=col)
            cell.value = _text(value) if value != "" else None
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula, also when it starts with "="
            elif col - 1 in DATE_COLUMNS and isinstance(value, datetime):
                cell.number_format = "DD-MM-YYYY HH:MM"
    ws.freeze_panes = "A2"
    wb.properties.title = title
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
