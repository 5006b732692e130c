"""The numbers of the letters a kecamatan sends, as tata naskah dinas writes them: a kabupaten's pattern over the
classification code, the register's sequence number, the kecamatan's unit code and the year, for example
``000.8.3.4/12/432.407/2026``.

Sources (issue #16):

- Permendagri 83/2022 (Kode Klasifikasi Arsip di Lingkungan Kementerian Dalam Negeri dan Pemerintah Daerah),
  Pasal 3 ayat (5) and (6): the classification codes are numbers, and they are the basis of letter numbering,
  filing and retention. Its list for pemerintah daerah has no entry of its own for the answer to a complaint;
  the nearest is 000.8.3.4 *Pelayanan Publik* (000.8 Organisasi dan Tata Laksana > 000.8.3 Ketatalaksanaan >
  000.8.3.4), next to 000.8.3.2 Standar Pelayanan and 000.8.3.3 Standar Operasional Prosedur. 700.1.2.4
  *Laporan Perkembangan Penanganan Surat Pengaduan Masyarakat* is the inspectorate's report on complaint
  handling (700 Pengawasan), not a letter to the complainant, and 100.2.2.5 *Fasilitasi Pelayanan Umum*
  (pelayanan administrasi kecamatan) is the kabupaten's facilitation of the kecamatan's services. So the default
  for both letters of a complaint is 000.8.3.4: the response (surat tanggapan) and the surat pelimpahan belong to
  one case file (berkas), and a file's documents carry one code. The list was read from a published transcription
  of the regulation's lampiran (codes and titles); a kabupaten checks it against its own copy and its Perbup.
- Tata naskah dinas di lingkungan pemerintah daerah (Permendagri 1/2023, which replaced Permendagri 54/2009):
  the number of a surat dinas is kode klasifikasi arsip / nomor urut / kode unit pengolah / tahun, the nomor urut
  counting the unit's outgoing letters in one calendar year. We could not read the regulation's own text; the
  order is the one letters of pemerintah daerah carry under the 2022 codes (Bappeda Provinsi Lampung,
  ``000.8.3.4/3/VI.01/2026``; the Bupati of Pamekasan's circular ``800/11/432.403/2026``), while Kemendagri's own
  letters leave the year out (``000.8.3.3/15/OR``). That is why the whole pattern is the kabupaten's setting.

A kabupaten's setting ``letter_number`` (all keys optional)::

    {"pattern": "{klasifikasi}/{urut}/{unit}/{tahun}",
     "klasifikasi": {"000.8.3.4": "Pelayanan Publik", "...": "..."},
     "default": {"response_letter": "000.8.3.4", "referral_letter": "000.8.3.4"}}

``klasifikasi`` is the list the Camat chooses from when signing or referring; ``default`` the code a letter gets
when none is chosen. The kecamatan's own setting ``unit_pengolah`` is its unit code (``{unit}``), its Kemendagri
code when it has none. The sequence (``{urut}``) is the workflow's: gapless per kecamatan and year.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

LetterKind = Literal["response_letter", "referral_letter"]
LETTER_KINDS: Final[tuple[LetterKind, ...]] = ("response_letter", "referral_letter")

# what a pattern may name, and what each stands for
PLACEHOLDERS: Final[Mapping[str, str]] = {
    "klasifikasi": "the classification code (kode klasifikasi arsip), from the kabupaten's list",
    "urut": "the sequence number in the kecamatan's register of outgoing letters this year; {urut:03} pads to 3",
    "unit": "the kecamatan's unit code (kode unit pengolah): its setting unit_pengolah, else its Kemendagri code",
    "tahun": "the year, in the kabupaten's time zone",
    "bulan": "the month in Roman numerals (I to XII), for a kabupaten whose rules write it",
    "kode_wilayah": "the kecamatan's Kemendagri code (35.28.07)",
}
DEFAULT_PATTERN: Final = "{klasifikasi}/{urut}/{unit}/{tahun}"
PELAYANAN_PUBLIK: Final = "000.8.3.4"  # Permendagri 83/2022: Organisasi dan Tata Laksana > Ketatalaksanaan
DEFAULT_KLASIFIKASI: Final[Mapping[str, str]] = {PELAYANAN_PUBLIK: "Pelayanan Publik"}

# Permendagri 83/2022 Pasal 3 ayat (5): codes are numbers, three digits, then levels after dots (500.6.26.4)
KLASIFIKASI_CODE: Final = re.compile(r"\d{3}(?:\.\d{1,3}){0,5}")
# a unit code: 432.407, VI.01, 35.28.07, Kec-Pgt (no "/", the pattern's usual separator)
UNIT_CODE: Final = re.compile(r"[A-Za-z0-9]+(?:[.\-][A-Za-z0-9]+)*")
LITERAL: Final = re.compile(r"[A-Za-z0-9 ./\-_]*")  # what a pattern writes between its placeholders
URUT_WIDTH: Final = re.compile(r"0[1-6]")  # {urut:03}: zero-padded to 3 digits
MAX_PATTERN, MAX_UNIT, MAX_TITLE, MAX_LIST = 80, 32, 200, 200
ROMAN: Final = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")
SETTING_KEYS: Final = ("pattern", "klasifikasi", "default")


class UnknownKlasifikasi(ValueError):
    """A classification code the kabupaten's list does not hold; the message is for the Camat (Indonesian)."""


