"""Migration 0015 (issue #15, docs/adr/0014) on a database of its own: every kecamatan has the PP 17/2018 units
until it has its own list,
a Kasi's free-text unit becomes the code of the unit it names (what names none is left for an admin), the
organisation's log is append-only, the unit directory names each unit's head, and the migration goes down and
up again."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

import migrations


@pytest.fixture
def scratch_url(database_url):
    """A fresh database on the test server, dropped afterwards."""
    name = f"migration_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def alembic(url: str) -> Config:
    folder = Path(migrations.__file__).parent
    config = Config(str(folder / "alembic.ini"))
    config.set_main_option("script_location", str(folder))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def test_0015_gives_units_maps_free_text_and_goes_down_and_up(scratch_url):
    config = alembic(scratch_url)
    command.upgrade(config, "0014")
    engine = create_engine(scratch_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenancy.kecamatan (slug, code, name, kabupaten_slug, kabupaten_name, letterhead) "
                "VALUES ('uji', '35.28.99', 'Uji', 'pamekasan', 'Kabupaten Pamekasan', '{}')"
            )
        )
        for username, unit in [
            ("kasi.a", "pelayanan umum"),
            ("kasi.b", "Seksi Ketenteraman & Ketertiban Umum"),
            ("kasi.c", "pemerintahan"),
            ("kasi.d", "Bidang Pertanian"),
        ]:
            conn.execute(
                text(
                    "INSERT INTO tenancy.users (username, full_name, role, kecamatan, unit, password_hash) "
                    "VALUES (:u, 'Nama', 'kasi', 'uji', :unit, 'x')"
                ),
                {"u": username, "unit": unit},
            )

    command.upgrade(config, "0015")
    with engine.begin() as conn:
        units = conn.execute(text("SELECT code FROM tenancy.unit_directory WHERE kecamatan = 'uji' ORDER BY code"))
        assert units.scalars().all() == ["kesra", "pelayanan-umum", "pemerintahan", "pmd", "renkeu", "trantib", "umpeg"]
        # a kecamatan's own list, once it has one, replaces the default
        conn.execute(
            text("INSERT INTO tenancy.org_units (kecamatan, code, kind, name) VALUES ('uji', 'trantib', 'seksi', 'T')")
        )
        own = conn.execute(text("SELECT code, name FROM tenancy.unit_directory WHERE kecamatan = 'uji'")).all()
        assert own == [("trantib", "T")]
        # a kabupaten's list, when it has one, before the national default
        conn.execute(text("DELETE FROM tenancy.org_units"))
        conn.execute(
            text(
                "INSERT INTO tenancy.org_default_units (kabupaten, code, kind, name) VALUES ('pamekasan', 'a', 'seksi', 'A')"
            )
        )
        assert conn.execute(text("SELECT code FROM tenancy.unit_directory")).scalars().all() == ["a"]
        conn.execute(text("DELETE FROM tenancy.org_default_units WHERE kabupaten = 'pamekasan'"))
        unit_of = dict(conn.execute(text("SELECT username, unit FROM tenancy.users")).all())
        assert unit_of == {
            "kasi.a": "pelayanan-umum",
            "kasi.b": "trantib",
            "kasi.c": "pemerintahan",
            "kasi.d": "Bidang Pertanian",  # names no unit: left for an admin to correct
        }
        heads = dict(
            conn.execute(text("SELECT code, head_username FROM tenancy.unit_directory WHERE kecamatan = 'uji'")).all()
        )
        assert heads["trantib"] == "kasi.b" and heads["pmd"] is None
        staff = conn.execute(text("SELECT pangkat, golongan FROM tenancy.staff_directory WHERE username = 'kasi.c'"))
        assert staff.one() == (None, None)
        conn.execute(
            text(
                "INSERT INTO tenancy.org_events (id, kecamatan, type, data, actor) "
                "VALUES (:id, 'uji', 'UnitDefined', '{}', 'admin')"
            ),
            {"id": uuid.uuid4()},
        )
    for statement in ("UPDATE tenancy.org_events SET actor = 'x'", "DELETE FROM tenancy.org_events"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with pytest.raises(DBAPIError, match="golongan_format"), engine.begin() as conn:
        conn.execute(text("UPDATE tenancy.users SET golongan = 'V/z' WHERE username = 'kasi.a'"))

    command.downgrade(config, "0014")
    with engine.connect() as conn:
        columns = conn.execute(text("SELECT * FROM tenancy.staff_directory LIMIT 0")).keys()
        assert "pangkat" not in columns and "notify_new_work" in columns
    command.upgrade(config, "head")
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM tenancy.unit_directory WHERE kecamatan = 'uji'")).scalar_one() == 7
        )
    engine.dispose()
