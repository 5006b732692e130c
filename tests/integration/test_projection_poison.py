"""Poison events: an event a projection cannot apply is set aside with its complaint's later events, and the
projection goes on with every other complaint (shared/projection_failures.py, docs/adr/0015).

The events are written straight into the store (``PostgresEventStore.append`` does not look at payloads), each
test on complaints of its own in a fresh kecamatan, the way an event of an odd shape would have got there. A
complaint the workflow does not know (no ``workflow.complaints`` row), so no scheduler job of another test loads
its stream; its later events are ``MarkedDuplicate``, the one type of the projections that no relay subscription
routes, so no worker of another test reads them. A broken payload stays in the store for the rest of the session:
every later round or rebuild of another test sets it aside the same way.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Table, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from services.dashboard.adapters import tables as t
from services.dashboard.adapters.gauges import gauges
from services.dashboard.adapters.projections import Calendars, ComplaintsProjection
from services.dashboard.adapters.subscription import Subscription, rebuild_projection
from services.dashboard.entrypoints import projections
from services.intake.adapters.tables import tracking
from services.intake.adapters.tracking import TrackingProjection, projection_failures
from shared.contracts import sop
from shared.contracts.intake import Complainant
from shared.contracts.tracking import TRACKING_CODE_RANDOM_BYTES, new_tracking_code
from shared.contracts.workflow import ComplaintReceived, MarkedDuplicate
from shared.db import make_engine
from shared.events import Actor, EventEnvelope
from shared.eventstore.postgres import PostgresEventStore
from shared.projection_failures import transient
from shared.tenancy import Kecamatan, KecamatanDirectory, upsert_kecamatan
from tests.support.processes import env_for

WIB = ZoneInfo("Asia/Jakarta")
NIK = "3528071505900001"
COMPLAINTS, REQUESTS = "dashboard.complaints", "dashboard.service_requests"


# -- complaints written straight into the store ---------------------------------------------------------------
@pytest.fixture(scope="module")
def store(engine) -> PostgresEventStore:
    return PostgresEventStore(engine)


@pytest.fixture
def kecamatan(engine) -> str:
    suffix = uuid.uuid4().hex[:6]
    slug = f"racun-{suffix}"
    upsert_kecamatan(
        engine, [Kecamatan(slug, f"98.{suffix}", f"Racun {suffix}", f"racunkab-{suffix}", f"Kabupaten Racun {suffix}")]
    )
    return slug


class Stream:
    """One complaint's stream: ``ComplaintReceived`` at version 1, then whatever a test appends."""

    def __init__(self, store: PostgresEventStore, kecamatan: str, received_at: datetime, channel: str = "web") -> None:
        self.store, self.kecamatan, self.received_at = store, kecamatan, received_at
        self.complaint_id = uuid.uuid4()
        self.stream_id = f"complaint-{self.complaint_id}"
        self.tracking_code = new_tracking_code(os.urandom(TRACKING_CODE_RANDOM_BYTES))
        self.events: list[EventEnvelope] = []
        received = ComplaintReceived(
            complaint_id=self.complaint_id,
            submission_id=uuid.uuid4(),
            tracking_code=self.tracking_code,
            kecamatan=kecamatan,
            channel=channel,
            complainant=Complainant(name="Siti Aminah", nik=NIK, phone="+6281234567890"),
            subject="Jalan desa rusak",
            description="Jalan di dusun rusak sejak Januari.",
            received_at=received_at,
            sop_version=sop.PEGANTENAN_2024.version,
            next_due_at=received_at + timedelta(days=1),
            deadline_at=received_at + timedelta(days=16),
        )
        self.append(ComplaintReceived.type, received.model_dump(mode="json"))

    def append(self, type_name: str, payload: dict, schema_version: int = 1) -> EventEnvelope:
        version = len(self.events) + 1
        event = EventEnvelope(
            event_id=uuid.uuid4(),
            stream_id=self.stream_id,
            version=version,
            kecamatan=self.kecamatan,
            type=type_name,
            schema_version=schema_version,
            occurred_at=self.received_at + timedelta(hours=version),
            actor=Actor(kind="user", user_id="uji.staf", role="staf"),
            correlation_id=uuid.uuid4(),
            payload=payload,
        )
        (position,) = self.store.append(self.stream_id, version - 1, [event])
        stored = event.model_copy(update={"position": position})
        self.events.append(stored)
        return stored

    def duplicate(self) -> EventEnvelope:
        """A well-formed ``MarkedDuplicate``: the complaint closes as a duplicate."""
        return self.append(MarkedDuplicate.type, MarkedDuplicate(step=2, duplicate_of="AAAA-BBBB-CC").model_dump())

    def broken(self) -> EventEnvelope:
        """A ``MarkedDuplicate`` whose payload does not decode (``duplicate_of`` missing), with a NIK in it that must
        not reach the stored error."""
        return self.append(MarkedDuplicate.type, {"step": 2, "reason": f"NIK {NIK} sudah pernah mengadu"})