def validate_unit_code(value: object) -> str:
    """A kecamatan's ``unit_pengolah`` setting, checked (ValueError)."""
    if not isinstance(value, str) or not UNIT_CODE.fullmatch(value) or len(value) > MAX_UNIT:
        raise ValueError(
            f"unit_pengolah: {value!r} is not a unit code (letters and digits joined by '.' or '-', at most "
            f"{MAX_UNIT} characters: 432.407)"
        )
    return value


def _parse(pattern: object) -> list[tuple[str, str | None, str]]:
    """The pattern as (literal, placeholder or None, format spec), checked (ValueError)."""
    if not isinstance(pattern, str) or not pattern.strip() or len(pattern) > MAX_PATTERN:
        raise ValueError(f"letter_number.pattern must be a text of 1 to {MAX_PATTERN} characters")
    try:
        parts = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        raise ValueError(f"letter_number.pattern {pattern!r}: {exc} (placeholders are written {{urut}})") from None
    result: list[tuple[str, str | None, str]] = []
    for literal, name, spec, conversion in parts:
        if not LITERAL.fullmatch(literal):
            raise ValueError(
                f"letter_number.pattern {pattern!r}: write only letters, digits, spaces and . / - _ between the "
                "placeholders"
            )
        if name is not None:
            if name not in PLACEHOLDERS:
                raise ValueError(
                    f"letter_number.pattern {pattern!r}: unknown placeholder {{{name}}}; known: "
                    + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
                )
            if conversion or (spec and (name != "urut" or not URUT_WIDTH.fullmatch(spec))):
                raise ValueError(
                    f"letter_number.pattern {pattern!r}: {{{name}{'!' + conversion if conversion else ''}"
                    f"{':' + spec if spec else ''}}} is not allowed; only {{urut}} takes a width, {{urut:03}}"
                )
        result.append((literal, name, spec or ""))
    if [name for _, name, _ in result].count("urut") != 1:
        raise ValueError(f"letter_number.pattern {pattern!r} must hold {{urut}} exactly once")
    return result


