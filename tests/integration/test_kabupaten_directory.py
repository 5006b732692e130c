"""Kabupaten rows and settings in the database (migration 0016): every kecamatan's kabupaten has a row, its
settings are stored checked, and the kecamatan directory hands them to each kecamatan's calendar."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from sqlalchemy import select

from shared.calendar import WIB
from shared.tenancy import (
    PAMEKASAN_SETTINGS,
    Kecamatan,
    KecamatanDirectory,
    configure_kabupaten,
    kabupaten_table,
    upsert_kecamatan,
)


def test_a_kabupaten_s_settings_reach_its_kecamatan_calendars(engine):
    suffix = uuid.uuid4().hex[:8]
    kabupaten = f"kab-{suffix}"
    place = Kecamatan(f"uji-{suffix}", f"97.{suffix}", "Uji", kabupaten, f"Kabupaten Uji {suffix}", {})
    upsert_kecamatan(engine, [place])
    with engine.connect() as conn:
        row = conn.execute(select(kabupaten_table).where(kabupaten_table.c.slug == kabupaten)).mappings().one()
    assert (row["name"], row["settings"]) == (f"Kabupaten Uji {suffix}", {})

    directory = KecamatanDirectory(engine, ttl=0)
    assert directory.get(place.slug).calendar().add_working_days(datetime(2026, 2, 3, 10, tzinfo=WIB), 1).hour == 16

    configure_kabupaten(engine, kabupaten, {**PAMEKASAN_SETTINGS, "extra_holidays": {"2026-02-04": "Hari Jadi"}})
    found = directory.get(place.slug)
    assert found.kabupaten_settings["extra_holidays"] == {"2026-02-04": "Hari Jadi"}
    # Tuesday 3 Feb: the 4th is the kabupaten's day off, so one working day ends Thursday 5th at 15:00
    assert found.calendar().add_working_days(datetime(2026, 2, 3, 10, tzinfo=WIB), 1) == datetime(
        2026, 2, 5, 15, tzinfo=WIB
    )

    with pytest.raises(ValueError, match="Indonesian time zone"):
        configure_kabupaten(engine, kabupaten, {"time_zone": "UTC"})
    with pytest.raises(ValueError, match="unknown kabupaten"):
        configure_kabupaten(engine, f"nowhere-{suffix}", {})
    assert directory.get(place.slug).kabupaten_settings["time_zone"] == "Asia/Jakarta"  # the refused left nothing
