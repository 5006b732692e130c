"""Working-day calendar of a kecamatan office: the SLA clock of the product.

Pure: no I/O, never reads the clock (every time is passed in). Rules (SOP, "What the SOP leaves to
judgement", last bullet):

* Working days are the weekdays listed in ``OfficeHours.days`` (default Monday-Friday 08:00-16:00),
  or in the days of a dated ``Schedule`` in force that day (Ramadan hours), minus Indonesian national holidays (``holidays`` package, category "public"), minus *cuti bersama*
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
* Breaks (``OfficeHours.breaks``, a schedule's own) are not office time: a working day is the spans from
  opening to closing with its breaks taken out; the day still closes at its closing time.
* ``add_office_minutes(start, m)`` counts only minutes inside office hours on working days. Before
  opening, counting begins at opening; after closing or on a non-working day, at the next working
  day's opening. A deadline that lands exactly on closing time stays there (15:45 + 15 = 16:00).
* ``office_minutes_between(a, b)`` is the office time elapsed from ``a`` to ``b``, in whole minutes
  (rounded down); 0 if ``b <= a``. ``office_minutes_between(s, add_office_minutes(s, m)) == m``.
* Durations are wall-clock within a day (offices keep local hours; Indonesia has no DST).
"""

from __future__ import annotations

import itertools
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
MAX_CLOSED_DAYS = 731  # a longer run of days without office time is a mistake in the settings
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")
_MINUTE = timedelta(minutes=1)


def _default_days() -> dict[int, tuple[time, time]]:
    return {wd: (time(8, 0), time(16, 0)) for wd in range(5)}


def _parse_time(value: Any, where: str) -> time:
    match = _HHMM.match(value) if isinstance(value, str) else None
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"office hours: {where}: expected a time 'HH:MM', got {value!r}")
    return time(int(match[1]), int(match[2]))


Span = tuple[time, time]


def _check_day(where: str, opening: time, closing: time, breaks: tuple[Span, ...]) -> None:
    if not opening < closing:
        raise ValueError(f"office hours: {where}: closing {closing} is not after opening {opening}")
    if not _spans(opening, closing, breaks):
        raise ValueError(f"office hours: {where}: its breaks leave no office time; leave the day out to close it")
    previous = opening
    for start, end in breaks:
        if not (previous <= start < end <= closing):
            raise ValueError(
                f"office hours: {where}: break {start}-{end} must lie between opening and closing, "
                "after the one before it"
            )
        previous = end


def _spans(opening: time, closing: time, breaks: tuple[Span, ...]) -> tuple[Span, ...]:
    """Opening to closing with the breaks taken out."""
    spans: list[Span] = []
    cursor = opening
    for start, end in breaks:
        if cursor < start:
            spans.append((cursor, start))
        cursor = end
    if cursor < closing:
        spans.append((cursor, closing))
    return tuple(spans)


