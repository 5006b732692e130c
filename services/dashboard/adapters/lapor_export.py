"""The LAPOR! export's rows (the dashboard's complaints read model) and its files: CSV (UTF-8 with a byte-order mark,
comma-separated, one header row, dates ``dd-mm-yyyy HH:MM``) and XLSX (one sheet ``Laporan``, the header row
bold, dates as dates). Inert as the Buku Rekap's files are (``exports.py``): a text is never a formula."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, BinaryIO

from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from services.dashboard.adapters import exports
from services.dashboard.adapters.exports import FORMULA_START
from services.dashboard.adapters.queries import STREAM_BATCH, Period
from services.dashboard.adapters.tables import complaints as c
from services.dashboard.adapters.xlsx_stream import StreamedSheet
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


def rows(
    conn: Connection, kecamatan: Sequence[str], period: Period, with_lapor: bool, columns: Sequence[Any] | None = None
) -> Iterator[dict[str, Any]]:
    """The complaints of these kecamatan received in the period (or only ``columns`` of them), oldest first, fetched
    from a server-side cursor ``STREAM_BATCH`` at a time. ``conn`` must be in a transaction."""
    query = (
        select(*(columns or (c,)))
        .where(*_conditions(kecamatan, period, with_lapor))
        .order_by(c.c.received_at, c.c.complaint_id)
    )
    for r in conn.execution_options(yield_per=STREAM_BATCH).execute(query).mappings():
        yield dict(r)


def _csv_cell(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%d-%m-%Y %H:%M")
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_bytes(lines: Iterable[list[Any]]) -> bytes:
    out = io.BytesIO()
    write_csv(out, lines)
    return out.getvalue()


def write_csv(out: BinaryIO, lines: Iterable[list[Any]]) -> int:
    """The CSV written to ``out`` as ``lines`` come (``exports.write_csv``); returns how many lines there were."""
    return exports.write_csv(out, lines, header=[name for name, _ in COLUMNS], cell=_csv_cell)


def xlsx(lines: Iterable[list[Any]], *, title: str) -> bytes:
    """The workbook as bytes (``write_xlsx`` into memory)."""
    out = io.BytesIO()
    write_xlsx(out, lines, title=title)
    return out.getvalue()


def write_xlsx(out: BinaryIO, lines: Iterable[list[Any]], *, title: str) -> int:
    """The workbook written to ``out`` as ``lines`` come (``xlsx_stream``), in memory that does not grow with the
    rows; returns how many lines there were."""
    sheet = StreamedSheet("Laporan")
    ws = sheet.ws
    header = []
    for col, (name, width) in enumerate(COLUMNS, start=1):
        cell = WriteOnlyCell(ws, value=name)
        cell.font = Font(bold=True)
        header.append(cell)
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = "A2"
    sheet.wb.properties.title = title
    sheet.head(header)
    dated = sheet.style(number_format="DD-MM-YYYY HH:MM")
    return sheet.save(out, lines, styles=[0] * len(COLUMNS), date_styles=dict.fromkeys(DATE_COLUMNS, dated))
