"""The live dashboard projections in one round (``LiveRounds``, what ``pengaduan projections run`` runs): one claim
of both checkpoints, one read of the store from the lower one, each projection's events from its own checkpoint, an
event it cannot apply set aside for it alone (ADR 0015: the round done again at once, carefully), its set-aside
events retried on the process's first round."""

from __future__ import annotations

import threading
import time
from datetime import datetime

from sqlalchemy import event, select, text
from sqlalchemy.dialects.postgresql import insert

from services.dashboard.adapters import tables as t
from services.dashboard.adapters.projections import Calendars, ServiceRequestsProjection
from services.dashboard.adapters.subscription import LiveRounds, Subscription
from services.dashboard.entrypoints import projections
from shared.db import make_engine
from shared.subscriptions import Checkpoints
from shared.tenancy import KecamatanDirectory
from tests.integration.test_projection_poison import (  # noqa: F401 (fixtures)
    COMPLAINTS,
    REQUESTS,
    WIB,
    BuggyComplaints,
    Stream,
    complaint,
    kecamatan,
    rows_of,
    store,
)


def live_rounds(engine, store, complaints=None) -> LiveRounds:
    """A process starting: new subscriptions (their set-aside events retried on the first round)."""
    calendars = Calendars(KecamatanDirectory(engine))
    chosen = {**projections.projections(engine), **({COMPLAINTS: complaints(calendars)} if complaints else {})}
    return LiveRounds([Subscription(engine, store, p) for p in chosen.values()])


def run(rounds: LiveRounds) -> int:
    read = 0
    while True:
        result = rounds.round()
        read += result.handled
        if not result.more:
            return read


def test_one_round_keeps_both_projections_each_from_its_own_checkpoint(engine, store, kecamatan):
    a = Stream(store, kecamatan, datetime(2026, 6, 1, 9, tzinfo=WIB))
    # the complaints projection alone moves on (a rebuild swapped in, a new projection): the other stays behind
    Subscription(engine, store, projections.projections(engine)[COMPLAINTS]).catch_up()
    behind = Subscription(engine, store, ServiceRequestsProjection())
    before = behind.position()
    assert before < a.events[0].position
    a.duplicate()
    b = Stream(store, kecamatan, datetime(2026, 6, 1, 10, tzinfo=WIB))

    assert run(live_rounds(engine, store)) >= 3
    head = store.last_position()
    with engine.connect() as conn:
        positions = dict(conn.execute(select(t.checkpoints.c.name, t.checkpoints.c.position)).all())
        assert positions[COMPLAINTS] == positions[REQUESTS] == head > before
        for table in ("complaints", "service_requests"):
            row = complaint(conn, a, table)
            assert row["position"] == a.events[-1].position, table  # closed as a duplicate in both
            assert complaint(conn, b, table) is not None, table
        assert complaint(conn, a)["outcome"] == "duplicate"


def test_an_event_one_projection_cannot_apply_is_set_aside_for_it_and_retried_by_the_next_process(
    engine, store, kecamatan
):
    a = Stream(store, kecamatan, datetime(2026, 6, 2, 9, tzinfo=WIB))
    odd = a.duplicate()
    later = a.duplicate()  # marked a duplicate again: held behind the odd one, in the complaints projection only
    b = Stream(store, kecamatan, datetime(2026, 6, 2, 10, tzinfo=WIB))

    run(live_rounds(engine, store, lambda calendars: BuggyComplaints(calendars, {odd.event_id})))
    with engine.connect() as conn:
        failed = rows_of(conn, t.projection_failures, COMPLAINTS, a)
        assert set(failed) == {2, 3} and failed[2]["error_class"] == "ValueError"
        assert failed[3]["held_behind"] == odd.position
        assert rows_of(conn, t.projection_failures, REQUESTS, a) == {}  # the other projection applied them
        assert complaint(conn, a, "service_requests")["position"] == later.position
        assert complaint(conn, a)["status"] == "in_progress" and complaint(conn, b) is not None

    # the fixed release starts: its first round applies the set-aside events in order
    rounds = live_rounds(engine, store)
    run(rounds)
    assert not any(s.retry_pending for s in rounds.subscriptions)
    with engine.connect() as conn:
        assert rows_of(conn, t.projection_failures, COMPLAINTS, a) == {}
        row = complaint(conn, a)
        assert row["status"] == "closed" and row["outcome"] == "duplicate" and row["position"] == later.position


