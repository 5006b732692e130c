"""The working-day calendar: real Indonesian dates, checked against the `holidays` data they rely on."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.calendar import WIB, OfficeHours, WorkingCalendar

CAL = WorkingCalendar()
PUBLIC_ONLY = WorkingCalendar(cuti_bersama=False)


def wib(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=WIB)


# --- national holidays and cuti bersama ---------------------------------------------------------------

IDUL_FITRI_2026_CUTI_BERSAMA = [date(2026, 3, 18), date(2026, 3, 20), date(2026, 3, 23), date(2026, 3, 24)]
IDUL_FITRI_2026_PUBLIC = [date(2026, 3, 19), date(2026, 3, 21), date(2026, 3, 22)]


def test_library_still_has_the_2026_idul_fitri_dates():
    for d in IDUL_FITRI_2026_CUTI_BERSAMA:
        assert CAL.holiday_name(d) is not None and "Cuti Bersama" in CAL.holiday_name(d), d
        assert PUBLIC_ONLY.holiday_name(d) is None, d
    for d in IDUL_FITRI_2026_PUBLIC:
        assert CAL.holiday_name(d) is not None and PUBLIC_ONLY.holiday_name(d) is not None, d
    assert "Nyepi" in CAL.holiday_name(date(2026, 3, 19))
    assert "Idul Fitri" in CAL.holiday_name(date(2026, 3, 21))
    for d in [date(2026, 3, 17), date(2026, 3, 25), date(2026, 3, 26), date(2026, 3, 27)]:
        assert CAL.is_working_day(d), d


def test_idul_fitri_2026_with_cuti_bersama():
    # Tue 17 received; 18-24 all off (holidays + weekend); working days 25, 26, 27
    assert CAL.add_working_days(wib(2026, 3, 17, 10), 3) == wib(2026, 3, 27, 16)
    assert CAL.next_working_day(date(2026, 3, 17)) == date(2026, 3, 25)


def test_idul_fitri_2026_without_cuti_bersama_is_earlier():
    # 18 Wed works, 19 Nyepi, 20 Fri works, 21-22 Idul Fitri (weekend), 23 Mon works
    assert PUBLIC_ONLY.add_working_days(wib(2026, 3, 17, 10), 3) == wib(2026, 3, 23, 16)
    assert PUBLIC_ONLY.add_working_days(wib(2026, 3, 17, 10), 3) < CAL.add_working_days(wib(2026, 3, 17, 10), 3)


def test_weekend():
    assert CAL.add_working_days(wib(2026, 2, 6, 14), 1) == wib(2026, 2, 9, 16)  # Fri -> Mon


def test_start_day_never_counts_whatever_the_hour():
    assert CAL.add_working_days(wib(2026, 2, 3, 6), 1) == wib(2026, 2, 4, 16)  # Tue early -> Wed
    assert CAL.add_working_days(wib(2026, 2, 3, 20), 1) == wib(2026, 2, 4, 16)  # Tue late -> Wed
    assert CAL.add_working_days(wib(2026, 2, 7, 9), 1) == wib(2026, 2, 9, 16)  # Sat -> Mon


def test_zero_working_days():
    assert CAL.add_working_days(wib(2026, 2, 3, 10), 0) == wib(2026, 2, 3, 16)
    assert CAL.add_working_days(wib(2026, 2, 3, 16), 0) == wib(2026, 2, 3, 16)
    assert CAL.add_working_days(wib(2026, 2, 3, 17), 0) == wib(2026, 2, 4, 16)
    assert CAL.add_working_days(wib(2026, 2, 7, 10), 0) == wib(2026, 2, 9, 16)


def test_year_end_2026():
    assert "Cuti Bersama" in CAL.holiday_name(date(2026, 12, 24))
    assert "Natal" in CAL.holiday_name(date(2026, 12, 25))
    assert CAL.holiday_name(date(2026, 12, 31)) is None
    assert "Tahun Baru" in CAL.holiday_name(date(2027, 1, 1))
    assert "Isra Mikraj" in CAL.holiday_name(date(2027, 1, 5))
    # Wed 23: 24 cuti bersama, 25 Natal, 26-27 weekend; 28 Mon, 29 Tue, 30 Wed
    assert CAL.add_working_days(wib(2026, 12, 23, 9), 3) == wib(2026, 12, 30, 16)
    # the 12-day promise crosses the new year: 28, 29, 30, 31, (1 Jan, weekend) 4, (5 Isra Mikraj)
    # 6, 7, 8, 11, 12, 13, 14
    assert CAL.add_working_days(wib(2026, 12, 23, 9), 12) == wib(2027, 1, 14, 16)


# --- office minutes -------------------------------------------------------------------------------


def test_office_minutes():
    assert CAL.add_office_minutes(wib(2026, 2, 2, 15, 55), 15) == wib(2026, 2, 3, 8, 10)  # Mon -> Tue
    assert CAL.add_office_minutes(wib(2026, 2, 6, 15, 55), 15) == wib(2026, 2, 9, 8, 10)  # Fri -> Mon
    assert CAL.add_office_minutes(wib(2026, 2, 7, 9), 15) == wib(2026, 2, 9, 8, 15)  # Sat -> Mon
    assert CAL.add_office_minutes(wib(2026, 2, 3, 6), 15) == wib(2026, 2, 3, 8, 15)  # before opening
    assert CAL.add_office_minutes(wib(2026, 2, 3, 15, 45), 15) == wib(2026, 2, 3, 16)  # lands on closing
    assert CAL.add_office_minutes(wib(2026, 2, 3, 17), 15) == wib(2026, 2, 4, 8, 15)  # after closing
    assert CAL.add_office_minutes(wib(2026, 3, 17, 15, 50), 20) == wib(2026, 3, 25, 8, 10)  # over Lebaran


def test_office_minutes_between():
    assert CAL.office_minutes_between(wib(2026, 2, 2, 15), wib(2026, 2, 3, 9)) == 120  # a night
    assert CAL.office_minutes_between(wib(2026, 2, 6, 15), wib(2026, 2, 9, 9)) == 120  # a weekend
    # Tue 17 Mar 15:00 -> Wed 25 Mar 09:00: the whole Nyepi/Idul Fitri break in between
    assert CAL.office_minutes_between(wib(2026, 3, 17, 15), wib(2026, 3, 25, 9)) == 120
    assert PUBLIC_ONLY.office_minutes_between(wib(2026, 3, 17, 15), wib(2026, 3, 25, 9)) == 120 + 4 * 480
    assert CAL.office_minutes_between(wib(2026, 2, 3, 9), wib(2026, 2, 2, 15)) == 0  # reversed
    assert CAL.office_minutes_between(wib(2026, 2, 3, 9), wib(2026, 2, 3, 9)) == 0
    assert CAL.working_days_between(wib(2026, 2, 2, 8), wib(2026, 2, 6, 16)) == 5.0


# --- configuration --------------------------------------------------------------------------------

LONG_FRIDAY = {
    "tz": "Asia/Jakarta",
    "days": {d: ["07:30", "16:00"] for d in ("mon", "tue", "wed", "thu")} | {"fri": ["07:30", "16:30"]},
}


def test_from_config_longer_friday():
    hours = OfficeHours.from_config(LONG_FRIDAY)
    assert hours.days[4] == (time(7, 30), time(16, 30)) and hours.days[0] == (time(7, 30), time(16, 0))
    assert 5 not in hours.days and 6 not in hours.days
    cal = WorkingCalendar(hours)
    assert cal.add_working_days(wib(2026, 2, 5, 10), 1) == wib(2026, 2, 6, 16, 30)  # Thu -> Fri 16:30
    assert cal.add_office_minutes(wib(2026, 2, 6, 16, 20), 15) == wib(2026, 2, 9, 7, 35)
    assert cal.add_office_minutes(wib(2026, 2, 6, 6), 15) == wib(2026, 2, 6, 7, 45)
    assert hours.standard_day_minutes() == 510
    assert OfficeHours.default() == OfficeHours() and OfficeHours.default().days[0] == (time(8), time(16))
    assert OfficeHours.from_config({}) == OfficeHours.default()
    assert OfficeHours.from_config({"days": {"senin": ["08:00", "12:00"]}}).days == {0: (time(8), time(12))}


@pytest.mark.parametrize(
    "config, message",
    [
        ({"days": {"mon": ["16:00", "08:00"]}}, "not after opening"),
        ({"days": {"mon": ["08:00", "08:00"]}}, "not after opening"),
        ({"days": {"monday_ish": ["08:00", "16:00"]}}, "unknown weekday"),
        ({"days": {"mon": ["8am", "16:00"]}}, "HH:MM"),
        ({"days": {"mon": ["08:00", "24:30"]}}, "HH:MM"),
        ({"days": {"mon": ["08:00"]}}, "opening, closing"),
        ({"days": {"mon": ["08:00", "16:00"], "senin": ["08:00", "16:00"]}}, "twice"),
        ({"days": {}}, "at least one weekday"),
        ({"tz": "Asia/Nowhere"}, "time zone"),
        ({"hours": {}}, "unknown keys"),
    ],
)
def test_invalid_config(config, message):
    with pytest.raises(ValueError, match=message):
        OfficeHours.from_config(config)


def test_extra_holidays_and_working_overrides():
    start = wib(2026, 2, 2, 10)  # Monday
    assert CAL.add_working_days(start, 2) == wib(2026, 2, 4, 16)
    local = WorkingCalendar(extra_holidays={date(2026, 2, 3): "Hari Jadi Kabupaten"})
    assert local.holiday_name(date(2026, 2, 3)) == "Hari Jadi Kabupaten"
    assert local.add_working_days(start, 2) == wib(2026, 2, 5, 16)
    # a decree cancels the cuti bersama of 24 Dec 2026
    cancelled = WorkingCalendar(working_overrides=[date(2026, 12, 24)])
    assert cancelled.holiday_name(date(2026, 12, 24)) is None and cancelled.is_working_day(date(2026, 12, 24))
    assert cancelled.add_working_days(wib(2026, 12, 23, 9), 3) == wib(2026, 12, 29, 16)
    # an override never opens a weekend
    assert not WorkingCalendar(working_overrides=[date(2026, 3, 21)]).is_working_day(date(2026, 3, 21))


# --- time zones -----------------------------------------------------------------------------------


def test_utc_input_is_read_in_wib():
    start = datetime(2026, 3, 16, 23, 30, tzinfo=UTC)  # 06:30 WIB, Tue 17 Mar
    assert CAL.add_office_minutes(start, 15) == wib(2026, 3, 17, 8, 15)
    assert CAL.add_office_minutes(start, 15).tzinfo == WIB
    assert CAL.add_working_days(start, 3) == wib(2026, 3, 27, 16)
    assert CAL.add_working_days(start, 0) == wib(2026, 3, 17, 16)
    assert CAL.is_working_day(start)  # a datetime is read as its WIB date


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        CAL.add_working_days(datetime(2026, 3, 17, 10), 1)
    with pytest.raises(ValueError, match="naive"):
        CAL.add_office_minutes(datetime(2026, 3, 17, 10), 1)
    with pytest.raises(ValueError, match="naive"):
        CAL.office_minutes_between(datetime(2026, 3, 17, 10), wib(2026, 3, 18))


# --- properties -----------------------------------------------------------------------------------

starts = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2028, 12, 31, 23, 59),
    timezones=st.sampled_from([UTC, WIB, timezone(timedelta(hours=9))]),
)


@settings(max_examples=300, deadline=None)
@given(start=starts, n=st.integers(0, 30))
def test_add_working_days_lands_on_a_working_day_at_closing(start, n):
    due = CAL.add_working_days(start, n)
    assert due.tzinfo == WIB and CAL.is_working_day(due.date())
    assert due.timetz().replace(tzinfo=None) == CAL.hours.days[due.weekday()][1]
    assert due >= start
    if n >= 1:
        assert due.date() > start.astimezone(WIB).date()
        assert CAL.add_working_days(start, n + 1) > due


@settings(max_examples=300, deadline=None)
@given(start=starts, m=st.integers(0, 5000), extra=st.integers(0, 600))
def test_add_office_minutes_round_trips(start, m, extra):
    end = CAL.add_office_minutes(start, m)
    assert end >= start and end.tzinfo == WIB
    assert CAL.office_minutes_between(start, end) == m
    assert CAL.add_office_minutes(start, m + extra) >= end
    if m >= 1:
        assert CAL.is_working_day(end.date())
        opening, closing = CAL.hours.days[end.weekday()]
        assert opening < end.time() <= closing


# --- breaks and dated schedules (issue #15 item 6) ------------------------------------------------------

# a Pamekasan-like week: Monday-Thursday 07:30-16:00 with ishoma 12:00-13:00, Friday 07:30-16:30 with the
# Friday prayer break 11:30-13:00; Ramadan 1447 H shorter, 08:00-14:00 (Friday 08:00-14:30 with 11:30-12:30)
PAMEKASAN_LIKE = {
    "days": {d: ["07:30", "16:00"] for d in ("senin", "selasa", "rabu", "kamis")} | {"jumat": ["07:30", "16:30"]},
    "breaks": {d: [["12:00", "13:00"]] for d in ("senin", "selasa", "rabu", "kamis")} | {"jumat": [["11:30", "13:00"]]},
    "schedules": [
        {
            "name": "Ramadan 1447 H",
            "from": "2026-02-18",
            "to": "2026-03-19",
            "days": {d: ["08:00", "14:00"] for d in ("mon", "tue", "wed", "thu")} | {"fri": ["08:00", "14:30"]},
            "breaks": {"fri": [["11:30", "12:30"]]},
        }
    ],
}
BREAKS = WorkingCalendar(OfficeHours.from_config(PAMEKASAN_LIKE))


def test_office_minutes_skip_the_break():
    # Tuesday 3 Feb 2026: 11:50 + 15 office minutes = 10 before the break, 5 after it
    assert BREAKS.add_office_minutes(wib(2026, 2, 3, 11, 50), 15) == wib(2026, 2, 3, 13, 5)
    assert BREAKS.add_office_minutes(wib(2026, 2, 3, 12, 20), 15) == wib(2026, 2, 3, 13, 15)  # received in the break
    assert BREAKS.add_office_minutes(wib(2026, 2, 3, 11, 45), 15) == wib(2026, 2, 3, 12, 0)  # ends as it starts
    assert BREAKS.office_minutes_between(wib(2026, 2, 3, 11, 0), wib(2026, 2, 3, 14, 0)) == 120
    # Friday's longer prayer break
    assert BREAKS.add_office_minutes(wib(2026, 2, 6, 11, 20), 15) == wib(2026, 2, 6, 13, 5)
    # a day's office time, and the report unit, leave the break out: 8.5 h - 1 h
    assert BREAKS.office_minutes_between(wib(2026, 2, 2, 0), wib(2026, 2, 3, 0)) == 450
    assert BREAKS.hours.standard_day_minutes() == 450
    # the working day still closes at its closing time
    assert BREAKS.add_working_days(wib(2026, 2, 5, 10), 1) == wib(2026, 2, 6, 16, 30)


def test_a_ramadan_schedule_replaces_the_week_for_its_period():
    # Monday 23 Feb 2026 is in Ramadan: 08:00-14:00, no break
    assert BREAKS.add_office_minutes(wib(2026, 2, 23, 13, 50), 15) == wib(2026, 2, 24, 8, 5)
    assert BREAKS.add_office_minutes(wib(2026, 2, 23, 11, 50), 15) == wib(2026, 2, 23, 12, 5)  # no ishoma
    assert BREAKS.add_working_days(wib(2026, 2, 23, 10), 1) == wib(2026, 2, 24, 14)
    assert BREAKS.add_office_minutes(wib(2026, 2, 27, 11, 25), 15) == wib(2026, 2, 27, 12, 40)  # Friday's break
    # the last day of the schedule, then the week again (20 March is cuti bersama; Monday 23-24 too)
    assert BREAKS.add_working_days(wib(2026, 3, 17, 10), 1) == wib(2026, 3, 25, 16)
    # Friday 13 Feb 16:20, 10 minutes left; 16-17 Feb are Imlek and its cuti bersama; 18 Feb is Ramadan's first day
    assert BREAKS.add_office_minutes(wib(2026, 2, 13, 16, 20), 15) == wib(2026, 2, 18, 8, 5)


@pytest.mark.parametrize(
    "config, message",
    [
        ({"breaks": [["07:00", "08:30"]]}, "between opening and closing"),
        ({"breaks": [["12:00", "13:00"], ["12:30", "13:30"]]}, "after the one before"),
        ({"days": {"mon": ["08:00", "16:00"]}, "breaks": {"sat": [["10:00", "11:00"]]}}, "closed weekday"),
        ({"breaks": {"mon": "12:00-13:00"}}, "list of"),
        ({"schedules": {"name": "x"}}, "must be a list"),
        ({"schedules": [{"name": "x", "from": "2026-02-18", "days": {"mon": ["08:00", "14:00"]}}]}, "takes 'name'"),
        ({"schedules": [{"name": "x", "from": "18-02-2026", "to": "2026-03-19", "days": {}}]}, "YYYY-MM-DD"),
        (
            {
                "schedules": [
                    {"name": "x", "from": "2026-03-19", "to": "2026-02-18", "days": {"mon": ["08:00", "14:00"]}}
                ]
            },
            "ends before it starts",
        ),
        (
            {
                "schedules": [
                    {"name": "a", "from": "2026-02-18", "to": "2026-03-19", "days": {"mon": ["08:00", "14:00"]}},
                    {"name": "b", "from": "2026-03-19", "to": "2026-03-30", "days": {"mon": ["08:00", "14:00"]}},
                ]
            },
            "overlap",
        ),
    ],
)
def test_invalid_breaks_and_schedules(config, message):
    with pytest.raises(ValueError, match=message):
        OfficeHours.from_config(config)


def test_library_has_the_2027_dates():
    """The `holidays` floor (pyproject) is a release with Indonesia's 2027 public holidays and cuti bersama."""
    assert "Tahun Baru" in CAL.holiday_name(date(2027, 1, 1))
    assert CAL.holiday_name(date(2027, 8, 17)) is not None and CAL.holiday_name(date(2027, 12, 25)) is not None
    assert "Cuti Bersama" in CAL.holiday_name(date(2027, 12, 24))
    lebaran = [date(2027, 3, 9), date(2027, 3, 10), date(2027, 3, 11), date(2027, 3, 12), date(2027, 3, 15)]
    assert all(not CAL.is_working_day(d) for d in lebaran)
    assert PUBLIC_ONLY.is_working_day(date(2027, 3, 15))  # cuti bersama, not a public holiday
    # received Monday 8 March 2027 (Nyepi): the 9th-15th are off, so 1 working day ends on Tuesday 16th
    assert CAL.add_working_days(wib(2027, 3, 5, 10), 1) == wib(2027, 3, 16, 16)


