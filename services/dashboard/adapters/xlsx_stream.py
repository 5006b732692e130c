"""One worksheet written as its rows come, in constant memory and at a few microseconds a cell (issue #20 item 4).

openpyxl lays the workbook out (styles, fonts, column widths, print setup, the rows above the data) in its
write-only mode, which keeps nothing; the data rows are then written straight into the sheet's XML as the zip
entry is streamed out, instead of through openpyxl's cell objects: openpyxl spent about 14 us a cell (a cell
object, its style looked up, an lxml element), 0.17 ms a row of the Buku Rekap, 8 s for 50,000 rows. What a
cell holds is what openpyxl would have written for it: a text is an inline string (``t="inlineStr"``, never a
formula), a number a number, a date or datetime Excel's serial number with its number format, an empty cell
only its style (its border) or nothing. Characters a worksheet cannot hold (C0 controls other than tab, LF and
CR) are replaced by U+FFFD (``NOT_IN_XLSX``), as the Buku Rekap always did.

The output is a file object (a ``SpooledTemporaryFile`` in the API: memory up to its threshold, disk after).
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from copy import copy
from datetime import date, datetime
from typing import Any, BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel

NOT_IN_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # what openpyxl refuses (IllegalCharacterError)
_SPECIAL = re.compile(r"[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f]")  # what ``_escape`` changes
# str.strip's whitespace but the controls NOT_IN_XLSX replaces: openpyxl asks for xml:space="preserve" when the
# (cleaned) text starts or ends with it
_SPACE = frozenset(
    " \t\n\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
DEFAULT_DATETIME = "yyyy-mm-dd h:mm:ss"  # openpyxl's format for a datetime given none
DEFAULT_DATE = "yyyy-mm-dd"
CHUNK = 1 << 16  # bytes handed to the zip stream at a time
COMPRESS_LEVEL = 1  # the sheet: a quarter less CPU than zlib's default for a file about a fifth larger

Cell = tuple[Any, int]  # a value and its style id (0: none)


class StreamedSheet:
    """A workbook of one sheet: ``ws`` (openpyxl, write-only) takes the sheet's settings and the rows above the
    data (``head``); ``style`` makes a style id for the data cells; ``save`` writes the whole file."""

    def __init__(self, title: str) -> None:
        self.wb = Workbook(write_only=True)
        self.ws = self.wb.create_sheet(title)
        self.head_rows = 0

    def head(self, cells: list) -> None:
        """A row above the data (openpyxl cells or values)."""
        self.ws.append(cells)
        self.head_rows += 1

    def style(self, **attributes: Any) -> int:
        """The style id of a cell with these attributes (font, fill, border, alignment, number_format)."""
        cell = WriteOnlyCell(self.ws)
        for name, value in attributes.items():
            setattr(cell, name, value)
        return cell.style_id if cell.has_style else 0

    def save(
        self,
        out: BinaryIO,
        lines: Iterable[Sequence[Any]],
        *,
        styles: Sequence[int],
        date_styles: Mapping[int, int] | None = None,
        tail: Callable[[int, int], Iterable[tuple[int, list[Cell]]]] | None = None,
    ) -> int:
        """The workbook into ``out`` with ``lines`` as the data rows below the head; returns how many lines there
        were. ``styles``: each column's style id; ``date_styles``: a column's style for a date or datetime (else
        its style with openpyxl's default date format); ``tail(count, next_row)``: rows after the data, each
        ``(row number, cells)``."""
        date_styles = dict(date_styles or {})
        letters = [get_column_letter(i + 1) for i in range(len(styles))]
        # as openpyxl does for a date given no format: its default on the column's own style (made before the
        # skeleton is saved: the styles are written with it)
        fallback = {
            (col, kind): _with_format(self.wb, styles[col], fmt)
            for col in range(len(styles))
            if col not in date_styles
            for kind, fmt in ((datetime, DEFAULT_DATETIME), (date, DEFAULT_DATE))
        }

        def date_style(col: int, value: date) -> int:
            if col in date_styles:
                return date_styles[col]
            return fallback.get((col, datetime if isinstance(value, datetime) else date), 0)

        skeleton = io.BytesIO()
        # a marker where the data rows go: the sheet's XML is written by openpyxl around it
        self.ws.append([])
        self.wb.save(skeleton)
        count = 0
        first = self.head_rows + 1

        def rows() -> Iterable[str]:
            nonlocal count
            r = first
            width = len(styles)
            with_style = [f' s="{style}"' if style else "" for style in styles]
            for values in lines:
                count += 1
                parts = [f'<row r="{r}">']
                for col, value in enumerate(values):
                    if col < width and value.__class__ is str and value:  # most cells: a text, the short way
                        space = ' xml:space="preserve"' if value[0] in _SPACE or value[-1] in _SPACE else ""
                        parts.append(
                            f'<c r="{letters[col]}{r}"{with_style[col]} t="inlineStr"><is><t{space}>'
                            f"{_escape(value)}</t></is></c>"
                        )
                        continue
                    style = styles[col] if col < width else 0
                    if isinstance(value, date):
                        style = date_style(col, value)
                    parts.append(_cell(f"{get_column_letter(col + 1)}{r}", value, style))
                parts.append("</row>")
                yield "".join(parts)
                r += 1
            for number, cells in tail(count, r) if tail else ():
                yield (
                    f'<row r="{number}">'
                    + "".join(
                        _cell(f"{get_column_letter(col + 1)}{number}", value, style)
                        for col, (value, style) in enumerate(cells)
                    )
                    + "</row>"
                )

        _splice(skeleton, out, self.ws.path.lstrip("/"), self.head_rows + 1, rows())
        return count


def _with_format(wb: Workbook, style_id: int, number_format: str) -> int:
    ws = wb.worksheets[0]
    cell = WriteOnlyCell(ws)
    if style_id:
        cell._style = copy(wb._cell_styles[style_id])
    cell.number_format = number_format
    return cell.style_id


def _cell(ref: str, value: Any, style: int) -> str:
    s = f' s="{style}"' if style else ""
    if value is None or value == "":
        return f'<c r="{ref}"{s}/>' if style else ""
    if isinstance(value, str):
        text = _escape(value)
        space = ' xml:space="preserve"' if value[0] in _SPACE or value[-1] in _SPACE else ""
        return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{text}</t></is></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, date):
        if isinstance(value, datetime) and value.tzinfo is not None:
            raise TypeError("Excel does not support time zones in datetimes: make it naive (local) first")
        return f'<c r="{ref}"{s} t="n"><v>{to_excel(value):.16g}</v></c>'
    if isinstance(value, int | float):
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            return f'<c r="{ref}"{s} t="n"/>'
        return f'<c r="{ref}"{s} t="n"><v>{value:.16g}</v></c>'  # as openpyxl writes a number
    return _cell(ref, str(value), style)


def _escape(value: str) -> str:
    """A text as XML character data, as lxml writes it (a CR as ``&#13;``, which a reader keeps)."""
    if _SPECIAL.search(value) is None:
        return value
    text = NOT_IN_XLSX.sub("\ufffd", value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\r", "&#13;") if "\r" in text else text


def _splice(skeleton: io.BytesIO, out: BinaryIO, sheet: str, marker_row: int, rows: Iterable[str]) -> None:
    """The skeleton's entries copied into ``out``; the sheet's with the data rows in place of the empty marker
    row that openpyxl wrote (``<row r="N"/>``), streamed through the compressor in chunks."""
    skeleton.seek(0)
    with zipfile.ZipFile(skeleton) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename != sheet:
                dst.writestr(info, data)
                continue
            xml = data.decode("utf-8")
            found = re.findall(rf'<row r="{marker_row}"\s*/>|<row r="{marker_row}"></row>', xml)
            if len(found) != 1:
                raise RuntimeError(f"the sheet's empty row {marker_row} is not where the data should go")
            before, after = xml.split(found[0])
            entry = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry._compresslevel = COMPRESS_LEVEL  # the rows: fast deflate (zlib level 1; openpyxl uses 6)
            with dst.open(entry, "w", force_zip64=True) as stream:
                stream.write(before.encode("utf-8"))
                buffer: list[str] = []
                size = 0
                for row in rows:
                    buffer.append(row)
                    size += len(row)
                    if size >= CHUNK:
                        stream.write("".join(buffer).encode("utf-8"))
                        buffer, size = [], 0
                stream.write("".join(buffer).encode("utf-8"))
                stream.write(after.encode("utf-8"))
