"""Validation and normalisation of what a citizen types to identify themselves.

Pure functions only: no I/O, no clock reads (callers pass ``today``), no
randomness (callers pass random bytes). Every rejection raises a subclass of
:class:`InvalidIdentity` carrying a stable machine ``code`` and a ``message``
in Bahasa Indonesia that can be shown to the citizen as is.

Covered here:

* NIK (Nomor Induk Kependudukan, the 16-digit KTP number)
* phone numbers (normalised to E.164 with ``phonenumbers``, default region ID)
* e-mail addresses (normalised with ``email_validator``, no DNS lookups)

The tracking code's format is a contract every service reads: ``shared/contracts/tracking.py``.

In shared/ because two services check the same values: intake what citizens type, the workflow what an officer
corrects on a complainant's request (UU 27/2022; issue #17).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final

import phonenumbers
from email_validator import EmailNotValidError, validate_email

__all__ = [
    "PROVINCE_CODES",
    "InvalidEmail",
    "InvalidIdentity",
    "InvalidNik",
    "InvalidPhone",
    "mask_nik",
    "mask_phone",
    "nik_region_code",
    "normalize_email",
    "normalize_phone",
    "validate_nik",
]


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


class InvalidIdentity(Exception):
    """An identity field typed by a citizen was rejected.

    ``code`` is stable and meant for programs (API error bodies, metrics);
    ``message`` is Bahasa Indonesia meant for the citizen.
    """

    def __init__(self, code: str, message: str) -> None:
        # Both go into ``args`` so the exception survives pickling
        # (e.g. when it crosses a worker boundary).
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidNik(InvalidIdentity):
    """Codes: ``nik_format``, ``nik_region``, ``nik_birth_date``, ``nik_serial``."""


class InvalidPhone(InvalidIdentity):
    """Code: ``phone_invalid``."""


class InvalidEmail(InvalidIdentity):
    """Code: ``email_invalid``."""


# --------------------------------------------------------------------------
# NIK
# --------------------------------------------------------------------------

# Kemendagri province codes ("kode wilayah", Kepmendagri on kode dan data
# wilayah administrasi pemerintahan) of Indonesia's 38 provinces, as in force
# since the Papua splits of 2022. These are the Kemendagri/Dukcapil codes that
# open every NIK, not the BPS statistical codes (which differ for Papua).
# There is no code 97; 2-digit codes outside this set cannot open a NIK.
PROVINCE_CODES: Final[frozenset[str]] = frozenset(
    {
        # Sumatera
        "11",  # Aceh
        "12",  # Sumatera Utara
        "13",  # Sumatera Barat
        "14",  # Riau
        "15",  # Jambi
        "16",  # Sumatera Selatan
        "17",  # Bengkulu
        "18",  # Lampung
        "19",  # Kepulauan Bangka Belitung
        "21",  # Kepulauan Riau
        # Jawa
        "31",  # DKI Jakarta
        "32",  # Jawa Barat
        "33",  # Jawa Tengah
        "34",  # DI Yogyakarta
        "35",  # Jawa Timur
        "36",  # Banten
        # Bali dan Nusa Tenggara
        "51",  # Bali
        "52",  # Nusa Tenggara Barat
        "53",  # Nusa Tenggara Timur
        # Kalimantan
        "61",  # Kalimantan Barat
        "62",  # Kalimantan Tengah
        "63",  # Kalimantan Selatan
        "64",  # Kalimantan Timur
        "65",  # Kalimantan Utara
        # Sulawesi
        "71",  # Sulawesi Utara
        "72",  # Sulawesi Tengah
        "73",  # Sulawesi Selatan
        "74",  # Sulawesi Tenggara
        "75",  # Gorontalo
        "76",  # Sulawesi Barat
        # Maluku
        "81",  # Maluku
        "82",  # Maluku Utara
        # Papua
        "91",  # Papua
        "92",  # Papua Barat
        "93",  # Papua Selatan (2022)
        "94",  # Papua Tengah (2022)
        "95",  # Papua Pegunungan (2022)
        "96",  # Papua Barat Daya (2022)
    }
)

# Separators people type inside a NIK: whitespace, dots and dashes.
_NIK_SEPARATORS: Final = re.compile(r"[\s.\-]+")
_NIK_SHAPE: Final = re.compile(r"[0-9]{16}")  # ASCII digits only

# Women's NIKs carry the day of birth plus 40.
_FEMALE_DAY_OFFSET: Final = 40

_MSG_NIK_FORMAT: Final = "NIK harus 16 digit angka."
_MSG_NIK_PROVINCE: Final = "Kode provinsi pada NIK (2 digit pertama) tidak dikenal. Periksa kembali NIK Anda."
_MSG_NIK_KABKOTA: Final = "Kode kabupaten/kota pada NIK (digit ke-3 dan ke-4) tidak boleh 00. Periksa kembali NIK Anda."
_MSG_NIK_KECAMATAN: Final = "Kode kecamatan pada NIK (digit ke-5 dan ke-6) tidak boleh 00. Periksa kembali NIK Anda."
_MSG_NIK_BIRTH_DATE: Final = "Tanggal lahir pada NIK (digit ke-7 sampai ke-12) tidak valid. Periksa kembali NIK Anda."
_MSG_NIK_BIRTH_FUTURE: Final = (
    "Tanggal lahir pada NIK (digit ke-7 sampai ke-12) tidak boleh setelah hari ini. Periksa kembali NIK Anda."
)
_MSG_NIK_SERIAL: Final = "Nomor urut pada NIK (4 digit terakhir) tidak boleh 0000."


def _nik_digits(value: object) -> str:
    """Strip typed separators and check the 16-ASCII-digit shape."""
    if not isinstance(value, str):
        raise InvalidNik("nik_format", _MSG_NIK_FORMAT)
    digits = _NIK_SEPARATORS.sub("", value)
    if not _NIK_SHAPE.fullmatch(digits):
        raise InvalidNik("nik_format", _MSG_NIK_FORMAT)
    return digits


def _nik_birth_date(ddmmyy: str, today: date) -> date:
    """Decode the DDMMYY block (DD + 40 for women).

    Century rule: a YY greater than today's YY is 19YY, otherwise 20YY.
    """
    day, month, yy = int(ddmmyy[0:2]), int(ddmmyy[2:4]), int(ddmmyy[4:6])
    if day > _FEMALE_DAY_OFFSET:
        day -= _FEMALE_DAY_OFFSET
    year = (1900 if yy > today.year % 100 else 2000) + yy
    try:
        born = date(year, month, day)
    except ValueError:
        raise InvalidNik("nik_birth_date", _MSG_NIK_BIRTH_DATE) from None
    if born > today:
        raise InvalidNik("nik_birth_date", _MSG_NIK_BIRTH_FUTURE)
    return born


def validate_nik(value: str, today: date) -> str:
    """Return the NIK as 16 digits, or raise :class:`InvalidNik`.

    Layout ``PPKKCC DDMMYY SSSS``: province, kabupaten/kota, kecamatan,
    birth date (day + 40 for women), serial. Checks run in that order, so
    the first broken part decides the error code.
    """
    nik = _nik_digits(value)

    if nik[0:2] not in PROVINCE_CODES:
        raise InvalidNik("nik_region", _MSG_NIK_PROVINCE)
    if nik[2:4] == "00":
        raise InvalidNik("nik_region", _MSG_NIK_KABKOTA)
    if nik[4:6] == "00":
        raise InvalidNik("nik_region", _MSG_NIK_KECAMATAN)

    _nik_birth_date(nik[6:12], today)

    if nik[12:16] == "0000":
        raise InvalidNik("nik_serial", _MSG_NIK_SERIAL)
    return nik


def nik_region_code(nik: str) -> str:
    """Kecamatan code of a NIK in Kemendagri notation, e.g. ``"35.28.07"``.

    Only the shape is checked; call :func:`validate_nik` first for the rest.
    """
    digits = _nik_digits(nik)
    return f"{digits[0:2]}.{digits[2:4]}.{digits[4:6]}"


def mask_nik(nik: str) -> str:
    """Mask a NIK for display/logs, keeping the first 4 and last 2 digits.

    ``"3528071505900001"`` -> ``"3528**********01"``.
    """
    digits = _nik_digits(nik)
    return digits[:4] + "*" * 10 + digits[-2:]


# --------------------------------------------------------------------------
# Phone
# --------------------------------------------------------------------------

_DEFAULT_REGION: Final = "ID"
# What a person may type around the digits. Letters are refused up front:
# ``phonenumbers`` would otherwise read "0812-CALL-ME" as a vanity number.
_PHONE_CHARS: Final = re.compile(r"[0-9+\-.()/\s]+")
_MSG_PHONE: Final = "Nomor telepon tidak valid. Tulis nomor HP atau telepon rumah lengkap, contoh: 081234567890."


def normalize_phone(value: str) -> str:
    """Return the number in E.164 (``"+6281234567890"``) or raise :class:`InvalidPhone`.

    Accepts the usual ways of writing Indonesian numbers ("0812 3456 7890",
    "+62 812-3456-7890", "6281234567890", "(0324) 7710982") and any number
    in international format that ``phonenumbers.is_valid_number`` accepts.
    """
    if not isinstance(value, str):
        raise InvalidPhone("phone_invalid", _MSG_PHONE)
    text = value.strip()
    if not _PHONE_CHARS.fullmatch(text):
        raise InvalidPhone("phone_invalid", _MSG_PHONE)
    try:
        number = phonenumbers.parse(text, _DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise InvalidPhone("phone_invalid", _MSG_PHONE) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("phone_invalid", _MSG_PHONE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """Mask an E.164 number keeping country code, first 3 and last 3 digits.

    ``"+6281234567890"`` -> ``"+62812*****890"``. Very short national numbers
    keep fewer digits so that at least a third of the number stays hidden.
    """
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        raise InvalidPhone("phone_invalid", _MSG_PHONE) from None
    national = phonenumbers.national_significant_number(number)
    keep = min(3, len(national) // 3)
    hidden = len(national) - 2 * keep
    tail = national[len(national) - keep :] if keep else ""
    return f"+{number.country_code}{national[:keep]}{'*' * hidden}{tail}"


# --------------------------------------------------------------------------
# E-mail
# --------------------------------------------------------------------------

_MSG_EMAIL: Final = "Alamat email tidak valid. Contoh: nama@contoh.co.id."


def normalize_email(value: str) -> str:
    """Return the normalised address (domain lower-cased, Unicode NFC) or raise.

    Syntax only: no DNS lookups, so it stays pure and fast.
    """
    if not isinstance(value, str):
        raise InvalidEmail("email_invalid", _MSG_EMAIL)
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise InvalidEmail("email_invalid", _MSG_EMAIL) from None
    return result.normalized