def _klasifikasi_list(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not value or len(value) > MAX_LIST:
        raise ValueError(
            'letter_number.klasifikasi must map each code to its title: {"000.8.3.4": "Pelayanan Publik"} '
            f"(1 to {MAX_LIST} codes)"
        )
    for code, title in value.items():
        if not KLASIFIKASI_CODE.fullmatch(code):
            raise ValueError(
                f"letter_number.klasifikasi: {code!r} is not a classification code (Permendagri 83/2022: digits, "
                "three then levels after dots, 000.8.3.4)"
            )
        if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
            raise ValueError(f"letter_number.klasifikasi: {code}'s title must be a text of 1 to {MAX_TITLE} characters")
    return dict(value)


@dataclass(frozen=True)
class LetterNumbering:
    """A kabupaten's letter numbering: its pattern, its list of classification codes, the default per letter."""

    pattern: str = DEFAULT_PATTERN
    klasifikasi: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_KLASIFIKASI))
    default: Mapping[LetterKind, str] = field(default_factory=lambda: dict.fromkeys(LETTER_KINDS, PELAYANAN_PUBLIK))

    def __post_init__(self) -> None:
        _parse(self.pattern)
        _klasifikasi_list(self.klasifikasi)
        for kind in LETTER_KINDS:
            if self.default.get(kind) not in self.klasifikasi:
                raise ValueError(
                    f"letter_number.default.{kind}: {self.default.get(kind)!r} is not in letter_number.klasifikasi "
                    f"({', '.join(self.klasifikasi)})"
                )

    @classmethod
    def from_settings(cls, value: object) -> LetterNumbering:
        """The kabupaten's setting ``letter_number`` (None: all defaults), checked: ValueError says what is wrong."""
        if value is None:
            return cls()
        if not isinstance(value, dict):
            raise ValueError('letter_number must be an object: {"pattern": ..., "klasifikasi": ..., "default": ...}')
        unknown = set(value) - set(SETTING_KEYS)
        if unknown:
            raise ValueError(f"letter_number: unknown keys {sorted(unknown)}; known: {', '.join(SETTING_KEYS)}")
        klasifikasi = _klasifikasi_list(value["klasifikasi"]) if "klasifikasi" in value else dict(DEFAULT_KLASIFIKASI)
        default = value.get("default", {})
        if not isinstance(default, dict) or set(default) - set(LETTER_KINDS):
            raise ValueError(f"letter_number.default must map {' and '.join(LETTER_KINDS)} to a code of the list")
        chosen: dict[LetterKind, str] = {}
        for kind in LETTER_KINDS:
            code = default.get(kind, PELAYANAN_PUBLIK if PELAYANAN_PUBLIK in klasifikasi else None)
            if code is None:
                raise ValueError(f"letter_number.default.{kind}: name its code (the list has no {PELAYANAN_PUBLIK})")
            chosen[kind] = code
        return cls(pattern=value.get("pattern", DEFAULT_PATTERN), klasifikasi=klasifikasi, default=chosen)

    def choose(self, kind: LetterKind, requested: str | None) -> str:
        """The classification of a letter: the code the Camat chose, if the list holds it, else the kind's
        default. UnknownKlasifikasi (its message in Indonesian) for a code not in the list."""
        if requested is None or not requested.strip():
            return self.default[kind]
        code = requested.strip()
        if code not in self.klasifikasi:
            choices = "; ".join(f"{c} ({t})" for c, t in self.klasifikasi.items())
            raise UnknownKlasifikasi(
                f"Kode klasifikasi arsip {code} tidak ada dalam daftar kabupaten. Pilih salah satu: {choices}."
            )
        return code

    def number(self, *, klasifikasi: str, urut: int, unit: str, tahun: int, bulan: int, kode_wilayah: str) -> str:
        """The number, the pattern's placeholders filled in."""
        values: dict[str, object] = {
            "klasifikasi": klasifikasi,
            "urut": urut,
            "unit": unit,
            "tahun": tahun,
            "bulan": ROMAN[bulan - 1],
            "kode_wilayah": kode_wilayah,
        }
        return "".join(
            literal + (format(values[name], spec) if name is not None else "")
            for literal, name, spec in _parse(self.pattern)
        )