def catch_up(engine, store, names=(COMPLAINTS, REQUESTS), subscriptions=None) -> dict[str, Subscription]:
    """The live dashboard projections up to the head; new ``Subscription``s (a process starting) unless given."""
    subs = subscriptions or {
        name: Subscription(engine, store, p) for name, p in projections.projections(engine).items() if name in names
    }
    for sub in subs.values():
        sub.catch_up()
    return subs


def rows_of(conn: Connection, table: Table, projection: str, stream: Stream) -> dict[int, dict]:
    """The set-aside rows of ``stream``'s events, by version."""
    by_position = {e.position: e.version for e in stream.events}
    found = conn.execute(
        select(table).where(table.c.projection == projection, table.c.stream_id == stream.stream_id)
    ).mappings()
    return {by_position[r["position"]]: dict(r) for r in found}


def complaint(conn: Connection, stream: Stream, table: str = "complaints") -> dict | None:
    row = conn.execute(
        text(f"SELECT * FROM dashboard.{table} WHERE complaint_id = :c"), {"c": stream.complaint_id}
    ).mappings()
    return next((dict(r) for r in row), None)


class BuggyComplaints(ComplaintsProjection):
    """The complaints projection with a bug that meets one odd event (a deploy fixes it: the real projection)."""

    def __init__(self, calendars: Calendars, odd: set[uuid.UUID]) -> None:
        super().__init__(calendars)
        self.odd = odd

    def apply_batch(
        self, conn: Connection, tables: Mapping[str, Table], events: Sequence[EventEnvelope], held: dict | None = None
    ) -> None:
        if any(e.event_id in self.odd for e in events):
            raise ValueError("a bug meets an odd event")
        super().apply_batch(conn, tables, events, held)


