"""Text that people type, made safe to store, show, print and put in a header or a log line: one rule for every
service (intake's forms, staff commands, Open311).

- Unicode formatting characters (category Cf: bidi embeddings and overrides U+202A-U+202E, isolates
  U+2066-U+2069, marks U+200E/U+200F, zero-width U+200B-U+200D, word joiner U+2060, BOM U+FEFF, soft hyphen
  ...) are removed: invisible, they make "Siti" and "Si\u200bti" two names, or turn a subject around on the
  screen (a right-to-left override shows ``exe.fdp`` as ``pdf.exe``);
- text is put in Unicode NFC (one spelling for what looks the same);
- a one-line field (a name, a subject, a perihal, an agency, a unit) refuses line breaks (CR, LF, U+0085,
  U+2028, U+2029): they would split a header, a register row or a log line; tabs become spaces;
- free text keeps its line breaks (CRLF and CR become LF) and tabs; other control characters are refused.

``OneLine`` and ``FreeText`` are pydantic types that run before the field's own checks, so a length limit
counts what is stored and a field of only invisible characters is empty.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

LINE_BREAKS = re.compile(r"[\r\n\x85\u2028\u2029]")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff]")  # not tab, LF; CR handled


def strip_format_characters(value: str) -> str:
    if value.isascii():
        return value
    return "".join(ch for ch in value if unicodedata.category(ch) != "Cf")


def clean_one_line(value: str) -> str:
    """``value`` as a one-line field keeps it; raises ``PydanticCustomError`` (a 422 field error)."""
    value = unicodedata.normalize("NFC", strip_format_characters(value))
    if LINE_BREAKS.search(value):
        raise PydanticCustomError("line_break_not_allowed", "Harus satu baris, tanpa ganti baris.")
    if CONTROL_CHARACTERS.search(value.replace("\t", " ")):
        raise PydanticCustomError("invalid_character", "Berisi karakter yang tidak diizinkan.")
    return value.replace("\t", " ")


def clean_free_text(value: str) -> str:
    """``value`` as free text keeps it (line breaks as LF); raises ``PydanticCustomError`` (a 422 field error)."""
    value = unicodedata.normalize("NFC", strip_format_characters(value))
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    if CONTROL_CHARACTERS.search(value):
        raise PydanticCustomError("invalid_character", "Berisi karakter yang tidak diizinkan.")
    return value


def _one_line(value: Any) -> Any:
    return clean_one_line(value) if isinstance(value, str) else value  # not text: the str check says so


def _free_text(value: Any) -> Any:
    return clean_free_text(value) if isinstance(value, str) else value


OneLine = Annotated[str, BeforeValidator(_one_line)]
FreeText = Annotated[str, BeforeValidator(_free_text)]