def test_breaks_that_leave_no_office_time_are_refused_and_a_closed_calendar_does_not_spin():
    with pytest.raises(ValueError, match="leave no office time"):
        OfficeHours.from_config({"days": {"mon": ["08:00", "16:00"]}, "breaks": [["08:00", "16:00"]]})
    closed_for_good = OfficeHours.from_config(
        {
            "days": {"mon": ["08:00", "16:00"]},
            "schedules": [{"name": "x", "from": "2026-01-01", "to": "2099-12-31", "days": {"sat": ["08:00", "09:00"]}}],
        }
    )
    cal = WorkingCalendar(closed_for_good, cuti_bersama=False, extra_holidays={})
    # the schedule opens Saturdays only: the next working day is a Saturday
    assert cal.next_working_day(date(2026, 1, 1)).weekday() == 5
    never = WorkingCalendar(
        OfficeHours.from_config({"days": {"mon": ["08:00", "16:00"]}}),
        extra_holidays={date(2026, 1, 5) + timedelta(days=7 * i): "tutup" for i in range(200)},
    )
    with pytest.raises(ValueError, match="no working day within"):
        never.next_working_day(date(2026, 1, 1))


def test_a_break_that_ends_at_closing_keeps_the_day_s_closing_time():
    cal = WorkingCalendar(OfficeHours.from_config({"breaks": [["15:30", "16:00"]]}))
    assert cal.add_working_days(wib(2026, 5, 4, 10), 0) == wib(2026, 5, 4, 16)
    assert cal.add_office_minutes(wib(2026, 5, 4, 15, 20), 15) == wib(2026, 5, 5, 8, 5)
