"""Dates and times as the pages show them: in the time zone of the kabupaten they belong to (WIB, WITA or WIT, a
setting per kabupaten that ``GET /v1/kecamatan`` names), whatever the browser's or the server's, with Indonesian
month names (Babel's ``id`` locale, not a hand-kept list), e.g. ``28 November 2026``, ``28 Nov 2026 10.15 WITA``.

A moment (an instant with an offset) has a date and an hour only in a zone: every function that shows one takes
the ``Zone``. A date (``2026-11-28``) is itself in every zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_datetime

LOCALE = "id_ID"


@dataclass(frozen=True)
class Zone:
    """A kabupaten's time zone: the IANA name its calendar runs in and the label written after a time."""

    name: str
    label: str

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.name)

    @classmethod
    def of(cls, name: str | None, label: str | None) -> Zone:
        """The zone as the API names it (``Asia/Makassar``, ``WITA``); WIB when it names none or one this
        machine does not know (an API older than the setting)."""
        if not name or not label:
            return WIB
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return WIB
        return cls(name, label)


WIB = Zone("Asia/Jakarta", "WIB")  # a kabupaten that sets no zone of its own


def _as_datetime(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value


def today(zone: Zone, now: datetime) -> date:
    """The date at ``now`` where the office is (its "today", whatever the server's zone)."""
    return now.astimezone(zone.tz).date()


def tanggal(value: datetime | date | str | None, zone: Zone | None = None) -> str:
    """``28 November 2026``: a date as it is; a moment's date in ``zone`` (a moment without a zone is a
    ValueError: its date depends on where it is read)."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        if zone is None:
            raise ValueError("the date of a moment depends on the time zone: give the kabupaten's")
        value = value.astimezone(zone.tz).date()
    return format_date(value, "d MMMM y", locale=LOCALE)


def waktu(value: datetime | str | None, zone: Zone) -> str:
    """``28 Nov 2026 10.15 WITA``."""
    at = _as_datetime(value)
    if at is None:
        return "–"
    return format_datetime(at, "d MMM y HH.mm", tzinfo=zone.tz, locale=LOCALE) + " " + zone.label


def waktu_panjang(value: datetime | str | None, zone: Zone) -> str:
    """``Sabtu, 28 November 2026 pukul 10.15 WITA``."""
    at = _as_datetime(value)
    if at is None:
        return "–"
    return format_datetime(at, "EEEE, d MMMM y 'pukul' HH.mm", tzinfo=zone.tz, locale=LOCALE) + " " + zone.label


def iso(value: datetime | str | None) -> str:
    """For ``<time datetime=...>``."""
    at = _as_datetime(value)
    return at.isoformat() if at else ""
