"""The Buku Rekap Pengaduan as files: XLSX (openpyxl) laid out for printing, and CSV for any spreadsheet.

XLSX: the title ``BUKU REKAP PENGADUAN``, the kecamatan and kabupaten, the period; the header row bold,
shaded and repeated at the top of every printed page; column widths, wrapped text, borders; A4 landscape,
fitted to the page width; page numbers in the footer; panes frozen below the header.

CSV: UTF-8 with a byte-order mark (so that Excel reads the names right), comma-separated, one header row,
dates ``dd-mm-yyyy HH:MM`` in the office's time zone.

Inert (issue #12): what a citizen typed (a name, an address, a subject) never becomes a formula. In the
XLSX every text is a string cell (``data_type "s"``, also when it starts with ``=``), and characters a
worksheet cannot hold (C0 controls other than tab, LF and CR) are replaced by U+FFFD instead of failing the
export. In the CSV a text that starts with ``=``, ``+``, ``-``, ``@``, tab or CR is prefixed with ``'``, as
OWASP's CSV-injection guidance says, so no spreadsheet reads it as a formula.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import BinaryIO

from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.worksheet import Worksheet
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from services.dashboard.adapters.xlsx_stream import CHUNK, StreamedSheet
from services.dashboard.adapters.xlsx_stream import NOT_IN_XLSX as _NOT_IN_XLSX
from services.dashboard.domain.register import COLUMNS

TITLE = "BUKU REKAP PENGADUAN"
HEADER_ROW = 5  # title, kecamatan, period, a blank row, then the header
DATE_COLUMNS = {1: "DD-MM-YYYY HH:MM", 9: "DD-MM-YYYY"}  # 0-based: Tanggal Diterima, Tanggal Dikirim

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def xlsx(lines: Iterable[list], *, kecamatan: str, kabupaten: str, period: str, generated: str) -> bytes:
    """The workbook as bytes (``write_xlsx`` into memory): for tests and small books."""
    out = io.BytesIO()
    write_xlsx(out, lines, kecamatan=kecamatan, kabupaten=kabupaten, period=period, generated=generated)
    return out.getvalue()


def write_xlsx(
    out: BinaryIO, lines: Iterable[list], *, kecamatan: str, kabupaten: str, period: str, generated: str
) -> int:
    """The workbook written to ``out`` as ``lines`` come (``xlsx_stream``: openpyxl lays it out, the rows are
    streamed into the sheet), in memory that does not grow with the rows; returns how many lines there were."""
    sheet = StreamedSheet("Buku Rekap")
    ws = sheet.ws
    last = get_column_letter(len(COLUMNS))
    for col, (_name, width) in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"  # the header on every printed page
    ws.freeze_panes = f"A{HEADER_ROW + 1}"
    ws.page_setup.orientation = Worksheet.ORIENTATION_LANDSCAPE
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages tall as it takes
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.5, bottom=0.6, header=0.3, footer=0.3)
    ws.print_options.horizontalCentered = True
    ws.oddFooter.center.text = "Halaman &P dari &N"
    ws.oddFooter.left.text = TITLE
    sheet.wb.properties.title = f"{TITLE} - Kecamatan {kecamatan}"

    for row, (text, font) in enumerate(
        (
            (TITLE, Font(bold=True, size=14)),
            (f"KECAMATAN {kecamatan.upper()} - {kabupaten.upper()}", Font(bold=True, size=12)),
            (period, Font(size=11)),
        ),
        start=1,
    ):
        cell = _put(WriteOnlyCell(ws), text)
        cell.font = font
        cell.alignment = Alignment(horizontal="center")
        sheet.head([cell])
        ws.merged_cells.add(f"A{row}:{last}{row}")
    sheet.head([])
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    header = []
    for name, _width in COLUMNS:
        cell = _put(WriteOnlyCell(ws), name)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="D9D9D9")
        cell.border = border
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        header.append(cell)
    sheet.head(header)
    wrap = Alignment(vertical="top", wrap_text=True)
    plain = sheet.style(alignment=wrap, border=border)
    dated = {col: sheet.style(alignment=wrap, border=border, number_format=fmt) for col, fmt in DATE_COLUMNS.items()}
    footer = sheet.style(font=Font(italic=True, size=9))

    def tail(count: int, next_row: int) -> list:
        return [(next_row + 1, [(f"Jumlah: {count} pengaduan. Dicetak {generated}.", footer)])]

    return sheet.save(out, lines, styles=[plain] * len(COLUMNS), date_styles=dated, tail=tail)


def _put(cell, value):
    """``value`` into ``cell``; a text always as a string, never a formula."""
    if isinstance(value, str):
        cell.value = _NOT_IN_XLSX.sub("\ufffd", value)
        cell.data_type = "s"  # openpyxl makes a text starting with "=" a formula
    else:
        cell.value = value
    return cell


def _csv_value(value) -> str:
    if isinstance(value, datetime):
        return value.strftime("%d-%m-%Y %H:%M")
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_bytes(lines: Iterable[list]) -> bytes:
    out = io.BytesIO()
    write_csv(out, lines)
    return out.getvalue()


def write_csv(out: BinaryIO, lines: Iterable[list], header: Iterable[str] | None = None, cell=None) -> int:
    """The CSV written to ``out`` as ``lines`` come, in chunks; returns how many lines there were. ``header`` and
    ``cell`` (a value as text): the Buku Rekap's unless given."""
    cell = cell or _csv_value
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow([cell(name) for name in (header if header is not None else (n for n, _ in COLUMNS))])
    out.write("\ufeff".encode())
    count = 0
    for values in lines:
        count += 1
        writer.writerow([cell(v) for v in values])
        if text.tell() >= CHUNK:
            out.write(text.getvalue().encode("utf-8"))
            text.seek(0)
            text.truncate()
    out.write(text.getvalue().encode("utf-8"))
    return count


# -- the file as the answer ---------------------------------------------------------------------------------------
SPOOL_BYTES = 8 << 20  # a file up to this size stays in memory; a larger one goes to a temporary file


def spool() -> tempfile.SpooledTemporaryFile:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)


def file_response(out: tempfile.SpooledTemporaryFile, media_type: str, filename: str) -> StreamingResponse:
    """The file written into ``out`` (``spool``), sent in chunks and closed after: the answer never holds it whole."""
    out.seek(0)

    def chunks() -> Iterator[bytes]:
        try:
            while chunk := out.read(CHUNK):
                yield chunk
        finally:
            out.close()

    size = out.seek(0, io.SEEK_END)
    out.seek(0)
    return StreamingResponse(
        chunks(),
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "Content-Length": str(size),
        },
        background=BackgroundTask(out.close),  # also when the client went away before the end
    )