def _minutes(spans: Iterable[Span]) -> int:
    return sum((datetime.combine(date.min, e) - datetime.combine(date.min, s)) // _MINUTE for s, e in spans)


@dataclass(frozen=True)
class Schedule:
    """Hours that replace the week's from ``starts_on`` to ``ends_on`` (both included): Ramadan hours, a
    decree's. ``days`` and ``breaks`` as ``OfficeHours``'; a weekday missing from ``days`` is closed."""

    name: str
    starts_on: date
    ends_on: date
    days: Mapping[int, Span]
    breaks: Mapping[int, tuple[Span, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.starts_on > self.ends_on:
            raise ValueError(f"office hours: schedule {self.name!r}: it ends before it starts")
        _freeze_week(self, f"schedule {self.name!r}")

    def __hash__(self) -> int:
        return hash((self.name, self.starts_on, self.ends_on, tuple(self.days.items()), tuple(self.breaks.items())))


def _freeze_week(owner: Any, where: str) -> None:
    """Checks ``owner.days`` and ``owner.breaks`` and stores them sorted and read-only."""
    if not owner.days:
        raise ValueError(f"office hours: {where}: at least one weekday must be open")
    for wd, (opening, closing) in owner.days.items():
        if wd not in range(7):
            raise ValueError(f"office hours: {where}: weekday must be 0 (Monday)..6 (Sunday), got {wd!r}")
        _check_day(f"{where}, weekday {wd}", opening, closing, tuple(owner.breaks.get(wd, ())))
    closed = set(owner.breaks) - set(owner.days)
    if any(owner.breaks[wd] for wd in closed):
        raise ValueError(f"office hours: {where}: a break on a closed weekday ({sorted(closed)})")
    object.__setattr__(owner, "days", MappingProxyType(dict(sorted(owner.days.items()))))
    breaks = {wd: tuple(owner.breaks[wd]) for wd in sorted(owner.breaks) if owner.breaks[wd]}
    object.__setattr__(owner, "breaks", MappingProxyType(breaks))


@dataclass(frozen=True)
class OfficeHours:
    """Per weekday (0=Monday..6=Sunday) the office's opening and closing time, local time in `tz`, and the
    breaks inside them (not office time). A weekday missing from `days` is closed. ``schedules`` replace the
    week for the periods they name (they may not overlap)."""

    days: Mapping[int, Span] = field(default_factory=_default_days)
    tz: str = "Asia/Jakarta"
    breaks: Mapping[int, tuple[Span, ...]] = field(default_factory=dict)
    schedules: tuple[Schedule, ...] = ()

    def __post_init__(self) -> None:
        _freeze_week(self, "week")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"office hours: unknown time zone {self.tz!r}") from None
        ordered = tuple(sorted(self.schedules, key=lambda sc: sc.starts_on))
        for before, after in itertools.pairwise(ordered):
            if after.starts_on <= before.ends_on:
                raise ValueError(f"office hours: schedules {before.name!r} and {after.name!r} overlap")
        object.__setattr__(self, "schedules", ordered)

    def __hash__(self) -> int:
        return hash((tuple(self.days.items()), self.tz, tuple(self.breaks.items()), self.schedules))

    def _week(self, d: date) -> OfficeHours | Schedule:
        for schedule in self.schedules:
            if schedule.starts_on <= d <= schedule.ends_on:
                return schedule
        return self

    def spans(self, d: date) -> tuple[Span, ...]:
        """The office's working spans on ``d`` (local times, breaks taken out); empty when closed that weekday.
        Holidays are the calendar's business, not this."""
        week = self._week(d)
        hours = week.days.get(d.weekday())
        if hours is None:
            return ()
        return _spans(hours[0], hours[1], week.breaks.get(d.weekday(), ()))

    def closing(self, d: date) -> time | None:
        """The day's closing time (a deadline of days ends there, even when a break ends at it)."""
        hours = self._week(d).days.get(d.weekday())
        return hours[1] if hours else None

    @classmethod
    def default(cls) -> OfficeHours:
        return cls()

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> OfficeHours:
        """``{"tz": "Asia/Jakarta", "days": {"mon": ["07:30", "16:00"], ..., "fri": ["07:30", "16:30"]},
        "breaks": {"mon": [["12:00", "13:00"]], ..., "fri": [["11:30", "13:00"]]}, "schedules": [{"name":
        "Ramadan 1447 H", "from": "2026-02-18", "to": "2026-03-19", "days": {...}, "breaks": {...}}]}``.
        Weekdays by English or Indonesian name; a day left out (or null) is closed; ``days`` left out means
        the default week. ``breaks`` may also be one list for every open day. Invalid config raises
        ValueError."""
        if not isinstance(data, Mapping):
            raise ValueError(f"office hours: config must be a mapping, got {type(data).__name__}")
        unknown = set(data) - {"tz", "days", "breaks", "schedules"}
        if unknown:
            raise ValueError(
                f"office hours: unknown keys {sorted(unknown)} (allowed: 'tz', 'days', 'breaks', 'schedules')"
            )
        tz = data.get("tz", "Asia/Jakarta")
        if not isinstance(tz, str):
            raise ValueError(f"office hours: tz must be a string, got {tz!r}")
        days = _parse_days(data["days"], "days") if "days" in data else _default_days()
        schedules = data.get("schedules", [])
        if not isinstance(schedules, list):
            raise ValueError("office hours: 'schedules' must be a list")
        return cls(
            days=days,
            tz=tz,
            breaks=_parse_breaks(data.get("breaks"), days, "breaks"),
            schedules=tuple(_parse_schedule(item, i) for i, item in enumerate(schedules)),
        )

    def standard_day_minutes(self) -> int:
        """Length of the most common office day of the week, breaks not counted (the longest on a tie): the
        unit of working-day reports."""
        lengths = Counter(_minutes(_spans(o, c, self.breaks.get(wd, ()))) for wd, (o, c) in self.days.items())
        return max(lengths, key=lambda n: (lengths[n], n))


def _parse_days(raw: Any, where: str) -> dict[int, Span]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"office hours: '{where}' must map weekday names to ['HH:MM', 'HH:MM']")
    days: dict[int, Span] = {}
    seen: set[int] = set()
    for name, span in raw.items():
        wd = _weekday(name)
        if wd in seen:
            raise ValueError(f"office hours: weekday {name!r} given twice")
        seen.add(wd)
        if span is None:
            continue
        days[wd] = _parse_span(span, str(name))
    return days


def _weekday(name: Any) -> int:
    wd = WEEKDAY_NAMES.get(str(name).strip().lower())
    if wd is None:
        raise ValueError(f"office hours: unknown weekday {name!r} (use {', '.join(list(WEEKDAY_NAMES)[:7])})")
    return wd


def _parse_span(span: Any, where: str) -> Span:
    if not isinstance(span, (list, tuple)) or len(span) != 2:
        raise ValueError(f"office hours: {where}: expected [opening, closing], got {span!r}")
    opening, closing = (_parse_time(v, where) for v in span)
    if not opening < closing:
        raise ValueError(f"office hours: {where}: closing {span[1]} is not after opening {span[0]}")
    return opening, closing


def _parse_breaks(raw: Any, days: Mapping[int, Span], where: str) -> dict[int, tuple[Span, ...]]:
    if raw is None:
        return {}
    if isinstance(raw, list):  # the same breaks on every open day
        spans = tuple(_parse_span(b, f"{where}[{i}]") for i, b in enumerate(raw))
        return dict.fromkeys(days, spans)
    if not isinstance(raw, Mapping):
        raise ValueError(f"office hours: '{where}' must be a list of ['HH:MM', 'HH:MM'] or map weekdays to one")
    breaks: dict[int, tuple[Span, ...]] = {}
    for name, spans in raw.items():
        if not isinstance(spans, list):
            raise ValueError(f"office hours: {where}.{name}: expected a list of [start, end]")
        breaks[_weekday(name)] = tuple(_parse_span(b, f"{where}.{name}") for b in spans)
    return breaks


def _parse_schedule(raw: Any, index: int) -> Schedule:
    where = f"schedules[{index}]"
    if not isinstance(raw, Mapping):
        raise ValueError(f"office hours: {where} must be a mapping")
    unknown = set(raw) - {"name", "from", "to", "days", "breaks"}
    if unknown or not {"name", "from", "to", "days"} <= set(raw):
        raise ValueError(f"office hours: {where} takes 'name', 'from', 'to', 'days' and optionally 'breaks'")
    try:
        starts_on, ends_on = date.fromisoformat(str(raw["from"])), date.fromisoformat(str(raw["to"]))
    except ValueError:
        raise ValueError(f"office hours: {where}: 'from' and 'to' are dates YYYY-MM-DD") from None
    days = _parse_days(raw["days"], f"{where}.days")
    return Schedule(
        name=str(raw["name"]),
        starts_on=starts_on,
        ends_on=ends_on,
        days=days,
        breaks=_parse_breaks(raw.get("breaks"), days, f"{where}.breaks"),
    )


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
        return bool(self.hours.spans(d)) and d not in self._holidays_of(d.year)

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after `d`; ValueError when none comes within two years (a schedule or
        holidays that close the office for good: a configuration to correct, not a deadline to wait for)."""
        start = d = self._as_date(d) + timedelta(days=1)
        while not self.is_working_day(d):
            d += timedelta(days=1)
            if (d - start).days > MAX_CLOSED_DAYS:
                raise ValueError(f"no working day within {MAX_CLOSED_DAYS} days after {start}: check the office hours")
        return d

    # --- times -----------------------------------------------------------------------------------
    def _local(self, dt: datetime) -> datetime:
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise ValueError(f"naive datetime {dt.isoformat()}: pass an aware datetime (e.g. UTC)")
        return dt.astimezone(self.tz)

    def _windows(self, d: date) -> list[tuple[datetime, datetime]]:
        """The day's office spans as aware datetimes (breaks taken out)."""
        return [(datetime.combine(d, s, self.tz), datetime.combine(d, e, self.tz)) for s, e in self.hours.spans(d)]

    def _closing(self, d: date) -> datetime:
        closing = self.hours.closing(d)
        if closing is None:  # not an open weekday: never asked for (only working days are)
            raise ValueError(f"{d} is not an office day")
        return datetime.combine(d, closing, self.tz)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        if days < 0:
            raise ValueError(f"days must be >= 0, got {days}")
        local = self._local(start)
        d = local.date()
        if days == 0:
            if self.is_working_day(d) and local <= self._closing(d):
                return self._closing(d)
            return self._closing(self.next_working_day(d))
        for _ in range(days):
            d = self.next_working_day(d)
        return self._closing(d)

    def add_office_minutes(self, start: datetime, minutes: int) -> datetime:
        if minutes < 0:
            raise ValueError(f"minutes must be >= 0, got {minutes}")
        cursor = self._local(start)
        remaining = timedelta(minutes=minutes)
        d = cursor.date()
        if not self.is_working_day(d):
            d = self.next_working_day(d)
        while True:
            for opening, closing in self._windows(d):
                begin = max(cursor, opening)
                if begin <= closing:
                    if remaining <= closing - begin:
                        return begin + remaining
                    remaining -= closing - begin
                    cursor = closing
            d = self.next_working_day(d)
            cursor = self._windows(d)[0][0]

    def office_minutes_between(self, a: datetime, b: datetime) -> int:
        a, b = self._local(a), self._local(b)
        total = timedelta(0)
        d = a.date()
        while d <= b.date():
            if self.is_working_day(d):
                for opening, closing in self._windows(d):
                    total += max(timedelta(0), min(b, closing) - max(a, opening))
            d += timedelta(days=1)
        return total // _MINUTE

    def working_days_between(self, a: datetime, b: datetime) -> float:
        """Office minutes from `a` to `b` in units of a standard office day, for reports."""
        return self.office_minutes_between(a, b) / self.hours.standard_day_minutes()