class Statements:
    """The statements an engine sends (SAVEPOINTs included: SQLAlchemy sends them as statements), from ``start``."""

    def __init__(self, engine) -> None:
        self.sent: list[str] = []
        event.listen(engine, "before_cursor_execute", self._sent)

    def _sent(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.sent.append(statement)

    def start(self) -> None:
        self.sent.clear()

    def count(self, fragment: str) -> int:
        return sum(fragment in s for s in self.sent)


def test_a_round_takes_no_savepoint_and_a_batch_that_fails_is_done_again_carefully_at_once(
    engine, store, kecamatan, settings, caplog
):
    """ADR 0015: the batch is applied without a SAVEPOINT. A batch that fails on the data rolls the round back, and
    the same call does the round again at once, that projection's events one at a time (each in a savepoint),
    logged at WARNING: the runner sees a round that went well (no ERROR, no backoff)."""
    own = make_engine(settings, pool_size=1)
    statements = Statements(own)
    try:
        a = Stream(store, kecamatan, datetime(2026, 6, 3, 9, tzinfo=WIB))
        calendars = Calendars(KecamatanDirectory(own))
        odd: set = set()
        rounds = LiveRounds(
            [
                Subscription(own, store, p)
                for p in {**projections.projections(own), COMPLAINTS: BuggyComplaints(calendars, odd)}.values()
            ]
        )
        run(rounds)  # the first round retries what other tests set aside (each in a savepoint): not measured

        a.duplicate()
        statements.start()
        assert run(rounds) >= 1
        assert statements.count("SAVEPOINT") == 0
        assert statements.count("pg_advisory_xact_lock") == 1  # one round, one attempt

        b = Stream(store, kecamatan, datetime(2026, 6, 3, 10, tzinfo=WIB))
        bad = b.duplicate()
        odd.add(bad.event_id)
        later = b.duplicate()
        c = Stream(store, kecamatan, datetime(2026, 6, 3, 11, tzinfo=WIB))
        statements.start()
        with caplog.at_level("WARNING"):
            assert run(rounds) >= 4  # no exception: one call did the round twice
        assert statements.count("pg_advisory_xact_lock") == 2  # rolled back, then done again carefully
        assert statements.count("SAVEPOINT") > 0
        assert not any(s.set_aside.careful for s in rounds.subscriptions)  # careful for that round only
        redone = [r for r in caplog.records if "rolled back and done again" in r.getMessage()]
        assert [r.levelname for r in redone] == ["WARNING"]
        assert not [r for r in caplog.records if r.name == "shared.subscriptions"]
        with own.connect() as conn:
            failed = rows_of(conn, t.projection_failures, COMPLAINTS, b)
            assert set(failed) == {2, 3} and failed[2]["error_class"] == "ValueError"
            assert failed[3]["held_behind"] == bad.position and failed[3]["event_id"] == later.event_id
            assert rows_of(conn, t.projection_failures, REQUESTS, b) == {}
            assert complaint(conn, b, "service_requests")["position"] == later.position
            assert complaint(conn, c)["status"] == complaint(conn, c, "service_requests")["status"] == "in_progress"
            assert complaint(conn, a)["outcome"] == "duplicate"

        c.duplicate()  # the next round is a plain one again
        statements.start()
        run(rounds)
        assert statements.count("SAVEPOINT") == 0 and statements.count("pg_advisory_xact_lock") == 1
        with own.connect() as conn:
            assert complaint(conn, c)["outcome"] == "duplicate"
    finally:
        own.dispose()


def test_a_stream_another_process_parks_while_it_holds_the_claim_is_held_by_the_round_that_waited(
    engine, store, kecamatan
):
    """A round reads the parked streams with its checkpoints, in the statement after the claim's locks (not kept in
    memory between rounds, not in the locking statement, whose snapshot predates the wait): a stream parked by
    another process while it holds the claim (a rebuild's swap replaces the live projection's set-aside events
    so) is held by the round that waited for it, never applied over."""
    rounds = live_rounds(engine, store)
    run(rounds)  # the first round (retrying what other tests set aside) is behind us
    a = Stream(store, kecamatan, datetime(2026, 6, 4, 9, tzinfo=WIB))
    run(rounds)
    received = a.events[0]
    later = a.duplicate()

    with engine.connect() as other, engine.connect() as watcher:
        Checkpoints(t.checkpoints).claim(other, COMPLAINTS)  # as the swap does
        waiting = threading.Thread(target=run, args=(rounds,))
        waiting.start()
        deadline = time.monotonic() + 10
        while True:  # pg_stat_activity is read once per transaction: a transaction per look
            with watcher.begin():
                if watcher.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND wait_event = 'advisory' AND query LIKE '%pg_advisory_xact_lock%'"
                    )
                ).scalar_one():
                    break
            assert time.monotonic() < deadline, "the round did not wait for the claim"
            time.sleep(0.02)
        other.execute(
            insert(t.projection_failures).values(
                projection=COMPLAINTS,
                position=received.position,
                event_id=received.event_id,
                stream_id=a.stream_id,
                event_type=received.type,
                kecamatan=kecamatan,
                error_class="ValueError",
                error="ValueError: set aside by another process",
                attempts=1,
            )
        )
        other.commit()
    waiting.join(timeout=30)
    assert not waiting.is_alive()

    with engine.connect() as conn:
        failed = rows_of(conn, t.projection_failures, COMPLAINTS, a)
        assert set(failed) == {1, 2} and failed[2]["held_behind"] == received.position
        assert failed[2]["event_id"] == later.event_id
        assert complaint(conn, a)["outcome"] is None and complaint(conn, a)["position"] == received.position
        assert complaint(conn, a, "service_requests")["position"] == later.position  # not parked there

    run(live_rounds(engine, store))  # the next process start applies them again, in order
    with engine.connect() as conn:
        assert rows_of(conn, t.projection_failures, COMPLAINTS, a) == {}
        assert complaint(conn, a)["outcome"] == "duplicate" and complaint(conn, a)["position"] == later.position
