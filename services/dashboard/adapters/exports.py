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
import re
from collections.abc import Iterable
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins

from services.dashboard.domain.register import COLUMNS

TITLE = "BUKU REKAP PENGADUAN"
HEADER_ROW = 5  # title, kecamatan, period, a blank row, then the header
DATE_COLUMNS = {1: "DD-MM-YYYY HH:MM", 9: "DD-MM-YYYY"}  # 0-based: Tanggal Diterima, Tanggal Dikirim

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NOT_IN_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # what openpyxl refuses (IllegalCharacterError)

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def xlsx(lines: Iterable[list], *, kecamatan: str, kabupaten: str, period: str, generated: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Buku Rekap"
    last = get_column_letter(len(COLUMNS))
    for row, (text, font) in enumerate(
        (
            (TITLE, Font(bold=True, size=14)),
            (f"KECAMATAN {kecamatan.upper()} - {kabupaten.upper()}", Font(bold=True, size=12)),
            (period, Font(size=11)),
        ),
        start=1,
    ):
        _put(ws.cell(row=row, column=1), text).font = font
        ws.cell(row=row, column=1).alignment = Alignment(horizontal="center")
        ws.merge_cells(f"A{row}:{last}{row}")
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    header_fill = PatternFill("solid", fgColor="D9D9D9")
    for col, (name, width) in enumerate(COLUMNS, start=1):
        cell = _put(ws.cell(row=HEADER_ROW, column=col), name)
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.border = border
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(col)].width = width
    wrap = Alignment(vertical="top", wrap_text=True)
    count = 0
    for r, values in enumerate(lines, start=HEADER_ROW + 1):
        count += 1
        for col, value in enumerate(values, start=1):
            cell = _put(ws.cell(row=r, column=col), value if value != "" else None)
            cell.alignment = wrap
            cell.border = border
            if col - 1 in DATE_COLUMNS and isinstance(value, datetime):
                cell.number_format = DATE_COLUMNS[col - 1]
    _put(ws.cell(row=HEADER_ROW + count + 2, column=1), f"Jumlah: {count} pengaduan. Dicetak {generated}.").font = Font(
        italic=True, size=9
    )

    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"  # the header on every printed page
    ws.freeze_panes = ws.cell(row=HEADER_ROW + 1, column=1)
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages tall as it takes
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.5, bottom=0.6, header=0.3, footer=0.3)
    ws.print_options.horizontalCentered = True
    ws.oddFooter.center.text = "Halaman &P dari &N"
    ws.oddFooter.left.text = TITLE
    wb.properties.title = f"{TITLE} - Kecamatan {kecamatan}"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


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
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_csv_value(name) for name, _ in COLUMNS])
    for values in lines:
        writer.writerow([_csv_value(v) for v in values])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
