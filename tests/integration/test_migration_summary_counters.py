"""Migration 0031 (the summary's counters, issue #20 item 4) on a database of its own: up from 0030 over complaints
already projected, the counters filled as the projection would keep them (``counters.deltas`` of every row, added
once) and the summary equal to the scan; down to 0030 (both tables and the partial index gone, the complaints kept);
up again, the same counters."""

from __future__ import annotations

import random
from datetime import date, datetime, time

from alembic import command
from sqlalchemy import create_engine, text

from services.dashboard.adapters import counters, queries
from services.dashboard.adapters import tables as t
from services.dashboard.adapters.projections import upsert
from tests.integration.test_migration_organisation import alembic, scratch_url  # noqa: F401 (a fixture)
from tests.integration.test_summary_counters import WIB, random_row

KECAMATAN = ["uji-a", "uji-b"]
RELATIONS = ("dashboard.complaint_counts", "dashboard.feedback_counts", "dashboard.complaints_open")


def held(conn) -> dict[str, set[tuple]]:
    """What both counters tables hold, as sets of rows."""
    return {
        name: {tuple(r) for r in conn.execute(text(f"SELECT * FROM dashboard.{name}"))}
        for name in ("complaint_counts", "feedback_counts")
    }


def expected(rows: list[dict]) -> dict[str, set[tuple]]:
    """The counters the projection would have kept for ``rows`` (each one new), as ``held`` reads them."""
    counts, feedback = counters.deltas([(None, row) for row in rows])
    return {
        "complaint_counts": {(*key, n) for key, n in counts.items()},
        "feedback_counts": {(*key, *values) for key, values in feedback.items()},
    }


def test_0031_fills_the_counters_from_the_complaints_and_goes_down_and_up(scratch_url):
    config = alembic(scratch_url)
    command.upgrade(config, "0030")
    engine = create_engine(scratch_url)
    rng = random.Random(31)
    rows = [random_row(rng, KECAMATAN, date(2025, 10, 20), 400) for _ in range(300)]
    with engine.begin() as conn:
        upsert(conn, t.complaints, rows, key=("complaint_id",))  # the table as 0030 left it (0031 adds no column)
        conn.execute(
            text(
                "INSERT INTO dashboard.checkpoints (name, position) VALUES ('dashboard.complaints', 900) ON CONFLICT (name) DO NOTHING"
            )
        )

    command.upgrade(config, "0031")
    with engine.connect() as conn:
        assert held(conn) == expected(rows)
        now = datetime.combine(date(2026, 6, 1), time(12), WIB)
        for period in (queries.Period(), queries.Period(date(2025, 11, 18), date(2026, 9, 3))):
            summary = queries.summary(conn, KECAMATAN, period, now)
            assert summary == queries.summary_scan(conn, KECAMATAN, period, now)
        assert sum(item["total"] for item in queries.summary(conn, KECAMATAN, queries.Period(), now)) == len(rows)

    command.downgrade(config, "0030")
    with engine.connect() as conn:
        assert [conn.execute(text("SELECT to_regclass(:r)"), {"r": r}).scalar() for r in RELATIONS] == [None] * 3
        assert conn.execute(text("SELECT count(*) FROM dashboard.complaints")).scalar() == len(rows)

    command.upgrade(config, "0031")
    with engine.connect() as conn:
        assert held(conn) == expected(rows)
    engine.dispose()
