"""Holding the event store's appends still, for tests that must stop a worker inside its unit of work at the append.

Appends run concurrently (docs/adr/0027): there is no append lock to hold any more. A transaction holding
``LOCK TABLE workflow.events IN SHARE MODE`` makes every INSERT wait (it needs ROW EXCLUSIVE) while readers go on
(they need ACCESS SHARE); the blocker takes no transaction id, so it holds back no reader either.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

WAITING_APPENDS = text(
    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() "
    "AND query LIKE 'INSERT INTO workflow.events%'"
)
HOLDERS = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'relation' AND relation = 'workflow.events'::regclass "
    "AND mode = 'ShareLock' AND granted"
)


class HeldAppends:
    """Every append waits at its INSERT until ``release`` (also on leaving a ``with`` block)."""

    def __init__(self, engine: Engine) -> None:
        self.conn = engine.connect()
        self.conn.execute(text("LOCK TABLE workflow.events IN SHARE MODE"))

    def release(self) -> None:
        if self.conn is not None:
            self.conn.rollback()
            self.conn.close()
            self.conn = None

    def __enter__(self) -> HeldAppends:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def appends_waiting(engine: Engine) -> int:
    """Transactions inside an append, waiting for a ``HeldAppends``."""
    with engine.connect() as conn:
        return conn.execute(WAITING_APPENDS).scalar_one()


def append_holders(engine: Engine) -> int:
    """``HeldAppends`` still holding the table."""
    with engine.connect() as conn:
        return conn.execute(HOLDERS).scalar_one()
