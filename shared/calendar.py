"""Working-day calendar of a kecamatan office: the SLA clock of the product.

Pure: no I/O, never reads the clock (every time is passed in). Rules (SOP, "What the SOP leaves to
judgement", last bullet):

* Working days are the weekdays listed in ``OfficeHours.days`` (default Monday-Friday 08:00-16:00),
  minus Indonesian national holidays (``holidays`` package, category "public"), minus *cuti bersama*
  (category "government", unless ``cuti_bersama=False``), minus the kecamatan's ``extra_holidays``.
  ``working_overrides`` removes dates from that holiday set (a decree cancelling one); it never turns a
  closed weekday into a working day.
* Inputs are aware datetimes (UTC from the database is fine); naive datetimes raise ``ValueError``.
  All work happens in the office's time zone and results are aware datetimes in that zone.
* ``add_working_days(start, n)`` is the deadline of an n-working-day step received at ``start``: the
  closing time of the n-th working day *after* the local date of ``start`` (that date never counts,
  whatever the hour, working day or not). ``n == 0``: closing time of ``start``'s day if it is a working
  day and ``start`` is not after closing, else closing time of the next working day.
  The 12-working-day completion promise is ``add_working_days(received_at, 12)``.
* ``add_office_minutes(start, m)`` counts only minutes inside office hours on working days. Before
  opening, counting begins at opening; after closing or on a non-working day, at the next working
  day's opening. A deadline that lands exactly on closing time stays there (15:45 + 15 = 16:00).
* ``office_minutes_between(a, b)`` is the office time elapsed from ``a`` to ``b``, in whole minutes
  (rounded down); 0 if ``b <= a``. ``office_minutes_between(s, add_office_minutes(s, m)) == m``.
* Durations are wall-clock within a day (offices keep local hours; Indonesia has no DST).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

WIB = ZoneInfo("Asia/Jakarta")

WEEKDAY_NAMES: Mapping[str, int] = MappingProxyType(
    {
        "mon": 0,
        "tue": 1,
        "wed": 2,
        "thu": 3,
        "fri": 4,
        "sat": 5,
        "sun": 6,
        "senin": 0,
        "selasa": 1,
        "rabu": 2,
        "kamis": 3,
        "jumat": 4,
        "sabtu": 5,
        "minggu": 6,
    }
)
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")
_MINUTE = timedelta(minutes=1)


def _default_days() -> dict[int, tuple[time, time]]:
    return {wd: (time(8, 0), time(16, 0)) for wd in range(5)}


def _parse_time(value: Any, where: str) -> time:
    match = _HHMM.match(value) if isinstance(value, str) else None
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"office hours: {where}: expected a time 'HH:MM', got {value!r}")
    return time(int(match[1]), int(match[2]))


@dataclass(frozen=True)
class OfficeHours:
    """Per weekday (0=Monday..6=Sunday) the office's opening and closing time, local time in `tz`.
    A weekday missing from `days` is closed."""

    days: Mapping[int, tuple[time, time]] = field(default_factory=_default_days)
    tz: str = "Asia/Jakarta"

    def __post_init__(self) -> None:
        if not self.days:
            raise ValueError("office hours: at least one weekday must be open")
        for wd, (opening, closing) in self.days.items():
            if wd not in range(7):
                raise ValueError(f"office hours: weekday must be 0 (Monday)..6 (Sunday), got {wd!r}")
            if not opening < closing:
                raise ValueError(f"office hours: weekday {wd}: closing {closing} is not after opening {opening}")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"office hours: unknown time zone {self.tz!r}") from None
        object.__setattr__(self, "days", MappingProxyType(dict(sorted(self.days.items()))))

    def __hash__(self) -> int:
        return hash((tuple(self.days.items()), self.tz))

    @classmethod
    def default(cls) -> OfficeHours:
        return cls()

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> OfficeHours:
        """``{"tz": "Asia/Jakarta", "days": {"mon": ["07:30", "16:00"], ..., "fri": ["07:30", "16:30"]}}``.
        Weekdays by English or Indonesian name; a day left out (or null) is closed; ``days`` left out
        means the default week. Invalid config raises ValueError."""
        if not isinstance(data, Mapping):
            raise ValueError(f"office hours: config must be a mapping, got {type(data).__name__}")
        unknown = set(data) - {"tz", "days"}
        if unknown:
            raise ValueError(f"office hours: unknown keys {sorted(unknown)} (allowed: 'tz', 'days')")
        tz = data.get("tz", "Asia/Jakarta")
        if not isinstance(tz, str):
            raise ValueError(f"office hours: tz must be a string, got {tz!r}")
        if "days" not in data:
            return cls(tz=tz)
        raw = data["days"]
        if not isinstance(raw, Mapping):
            raise ValueError("office hours: 'days' must map weekday names to ['HH:MM', 'HH:MM']")
        days: dict[int, tuple[time, time]] = {}
        for name, span in raw.items():
            wd = WEEKDAY_NAMES.get(str(name).strip().lower())
            if wd is None:
                raise ValueError(f"office hours: unknown weekday {name!r} (use {', '.join(list(WEEKDAY_NAMES)[:7])})")
            if wd in days:
                raise ValueError(f"office hours: weekday {name!r} given twice")
            if span is None:
                continue
            if not isinstance(span, (list, tuple)) or len(span) != 2:
                raise ValueError(f"office hours: {name}: expected [opening, closing], got {span!r}")
            opening, closing = (_parse_time(v, str(name)) for v in span)
            if not opening < closing:
                raise ValueError(f"office hours: {name}: closing {span[1]} is not after opening {span[0]}")
            days[wd] = (opening, closing)
        return cls(days=days, tz=tz)

    def standard_day_minutes(self) -> int:
        """Length of the most common office day (the longest on a tie), the unit of working-day reports."""
        lengths = Counter(
            (datetime.combine(date.min, c) - datetime.combine(date.min, o)) // _MINUTE for o, c in self.days.values()
        )
        return max(lengths, key=lambda n: (lengths[n], n))


class WorkingCalendar:
    def __init__(
        self,
        hours: OfficeHours | None = None,
        *,
        cuti_bersama: bool = True,
        extra_holidays: Mapping[date, str] = MappingProxyType({}),
        working_overrides: Iterable[date] = (),
    ) -> None:
        self.hours = hours or OfficeHours.default()
        self.tz = ZoneInfo(self.hours.tz)
        self._categories = ("public", "government") if cuti_bersama else ("public",)
        self._extra = dict(extra_holidays)
        self._overrides = frozenset(working_overrides)
        self._years: dict[int, dict[date, str]] = {}

    # --- days ------------------------------------------------------------------------------------
    def _holidays_of(self, year: int) -> dict[date, str]:
        cached = self._years.get(year)
        if cached is None:
            lib = holidays.country_holidays("ID", language="id", categories=self._categories, years=year)
            cached = {d: n for d, n in lib.items() if d.year == year}
            for d, name in self._extra.items():
                if d.year == year:
                    cached[d] = f"{cached[d]}; {name}" if d in cached and name != cached[d] else name
            for d in self._overrides:
                cached.pop(d, None)
            self._years[year] = cached
        return cached

    def _as_date(self, d: date) -> date:
        return self._local(d).date() if isinstance(d, datetime) else d

    def holiday_name(self, d: date) -> str | None:
        d = self._as_date(d)
        return self._holidays_of(d.year).get(d)

    def is_working_day(self, d: date) -> bool:
        d = self._as_date(d)
        return d.weekday() in self.hours.days and d not in self._holidays_of(d.year)

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after `d`."""
        d = self._as_date(d) + timedelta(days=1)
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    # --- times -----------------------------------------------------------------------------------
    def _local(self, dt: datetime) -> datetime:
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise ValueError(f"naive datetime {dt.isoformat()}: pass an aware datetime (e.g. UTC)")
        return dt.astimezone(self.tz)

    def _window(self, d: date) -> tuple[datetime, datetime]:
        opening, closing = self.hours.days[d.weekday()]
        return datetime.combine(d, opening, self.tz), datetime.combine(d, closing, self.tz)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        if days < 0:
            raise ValueError(f"days must be >= 0, got {days}")
        local = self._local(start)
        d = local.date()
        if days == 0:
            if self.is_working_day(d) and local <= self._window(d)[1]:
                return self._window(d)[1]
            return self._window(self.next_working_day(d))[1]
        for _ in range(days):
            d = self.next_working_day(d)
        return self._window(d)[1]

    def add_office_minutes(self, start: datetime, minutes: int) -> datetime:
        if minutes < 0:
            raise ValueError(f"minutes must be >= 0, got {minutes}")
        cursor = self._local(start)
        remaining = timedelta(minutes=minutes)
        d = cursor.date()
        if not self.is_working_day(d):
            d = self.next_working_day(d)
        while True:
            opening, closing = self._window(d)
            begin = max(cursor, opening)
            if begin <= closing:
                if remaining <= closing - begin:
                    return begin + remaining
                remaining -= closing - begin
            d = self.next_working_day(d)
            cursor = self._window(d)[0]

    def office_minutes_between(self, a: datetime, b: datetime) -> int:
        a, b = self._local(a), self._local(b)
        total = timedelta(0)
        d = a.date()
        while d <= b.date():
            if self.is_working_day(d):
                opening, closing = self._window(d)
                total += max(timedelta(0), min(b, closing) - max(a, opening))
            d += timedelta(days=1)
        return total // _MINUTE

    def working_days_between(self, a: datetime, b: datetime) -> float:
        """Office minutes from `a` to `b` in units of a standard office day, for reports."""
        return self.office_minutes_between(a, b) / self.hours.standard_day_minutes()
