"""Dates and times as the pages show them: in WIB (Asia/Jakarta), with Indonesian month names (Babel's
``id`` locale, not a hand-kept list), e.g. ``28 November 2026``, ``28 Nov 2026 10.15 WIB``."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

WIB = ZoneInfo("Asia/Jakarta")
LOCALE = "id_ID"


def _as_datetime(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value


def tanggal(value: datetime | date | str | None) -> str:
    """``28 November 2026`` (the date in WIB)."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(WIB).date()
    return format_date(value, "d MMMM y", locale=LOCALE)


def waktu(value: datetime | str | None) -> str:
    """``28 Nov 2026 10.15 WIB``."""
    at = _as_datetime(value)
    if at is None:
        return "–"
    return format_datetime(at, "d MMM y HH.mm", tzinfo=WIB, locale=LOCALE) + " WIB"


def waktu_panjang(value: datetime | str | None) -> str:
    """``Sabtu, 28 November 2026 pukul 10.15 WIB``."""
    at = _as_datetime(value)
    if at is None:
        return "–"
    return format_datetime(at, "EEEE, d MMMM y 'pukul' HH.mm", tzinfo=WIB, locale=LOCALE) + " WIB"


def iso(value: datetime | str | None) -> str:
    """For ``<time datetime=...>``."""
    at = _as_datetime(value)
    return at.isoformat() if at else ""


# Indonesia's offsets: a moment the API wrote in one of them is in the kabupaten's own zone (its calendar set it)
OFFICE_OFFSETS = {timedelta(hours=7), timedelta(hours=8), timedelta(hours=9)}


def tanggal_setempat(value: datetime | date | str | None) -> str:
    """``1 Desember 2026``: the date where the office is. A deadline the workflow's calendar set (e.g. a referral's
    follow-up time) carries the kabupaten's offset (WIB, WITA or WIT), so its date is read in that offset; a
    moment in any other offset (UTC) is read in WIB, and a date is itself."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        offset = value.utcoffset()
        value = value.date() if offset in OFFICE_OFFSETS else value.astimezone(WIB).date()
    return format_date(value, "d MMMM y", locale=LOCALE)
