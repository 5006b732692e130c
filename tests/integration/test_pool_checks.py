"""A pooled connection is pinged before use only where it may be broken (shared/db.py ``PoolChecks``): a
connection used a moment ago goes out as it is; one the server ended, or one idle longer than
``PING_AFTER_IDLE_SECONDS``, is pinged, and a broken one is replaced before the caller sees it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from shared import db
from shared.db import PoolChecks, make_engine


@pytest.fixture
def engine(settings):
    engine = make_engine(settings.model_copy(update={"db_pool_size": 1, "db_max_overflow": 0}))
    yield engine
    engine.dispose()


def _backend(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_connection_used_a_moment_ago_is_not_pinged(engine):
    checks = PoolChecks.of(engine)
    first = _backend(engine)
    pings = checks.pings
    assert [_backend(engine) for _ in range(5)] == [first] * 5  # the same pooled connection each time
    assert checks.pings == pings
    assert checks.discarded == 0


def test_a_connection_the_server_ended_is_replaced_before_use(engine, settings):
    checks = PoolChecks.of(engine)
    ended = _backend(engine)
    killer = make_engine(settings)
    try:
        with killer.begin() as conn:  # waits (up to 5 s) until the backend is gone
            assert conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": ended}).scalar_one()
    finally:
        killer.dispose()
    pings, discarded = checks.pings, checks.discarded
    replaced = _backend(engine)  # no error reaches the caller
    assert replaced != ended
    assert checks.pings == pings + 1
    assert checks.discarded == discarded + 1


def test_a_connection_idle_past_the_limit_is_pinged_and_kept_when_alive(engine, monkeypatch):
    checks = PoolChecks.of(engine)
    kept = _backend(engine)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", -1.0)  # every connection counts as idle too long
    pings = checks.pings
    assert _backend(engine) == kept
    assert checks.pings == pings + 1
    assert checks.discarded == 0
