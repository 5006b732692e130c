"""Migration 0029 (the SP4N-LAPOR! bridge's schema) on a scratch database: up, the inbox's key refusing a report
twice, down to 0028 (schema gone) and up again."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from tests.integration.test_migration_organisation import alembic, scratch_url  # noqa: F401 (a fixture)

REPORT = "INSERT INTO lapor.inbox (tracking_id, kecamatan, instansi_id, report) VALUES ('1916449', 'uji', 'INS', '{}')"


def test_0029_makes_the_bridges_schema_and_goes_down_and_up(scratch_url):
    config = alembic(scratch_url)
    command.upgrade(config, "0029")
    engine = create_engine(scratch_url)
    with engine.begin() as conn:
        conn.execute(text(REPORT))
        tables = set(
            conn.execute(
                text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'lapor'")
            ).scalars()
        )
    assert tables == {"inbox", "cursors", "followed", "outbox", "checkpoints", "projection_failures"}
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(REPORT))  # a LAPOR! report is recorded once
    command.downgrade(config, "0028")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT to_regnamespace('lapor')")).scalar() is None
    command.upgrade(config, "0029")
    engine.dispose()