# -- the dashboard -----------------------------------------------------------------------------------------------
def test_an_event_that_does_not_decode_is_set_aside_once_and_the_projections_go_on(
    engine, store, kecamatan, settings, caplog
):
    a = Stream(store, kecamatan, datetime(2026, 5, 4, 9, tzinfo=WIB))
    poison = a.broken()
    later = a.duplicate()  # well-formed, but after the poison in the same complaint: held
    b = Stream(store, kecamatan, datetime(2026, 5, 4, 10, tzinfo=WIB))  # another complaint, after the poison

    with caplog.at_level("WARNING", logger="shared.projection_failures"):
        subs = catch_up(engine, store)

    head = store.last_position()
    with engine.connect() as conn:
        for name, sub in subs.items():
            assert sub.position(conn) == head, name  # past the poison
            failed = rows_of(conn, t.projection_failures, name, a)
            assert set(failed) == {2, 3}, name
            assert failed[2]["held_behind"] is None and failed[2]["attempts"] == 1
            assert failed[2]["event_id"] == poison.event_id and failed[2]["event_type"] == MarkedDuplicate.type
            assert failed[2]["kecamatan"] == kecamatan and failed[2]["error_class"] == "ValidationError"
            assert "duplicate_of" in failed[2]["error"] and NIK not in failed[2]["error"]  # field names, no values
            assert failed[3]["held_behind"] == poison.position and failed[3]["event_id"] == later.event_id
            assert failed[3]["error_class"] is None and failed[3]["attempts"] == 0
            assert rows_of(conn, t.projection_failures, name, b) == {}
        # the other complaint is applied; the poisoned one stays as it was before its poison: open, not a duplicate
        assert complaint(conn, b)["status"] == "in_progress"
        row = complaint(conn, a)
        assert row["status"] == "in_progress" and row["outcome"] is None and row["position"] == a.events[0].position
        assert complaint(conn, a, "service_requests")["position"] == a.events[0].position
        first = rows_of(conn, t.projection_failures, COMPLAINTS, a)[2]

    logged = [
        r for r in caplog.records if r.levelname == "ERROR" and getattr(r, "event_id", None) == str(poison.event_id)
    ]
    assert {r.projection for r in logged} == {COMPLAINTS, REQUESTS}
    assert all(NIK not in r.getMessage() for r in caplog.records)

    # more events, the same running projections: the poison is not met (nor recorded) again
    c = Stream(store, kecamatan, datetime(2026, 5, 4, 11, tzinfo=WIB))
    catch_up(engine, store, subscriptions=subs)
    with engine.connect() as conn:
        assert complaint(conn, c)["status"] == "in_progress"
        again = rows_of(conn, t.projection_failures, COMPLAINTS, a)
        assert again[2]["attempts"] == 1 and again[2]["last_failed_at"] == first["last_failed_at"]

        # the gauges and the status say so
        counted = dict(
            conn.execute(
                text(
                    "SELECT projection, count(*) FROM dashboard.projection_failures WHERE held_behind IS NULL "
                    "AND projection IN (:a, :b) GROUP BY projection"
                ),
                {"a": COMPLAINTS, "b": REQUESTS},
            ).all()
        )
        values = {
            (g.name, g.labels["projection"]): g.value
            for g in gauges(conn)
            if g.name in ("pengaduan_projection_failures", "pengaduan_projection_held_events")
        }
    for name in (COMPLAINTS, REQUESTS):
        assert values[("pengaduan_projection_failures", name)] == counted[name] >= 1
        assert values[("pengaduan_projection_held_events", name)] >= 1
    status = {s["name"]: s for s in projections.status(engine, details=True)}
    listed = [f for f in status[COMPLAINTS]["failures"] if f["event_id"] == poison.event_id]
    assert listed and listed[0]["held"] == 1 and listed[0]["position"] == poison.position
    assert status[COMPLAINTS]["failed"] == counted[COMPLAINTS] and "failures" not in projections.status(engine)[0]

    # the operator's command lists it
    out = subprocess.run(
        [sys.executable, "-m", "pengaduan", "projections", "status"],
        capture_output=True,
        text=True,
        env=env_for(settings),
        timeout=60,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if str(poison.event_id) in x)
    assert f"position {poison.position}" in line and "ValidationError" in line and "1 later events held" in line
    assert NIK not in out


def test_a_constraint_violation_is_set_aside_and_the_batch_goes_on(engine, store, kecamatan):
    """A database error aborts the transaction: the round is rolled back and done again, each event in a savepoint
    that takes it back, so the rest of the batch and the record of the failure are written in the same transaction.
    The constraint is this test's own, on copies of the tables (a duplicate tracking code in the store would stay
    there for every later rebuild)."""
    sub = Subscription(
        engine,
        store,
        ComplaintsProjection(Calendars(KecamatanDirectory(engine))),
        suffix=f"__uji{uuid.uuid4().hex[:6]}",
    )
    sub.create_tables()
    sub.create_indexes()
    table = sub.tables["complaints"].name
    try:
        with engine.begin() as conn:
            conn.execute(
                text(f"ALTER TABLE dashboard.\"{table}\" ADD CONSTRAINT uji_no_kotak CHECK (channel <> 'kotak')")
            )
            sub.checkpoints.set(conn, sub.checkpoint_name, store.last_position())
        e = Stream(store, kecamatan, datetime(2026, 5, 4, 13, tzinfo=WIB))
        f = Stream(store, kecamatan, datetime(2026, 5, 4, 14, tzinfo=WIB), channel="kotak")
        f.duplicate()
        g = Stream(store, kecamatan, datetime(2026, 5, 4, 15, tzinfo=WIB))
        sub.catch_up()
        with engine.connect() as conn:
            failed = rows_of(conn, t.projection_failures, sub.checkpoint_name, f)
            assert set(failed) == {1, 2} and failed[1]["error_class"] == "IntegrityError"
            assert failed[1]["error"] == "IntegrityError: CheckViolation (uji_no_kotak)"
            assert failed[2]["held_behind"] == f.events[0].position
            channels = dict(conn.execute(text(f'SELECT complaint_id, channel FROM dashboard."{table}"')).all())
        assert channels == {e.complaint_id: "web", g.complaint_id: "web"}
    finally:
        sub.drop_tables()
    with engine.connect() as conn:
        assert rows_of(conn, t.projection_failures, sub.checkpoint_name, f) == {}  # the copies' failures went with them


