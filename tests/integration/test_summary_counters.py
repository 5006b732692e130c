"""The summary's counters (issue #20 item 4; adapters/counters.py, migration 0031) against the scan they replace
(``queries.summary_scan``, the summary as it was): equal for random periods (whole months, part-months, open ends,
one day), random sets of kecamatan and clocks, after random changes of the complaints' rows, after the projection
applied a simulated history event by event in random batches, and after a rebuild's way of filling them (rows held
in memory, counted at the flush). The counters hold exactly what a recount from ``complaints`` gives."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.event import listen, remove

from services.dashboard.adapters import counters, queries
from services.dashboard.adapters import tables as t
from services.dashboard.adapters.projections import Calendars, ComplaintsProjection, upsert
from services.dashboard.adapters.subscription import Subscription
from shared.eventstore.postgres import PostgresEventStore
from shared.tenancy import KecamatanDirectory

WIB = ZoneInfo("Asia/Jakarta")
LIVE = {name: t.metadata.tables[f"dashboard.{name}"] for name in ComplaintsProjection.table_names}
STATUSES = ("in_progress", "awaiting_documents", "referred", "objection", "closed")
OUTCOMES = ("resolved", "referred", "identity_rejected", "incomplete", "withdrawn", "duplicate")
CHANNELS = ("web", "whatsapp", "sms", "kotak")
UNITS = (None, "pemerintahan", "trantib", "kesra")
CATEGORIES = (None, "jalan", "air", "lainnya")


def random_row(rng: random.Random, kecamatan: list[str], first: date, days: int) -> dict:
    cid = uuid.uuid4()
    received = datetime.combine(first + timedelta(days=rng.randrange(days)), time(rng.randrange(24)), WIB)
    row = {
        "complaint_id": cid,
        "kecamatan": rng.choice(kecamatan),
        "tracking_code": f"C{cid.hex[:11]}",
        "received_at": received,
        "received_date": received.date(),
        "complainant_name": "Uji",
        "channel": rng.choice(CHANNELS),
        "subject": "uji",
        "sop_version": "uji-1",
        "step_occurrences": {},
        "position": 1,
        "complainant_confidential": False,
        "reopened": 0,
    }
    return mutate(rng, row, kecamatan)


def mutate(rng: random.Random, old: dict, kecamatan: list[str]) -> dict:
    """The row after some change: its status (and all that goes with it) at random; now and then its date or
    kecamatan corrected."""
    new = dict(old)
    status = rng.choice(STATUSES)
    new["status"] = status
    new["outcome"] = rng.choice(OUTCOMES) if status == "closed" else None
    new["within_sla"] = rng.choice((True, False, None)) if status in ("closed", "referred") else None
    new["deadline_at"] = (
        new["received_at"] + timedelta(days=rng.choice((3, 12, 40, 400))) if rng.random() < 0.9 else None
    )
    new["category"] = rng.choice(CATEGORIES)
    new["disposition_unit"] = rng.choice(UNITS)
    new["sent_at"] = new["received_at"] + timedelta(days=5) if rng.random() < 0.6 else None
    answered = new["sent_at"] is not None and rng.random() < 0.5
    new["feedback_rating"] = rng.randint(1, 4) if answered else None
    new["feedback_satisfied"] = (new["feedback_rating"] >= 3) if answered else None
    new["feedback_unit"] = rng.choice(UNITS) if answered else None
    new["reopened"] = rng.choice((0, 0, 1, 2))
    new["reopened_unit"] = rng.choice(UNITS) if new["reopened"] else None
    new["objection_at"] = new["received_at"] + timedelta(days=20) if rng.random() < 0.1 else None
    if rng.random() < 0.05:
        new["received_date"] = new["received_date"] + timedelta(days=rng.choice((-40, -1, 1, 33)))
    if rng.random() < 0.05:
        new["kecamatan"] = rng.choice(kecamatan)
    return new


def random_period(rng: random.Random, first: date, days: int) -> queries.Period:
    def day() -> date:
        pick = first + timedelta(days=rng.randrange(-20, days + 20))
        return rng.choice((pick, pick.replace(day=1), _month_end(pick)))  # whole months as often as not

    start, end = rng.choice((None, day())), rng.choice((None, day()))
    if start and end and start > end:
        start, end = end, start
    return queries.Period(start, end)


def _month_end(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def recount(conn, names: dict[str, str], kecamatan: list[str]) -> dict[str, list]:
    """What both counters tables hold for ``kecamatan`` (this module's own: the test database is shared, and other
    modules write rows of their kecamatan into the live complaints table by hand, without counters)."""
    got = {}
    for table in ("complaint_counts", "feedback_counts"):
        cols = ", ".join(c.name for c in LIVE[table].columns)
        got[table] = conn.execute(
            text(f'SELECT {cols} FROM dashboard."{names[table]}" WHERE kecamatan = ANY(:k) ORDER BY {cols}'),
            {"k": kecamatan},
        ).all()
    return got


def assert_counters_equal_a_recount(conn, names: dict[str, str], kecamatan: list[str]) -> None:
    """The counters of ``kecamatan`` equal what ``counters.recount_sql`` makes of ``names['complaints']``."""
    kept = recount(conn, names, kecamatan)
    conn.execute(text("SAVEPOINT recount"))
    try:
        for sql in counters.recount_sql(names["complaints"], names["complaint_counts"], names["feedback_counts"]):
            conn.execute(text(sql))
        assert recount(conn, names, kecamatan) == kept
    finally:
        conn.execute(text("ROLLBACK TO SAVEPOINT recount"))


def assert_summary_equals_the_scan(conn, rng, kecamatan, first, days, rounds=60) -> int:
    compared = 0
    for _ in range(rounds):
        ks = rng.sample(kecamatan, rng.randint(1, len(kecamatan)))
        period = random_period(rng, first, days)
        now = datetime.combine(first + timedelta(days=rng.randrange(days + 400)), time(12), WIB)
        assert queries.summary(conn, ks, period, now) == queries.summary_scan(conn, ks, period, now), (ks, period)
        compared += 1
    # the edges of the month arithmetic, each asked once
    for period in (
        queries.Period(),
        queries.Period(first, None),
        queries.Period(None, first),
        queries.Period(first.replace(day=1), _month_end(first)),
        queries.Period(first.replace(day=1), first.replace(day=1)),
        queries.Period(_month_end(first), _month_end(first) + timedelta(days=1)),
        queries.Period(date(first.year, 12, 31), date(first.year + 1, 1, 1)),
        queries.Period(date(first.year, 12, 15), date(first.year + 1, 2, 14)),
        # a year with part-months at both ends (the bench's case): months, then a whole year, then months
        queries.Period(first + timedelta(days=17), first + timedelta(days=17 + 365)),
        queries.Period(date(first.year, 12, 7), date(first.year + 2, 1, 9)),
    ):
        now = datetime.combine(first + timedelta(days=days // 2), time(12), WIB)
        assert queries.summary(conn, kecamatan, period, now) == queries.summary_scan(conn, kecamatan, period, now)
        compared += 1
    return compared


def test_counters_follow_random_changes_of_the_rows_and_answer_as_the_scan(engine):
    rng = random.Random(20)
    kecamatan = [f"ctr-{uuid.uuid4().hex[:6]}-{n}" for n in range(3)]
    first, days = date(2025, 11, 17), 500
    with engine.connect() as conn:  # one transaction, rolled back: nothing of this stays in the shared database
        rows = {}
        for _ in range(6):  # batches as the projection writes them: the new rows and the changed ones
            changes = []
            for _ in range(150):
                if rows and rng.random() < 0.5:
                    old = rows[rng.choice(list(rows))]
                    new = mutate(rng, old, kecamatan)
                else:
                    old, new = None, random_row(rng, kecamatan, first, days)
                changes.append((old, new))
                rows[new["complaint_id"]] = new
            latest = {new["complaint_id"]: (old, new) for old, new in changes}  # one change per complaint and batch
            firsts = {}
            for old, new in changes:
                firsts.setdefault(new["complaint_id"], old)
            batch = [(firsts[cid], new) for cid, (_, new) in latest.items()]
            upsert(conn, LIVE["complaints"], [new for _, new in batch], key=("complaint_id",))
            counters.apply(conn, LIVE, batch)
            names = {n: n for n in LIVE}
            assert_counters_equal_a_recount(conn, names, kecamatan)
        compared = assert_summary_equals_the_scan(conn, rng, kecamatan, first, days)
        total = sum(i["total"] for i in queries.summary(conn, kecamatan, queries.Period(), datetime.now(UTC)))
        assert total == len(rows) and compared > 60
        # a status change moves the complaint from one counter to another; its last complaint gone, a row goes
        cid = next(iter(rows))
        old = rows[cid]
        moved = {**old, "status": "closed", "outcome": "withdrawn", "within_sla": True}
        upsert(conn, LIVE["complaints"], [moved], key=("complaint_id",))
        counters.apply(conn, LIVE, [(old, moved)])
        assert_counters_equal_a_recount(conn, {n: n for n in LIVE}, kecamatan)
        [item] = queries.summary(conn, [old["kecamatan"]], queries.Period(), datetime.now(UTC))
        assert item == queries.summary_scan(conn, [old["kecamatan"]], queries.Period(), datetime.now(UTC))[0]
        assert item["by_outcome"]["withdrawn"] >= 1
        conn.rollback()


def test_a_year_with_part_months_at_both_ends_is_one_statement_and_answers_as_the_scan(engine):
    """The summary of a year cut mid-month at both ends (the counters' whole months, the part-months' rows, the late
    ones) is one statement to the server whatever the period, and equal to the scan."""
    rng = random.Random(21)
    kecamatan = [f"ctr-{uuid.uuid4().hex[:6]}-{n}" for n in range(2)]
    first, days = date(2025, 1, 1), 800
    with engine.connect() as conn:  # rolled back at the end
        rows = [random_row(rng, kecamatan, first, days) for _ in range(600)]
        upsert(conn, LIVE["complaints"], rows, key=("complaint_id",))
        counters.apply(conn, LIVE, [(None, row) for row in rows])
        statements: list[str] = []

        def record(_conn, _cursor, statement, *_args) -> None:
            statements.append(statement)

        listen(conn, "before_cursor_execute", record)
        now = datetime(2026, 7, 1, 12, tzinfo=WIB)
        for period in (
            queries.Period(date(2025, 3, 18), date(2026, 3, 17)),  # part-months, eleven whole months
            queries.Period(date(2024, 12, 20), date(2026, 1, 9)),  # part-months around the whole year 2025
            queries.Period(date(2025, 5, 20), date(2025, 6, 9)),  # no whole month: two part-months
        ):
            statements.clear()
            counted = queries.summary(conn, kecamatan, period, now)
            assert len(statements) == 1, period
            assert counted == queries.summary_scan(conn, kecamatan, period, now), period
            in_period = [r for r in rows if period.start <= r["received_date"] <= period.end]
            assert sum(item["total"] for item in counted) == len(in_period) > 0
        remove(conn, "before_cursor_execute", record)
        conn.rollback()


def simulated_events(kecamatan: list[str], complaints: int, seed: int) -> list:
    """A simulated history (bench/dashboard.py's simulation: all 12 steps, referrals, documents, withdrawals) as
    the store's envelopes, positions in append order."""
    from bench.dashboard import Simulation, envelopes

    now = datetime(2026, 6, 30, 12, tzinfo=UTC)
    sim = Simulation(now, 420, seed, complaints, [(k, f"99.{i}") for i, k in enumerate(kecamatan)])
    return [env.model_copy(update={"position": n}) for n, env in enumerate(envelopes(sim.events()), start=1)]


@pytest.fixture(scope="module")
def history():
    kecamatan = [f"sim-{uuid.uuid4().hex[:6]}-{n}" for n in range(3)]
    return kecamatan, simulated_events(kecamatan, 400, seed=7)


def test_the_projection_keeps_them_event_by_event_and_a_rebuild_counts_them_the_same(engine, history):
    """Live: the events in random batches (a complaint's status changes from batch to batch); then the rebuild's
    way (open complaints held in memory, written and counted at the flush) into copies: the same counters."""
    kecamatan, events = history
    rng = random.Random(4)
    projection = ComplaintsProjection(Calendars(KecamatanDirectory(engine)))
    copies = Subscription(engine, PostgresEventStore(engine), projection, suffix=f"__t{uuid.uuid4().hex[:4]}")
    copies.create_tables()
    try:
        with engine.connect() as conn:  # rolled back at the end
            i = 0
            while i < len(events):
                n = rng.choice((1, 7, 50, 400))
                projection.apply_batch(conn, LIVE, events[i : i + n])
                i += n
                if rng.random() < 0.2:
                    assert_counters_equal_a_recount(conn, {n: n for n in LIVE}, kecamatan)
            assert_counters_equal_a_recount(conn, {n: n for n in LIVE}, kecamatan)
            first = min(e.occurred_at for e in events).astimezone(WIB).date()
            compared = assert_summary_equals_the_scan(conn, rng, kecamatan, first, 420, rounds=40)
            live_total = sum(i["total"] for i in queries.summary(conn, kecamatan, queries.Period(), datetime.now(UTC)))
            assert compared > 40 and live_total > 300

            held: dict = {}
            for start in range(0, len(events), 250):
                projection.apply_batch(conn, copies.tables, events[start : start + 250], held)
            projection.flush(conn, copies.tables, held)
            names = {name: table.name for name, table in copies.tables.items()}
            assert_counters_equal_a_recount(conn, names, kecamatan)
            for name in ("complaint_counts", "feedback_counts"):
                cols = ", ".join(c.name for c in LIVE[name].columns)
                where = "WHERE kecamatan = ANY(:k)"
                live = conn.execute(
                    text(f"SELECT {cols} FROM dashboard.{name} {where} ORDER BY {cols}"), {"k": kecamatan}
                ).all()
                rebuilt = conn.execute(
                    text(f'SELECT {cols} FROM dashboard."{names[name]}" {where} ORDER BY {cols}'), {"k": kecamatan}
                ).all()
                assert live == rebuilt and live, name
            conn.rollback()
    finally:
        copies.drop_tables()
