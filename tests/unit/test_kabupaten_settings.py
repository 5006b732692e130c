"""A kabupaten's settings (issue #15 item 6): its time zone, its office hours (a kecamatan may set its own), and
its decrees' extra days off and days made working again, merged into each kecamatan's calendar."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from shared.calendar import WIB
from shared.tenancy import PAMEKASAN_SETTINGS, Kecamatan, validate_kabupaten_settings, validate_settings


def place(settings=None, kabupaten=None) -> Kecamatan:
    return Kecamatan(
        "x", "35.28.99", "X", "pamekasan", "Kabupaten Pamekasan", {}, True, settings or {}, kabupaten or {}
    )


def test_the_kabupaten_hours_apply_unless_the_kecamatan_sets_its_own():
    pamekasan = place(kabupaten=PAMEKASAN_SETTINGS).calendar()
    # Tuesday 3 Feb 2026: 11:50 + 15 office minutes, across the 12:00-12:30 break
    assert pamekasan.add_office_minutes(datetime(2026, 2, 3, 11, 50, tzinfo=WIB), 15) == datetime(
        2026, 2, 3, 12, 35, tzinfo=WIB
    )
    assert pamekasan.add_working_days(datetime(2026, 2, 3, 10, tzinfo=WIB), 1) == datetime(2026, 2, 4, 15, tzinfo=WIB)
    # Ramadan 1447 H: Friday 27 Feb 2026 closes at 15:30
    assert pamekasan.add_working_days(datetime(2026, 2, 26, 10, tzinfo=WIB), 1) == datetime(
        2026, 2, 27, 15, 30, tzinfo=WIB
    )
    own = place({"office_hours": {"days": {"mon": ["08:00", "12:00"]}}}, PAMEKASAN_SETTINGS).calendar()
    assert own.add_working_days(datetime(2026, 2, 2, 10, tzinfo=WIB), 1) == datetime(2026, 2, 9, 12, tzinfo=WIB)
    assert place().calendar().add_working_days(datetime(2026, 2, 3, 10, tzinfo=WIB), 1).hour == 16  # the default


def test_a_kecamatan_with_its_own_week_still_follows_the_kabupaten_s_ramadan_hours():
    own_week = {"days": {d: ["07:30", "16:00"] for d in ("mon", "tue", "wed", "thu", "fri")}}
    own = place({"office_hours": own_week}, PAMEKASAN_SETTINGS).calendar()
    # its own week outside Ramadan: Tuesday 3 Feb 2026 10:00 + 1 working day ends at 16:00 the next day
    assert own.add_working_days(datetime(2026, 2, 3, 10, tzinfo=WIB), 1) == datetime(2026, 2, 4, 16, tzinfo=WIB)
    # the kabupaten's Ramadan 1447 H schedule inside it: Thursday 26 Feb + 1 working day ends Friday at 15:30
    assert own.add_working_days(datetime(2026, 2, 26, 10, tzinfo=WIB), 1) == datetime(2026, 2, 27, 15, 30, tzinfo=WIB)
    # a kecamatan that names its own periods (none) keeps its own week through Ramadan
    opted_out = place({"office_hours": {**own_week, "schedules": []}}, PAMEKASAN_SETTINGS).calendar()
    assert opted_out.add_working_days(datetime(2026, 2, 26, 10, tzinfo=WIB), 1) == datetime(2026, 2, 27, 16, tzinfo=WIB)


def test_the_kabupaten_time_zone_is_the_calendar_s_and_the_year_s():
    wita = place(kabupaten={"time_zone": "Asia/Makassar"})
    assert str(wita.time_zone) == "Asia/Makassar" and wita.time_zone_label == "WITA"
    closing = wita.calendar().add_working_days(datetime(2026, 2, 3, 2, tzinfo=WIB), 1)
    assert closing.utcoffset().total_seconds() == 8 * 3600 and closing.hour == 16
    assert place().time_zone_label == "WIB"


def test_extra_days_off_and_days_made_working_again_from_both():
    k = place(
        {"extra_holidays": {"2026-02-04": "Hari Jadi Kecamatan"}},
        {"extra_holidays": {"2026-02-05": "Hari Jadi Kabupaten"}, "working_days": ["2026-12-24"]},
    )
    cal = k.calendar()
    assert not cal.is_working_day(date(2026, 2, 4)) and not cal.is_working_day(date(2026, 2, 5))
    assert cal.is_working_day(date(2026, 12, 24))  # a cuti bersama a decree moved
    assert cal.holiday_name(date(2026, 2, 5)) == "Hari Jadi Kabupaten"


def test_the_calendar_key_changes_with_either_settings():
    base = place(kabupaten=PAMEKASAN_SETTINGS)
    assert base.calendar_key() == place(kabupaten=PAMEKASAN_SETTINGS).calendar_key()
    assert base.calendar_key() != place().calendar_key()
    assert base.calendar_key() != place({"extra_holidays": {"2026-02-04": "x"}}, PAMEKASAN_SETTINGS).calendar_key()
    assert base.calendar_key() == place({"sop_overrides": {}}, PAMEKASAN_SETTINGS).calendar_key()


def test_the_demo_settings_are_valid():
    assert validate_kabupaten_settings(PAMEKASAN_SETTINGS) == PAMEKASAN_SETTINGS
    assert validate_settings({"working_days": ["2026-12-24"]})


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"time_zone": "Europe/Berlin"}, "not an Indonesian time zone"),
        ({"zona": "WIB"}, "unknown kabupaten settings"),
        ({"office_hours": {"days": {"mon": ["16:00", "08:00"]}}}, "not after opening"),
        ({"extra_holidays": ["2026-02-05"]}, "map dates"),
        ({"extra_holidays": {"05-02-2026": "x"}}, "YYYY-MM-DD"),
        ({"working_days": "2026-12-24"}, "list of dates"),
        ({"working_days": ["kemarin"]}, "YYYY-MM-DD"),
        ([], "JSON object"),
    ],
)
def test_bad_kabupaten_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        validate_kabupaten_settings(settings)