def test_a_bug_fixed_by_a_deploy_the_next_process_applies_the_set_aside_events_in_order(engine, store, kecamatan):
    a = Stream(store, kecamatan, datetime(2026, 5, 5, 9, tzinfo=WIB))
    odd = a.duplicate()
    again = a.duplicate()  # marked a duplicate a second time: held behind the first
    b = Stream(store, kecamatan, datetime(2026, 5, 5, 10, tzinfo=WIB))
    calendars = Calendars(KecamatanDirectory(engine))
    buggy = Subscription(engine, store, BuggyComplaints(calendars, {odd.event_id}))
    buggy.catch_up()
    with engine.connect() as conn:
        failed = rows_of(conn, t.projection_failures, COMPLAINTS, a)
        assert set(failed) == {2, 3} and failed[2]["error_class"] == "ValueError"
        assert "a bug meets an odd event" in failed[2]["error"] and failed[3]["held_behind"] == odd.position
        assert complaint(conn, a)["status"] == "in_progress" and complaint(conn, b) is not None

    # the fixed release starts: its first round applies the set-aside event, then goes on from the checkpoint
    fixed = Subscription(engine, store, ComplaintsProjection(calendars))
    fixed.catch_up()
    assert not fixed.retry_pending
    with engine.connect() as conn:
        assert rows_of(conn, t.projection_failures, COMPLAINTS, a) == {}
        row = complaint(conn, a)
        assert row["status"] == "closed" and row["outcome"] == "duplicate" and row["position"] == again.position


def test_a_transient_error_sets_nothing_aside_and_the_round_is_retried(engine, store, kecamatan, settings):
    """A lock held on the complaints table outlasts the round's statement timeout: PostgreSQL cancels the statement
    (SQLSTATE 57014, an OperationalError), as it does on a lock timeout or a serialization failure. The round fails
    as before, nothing is set aside, the checkpoint stays; once the lock is gone the next round applies it. (A table
    lock, which takes no transaction id: a row lock would hold every event reader back while it is held, ADR 0027,
    and the round would read nothing rather than fail.)"""
    d = Stream(store, kecamatan, datetime(2026, 5, 6, 9, tzinfo=WIB))
    calendars = Calendars(KecamatanDirectory(engine))
    catch_up(engine, store, names=(COMPLAINTS,))
    closing = d.duplicate()
    timed = make_engine(settings, pool_size=1, statement_timeout=1.0)
    sub = Subscription(timed, store, ComplaintsProjection(calendars))
    before = sub.position()
    try:
        with engine.connect() as locker:
            locker.execute(text("LOCK TABLE dashboard.complaints IN SHARE MODE"))  # writes wait
            with pytest.raises(OperationalError) as failed:
                sub.catch_up()
            assert failed.value.orig.sqlstate == "57014" and transient(failed.value)  # query_canceled
            with engine.connect() as conn:
                assert rows_of(conn, t.projection_failures, COMPLAINTS, d) == {}
            assert sub.position() == before < closing.position
            locker.rollback()
        sub.catch_up()
    finally:
        timed.dispose()
    with engine.connect() as conn:
        assert rows_of(conn, t.projection_failures, COMPLAINTS, d) == {}
        assert complaint(conn, d)["outcome"] == "duplicate"


