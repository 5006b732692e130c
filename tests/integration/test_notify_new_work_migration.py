"""Migration 0033 (the staff's news of new work planned in rounds, docs/adr/0031) on a scratch database: the round's
checkpoint starts where the relay had handed events to ``notify.plan``, which planned the news until then (an upgrade
neither tells staff again of what they were told, at an address changed since, nor misses what was not handed on
yet); down to 0032 and up again."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from tests.integration.test_migration_organisation import alembic, scratch_url  # noqa: F401 (a fixture)


def test_0033_starts_the_news_where_the_relay_had_handed_events_to_notify_plan(scratch_url):
    config = alembic(scratch_url)
    command.upgrade(config, "0032")
    engine = create_engine(scratch_url)
    with engine.begin() as conn:  # the old relay had handed notify.plan every event up to 4,711
        conn.execute(text("UPDATE workflow.checkpoints SET position = 4711 WHERE name = 'relay.notify-messages'"))
    command.upgrade(config, "0033")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT name, position FROM notify.checkpoints")).all()
        tables = set(
            conn.execute(
                text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'notify'")
            ).scalars()
        )
    assert rows == [("notify.new-work", 4711)]
    assert {"checkpoints", "projection_failures"} <= tables
    command.downgrade(config, "0032")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT to_regclass('notify.checkpoints')")).scalar() is None
        assert conn.execute(text("SELECT to_regclass('notify.projection_failures')")).scalar() is None
    command.upgrade(config, "0033")
    engine.dispose()