def test_a_rebuild_clears_what_it_applied_and_keeps_what_fails_again(engine, store, kecamatan):
    calendars = Calendars(KecamatanDirectory(engine))
    p = Stream(store, kecamatan, datetime(2026, 5, 7, 9, tzinfo=WIB))  # a payload no release decodes
    poison = p.broken()
    p.duplicate()
    q = Stream(store, kecamatan, datetime(2026, 5, 7, 10, tzinfo=WIB))  # met by the bug, applied by the rebuild
    odd = q.duplicate()
    r = Stream(store, kecamatan, datetime(2026, 5, 7, 11, tzinfo=WIB))  # open: held in memory while rebuilding
    Subscription(engine, store, BuggyComplaints(calendars, {odd.event_id})).catch_up()
    with engine.connect() as conn:
        assert set(rows_of(conn, t.projection_failures, COMPLAINTS, q)) == {2}
        first = rows_of(conn, t.projection_failures, COMPLAINTS, p)[2]

    report = rebuild_projection(engine, store, ComplaintsProjection(calendars), batch_size=200)
    assert report.position >= r.events[0].position
    with engine.connect() as conn:
        assert rows_of(conn, t.projection_failures, COMPLAINTS, q) == {}
        assert complaint(conn, q)["outcome"] == "duplicate" and complaint(conn, q)["position"] == odd.position
        kept = rows_of(conn, t.projection_failures, COMPLAINTS, p)
        assert set(kept) == {2, 3} and kept[3]["held_behind"] == poison.position
        assert kept[2]["first_failed_at"] == first["first_failed_at"] and kept[2]["attempts"] == first["attempts"] + 1
        assert complaint(conn, p)["status"] == "in_progress" and complaint(conn, p)["position"] == p.events[0].position
        assert complaint(conn, r)["status"] == "in_progress" and complaint(conn, r)["position"] == r.events[0].position
        assert (
            conn.execute(
                text("SELECT count(*) FROM dashboard.projection_failures WHERE projection LIKE '%\\_\\_next'")
            ).scalar_one()
            == 0
        )


def test_an_event_that_fails_in_the_rebuilds_swap_rolls_the_swap_back_and_it_is_done_again_carefully(
    engine, store, kecamatan, caplog
):
    """The swap applies the events that arrived during the rebuild in its one transaction, without a savepoint: a
    batch that fails there rolls the whole swap back (nothing swapped), and it is done again at once, that batch one
    event at a time; the event is set aside for the live projection."""
    calendars = Calendars(KecamatanDirectory(engine))
    s = Stream(store, kecamatan, datetime(2026, 5, 7, 13, tzinfo=WIB))
    arrived: list[EventEnvelope] = []

    def meanwhile() -> None:  # between the catch-up and the swap
        arrived.append(s.broken())
        arrived.append(s.duplicate())
        arrived.append(Stream(store, kecamatan, datetime(2026, 5, 7, 14, tzinfo=WIB)).events[0])

    with caplog.at_level("WARNING", logger="shared.projection_failures"):
        report = rebuild_projection(
            engine, store, ComplaintsProjection(calendars), batch_size=200, on_caught_up=meanwhile
        )
    poison, later, other = arrived
    assert report.caught_up_in_swap >= 3 and report.position >= other.position
    assert any("rolled back and done again" in r.getMessage() for r in caplog.records)
    with engine.connect() as conn:
        kept = rows_of(conn, t.projection_failures, COMPLAINTS, s)
        assert set(kept) == {2, 3} and kept[2]["error_class"] == "ValidationError" and kept[2]["attempts"] == 1
        assert kept[3]["held_behind"] == poison.position and kept[3]["event_id"] == later.event_id
        assert complaint(conn, s)["position"] == s.events[0].position
        assert (
            conn.execute(
                text("SELECT status FROM dashboard.complaints WHERE position = :p"), {"p": other.position}
            ).scalar_one()
            == "in_progress"
        )


# -- intake's tracking projection --------------------------------------------------------------------------------
class BuggyTracking(TrackingProjection):
    def __init__(self, engine, store, odd: set[uuid.UUID]) -> None:
        super().__init__(engine, store)
        self.odd = odd

    def apply(self, conn: Connection, event: EventEnvelope) -> None:
        if event.event_id in self.odd:
            raise ValueError("a bug meets an odd event")
        super().apply(conn, event)


def run(projection: TrackingProjection) -> None:
    while projection.round().more:
        pass


def tracked(conn: Connection, stream: Stream) -> dict | None:
    row = conn.execute(select(tracking).where(tracking.c.complaint_id == stream.complaint_id)).mappings().first()
    return dict(row) if row else None


def test_the_tracking_projection_sets_aside_and_retries_as_well(engine, store, kecamatan):
    a = Stream(store, kecamatan, datetime(2026, 5, 8, 9, tzinfo=WIB))
    poison = a.broken()
    a.duplicate()
    b = Stream(store, kecamatan, datetime(2026, 5, 8, 10, tzinfo=WIB))
    odd = b.duplicate()
    c = Stream(store, kecamatan, datetime(2026, 5, 8, 11, tzinfo=WIB))
    name = TrackingProjection.name

    run(BuggyTracking(engine, store, {odd.event_id}))
    with engine.connect() as conn:
        failed = rows_of(conn, projection_failures, name, a)
        assert set(failed) == {2, 3} and failed[2]["error_class"] == "ValidationError"
        assert failed[3]["held_behind"] == poison.position
        assert set(rows_of(conn, projection_failures, name, b)) == {2}
        assert tracked(conn, a)["status"] == tracked(conn, b)["status"] == "in_progress"
        assert tracked(conn, c)["status"] == "in_progress"

    run(TrackingProjection(engine, store))  # the fixed release: b's event applies, a's payload still does not
    with engine.connect() as conn:
        assert rows_of(conn, projection_failures, name, b) == {}
        assert tracked(conn, b)["outcome"] == "duplicate" and tracked(conn, b)["position"] == odd.position
        again = rows_of(conn, projection_failures, name, a)
        assert set(again) == {2, 3} and again[2]["attempts"] == 2 and again[3]["held_behind"] == poison.position
        assert tracked(conn, a)["status"] == "in_progress"
    # intake's scrape-time gauges report it (the intake API's /metrics carries them)
    from services.intake.adapters.gauges import gauges as intake_gauges

    with engine.connect() as conn:
        reported = {(g.name, g.labels.get("projection")): g.value for g in intake_gauges(conn)}
    assert reported[("pengaduan_projection_failures", name)] >= 1
    assert reported[("pengaduan_projection_held_events", name)] >= 1


def test_the_tracking_projection_holds_a_stream_another_process_parked_between_its_rounds(engine, store, kecamatan):
    """The parked streams are read with the checkpoint by every round (``shared.projection_failures.claim``), not
    kept from an earlier one: a stream parked by someone else since is held."""
    projection = TrackingProjection(engine, store)
    run(projection)  # the first round (retrying what other tests set aside) is behind us
    a = Stream(store, kecamatan, datetime(2026, 5, 8, 13, tzinfo=WIB))
    run(projection)
    received = a.events[0]
    with engine.begin() as other:
        other.execute(
            insert(projection_failures).values(
                projection=TrackingProjection.name,
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
    later = a.duplicate()
    run(projection)
    with engine.connect() as conn:
        held = rows_of(conn, projection_failures, TrackingProjection.name, a)
        assert set(held) == {1, 2} and held[2]["held_behind"] == received.position
        assert held[2]["event_id"] == later.event_id
        assert tracked(conn, a)["status"] == "in_progress" and tracked(conn, a)["position"] == received.position
    run(TrackingProjection(engine, store))  # the next start applies them, in order
    with engine.connect() as conn:
        assert rows_of(conn, projection_failures, TrackingProjection.name, a) == {}
        assert tracked(conn, a)["outcome"] == "duplicate" and tracked(conn, a)["position"] == later.position
