"""The settled position on a database of its own (migration 0030, docs/adr/0027): a sequence never used, the feed's
cursor on an empty store, the next transaction id found in a few probes, and a sequence that goes back (a restore
under a running process)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from services.dashboard.adapters.event_feed import read_page
from shared.eventstore.postgres import PostgresEventStore
from tests.contracts.eventstore import make_event, new_stream
from tests.integration.test_migration_organisation import alembic, scratch_url  # noqa: F401 (a fixture)


def test_an_empty_store_settles_nothing_and_the_feed_does_not_pass_the_first_position(scratch_url):
    command.upgrade(alembic(scratch_url), "head")
    engine = create_engine(scratch_url)
    try:
        with engine.connect() as conn:
            # a sequence never used shows its first value (1) with is_called false: not drawn
            assert conn.execute(text("SELECT last_value, is_called FROM workflow.events_position_seq")).one() == (
                1,
                False,
            )
            last_drawn, _next = conn.execute(
                text("SELECT * FROM workflow.events_horizon(pg_snapshot_xmax(pg_current_snapshot()))")
            ).one()
            assert last_drawn == 0
        store = PostgresEventStore(engine)
        page = read_page(engine, 0, 100, None, store)
        assert (page.events, page.next_after) == ([], 0)  # before the fix: next_after 1, and event 1 never read
        stream = new_stream()
        store.append(stream, 0, [make_event(stream, 1)])
        page = read_page(engine, page.next_after, 100, None, store)
        assert [(e.stream_id, e.position) for e in page.events] == [(stream, 1)]
    finally:
        engine.dispose()


def test_the_next_id_is_found_past_many_taken_since_the_latest_completion_and_never_below_it(scratch_url):
    """Ids taken and not completed (here: one open transaction with many subtransaction ids) lie above the snapshot's
    xmax, unlisted; the probe finds the next id above them all."""
    command.upgrade(alembic(scratch_url), "head")
    engine = create_engine(scratch_url)
    try:
        with engine.connect() as holder, engine.connect() as reader:
            holder.execute(text("CREATE TABLE public.scratch (n int)"))
            holder.commit()
            tx = holder.begin()
            for n in range(300):  # each savepoint that writes takes an id of its own
                sp = holder.begin_nested()
                holder.execute(text("INSERT INTO public.scratch VALUES (:n)"), {"n": n})
                sp.commit()
            xmax, found = reader.execute(
                text(
                    "SELECT pg_snapshot_xmax(s)::text::bigint, h.next_xid "
                    "FROM pg_current_snapshot() AS s, workflow.events_horizon(pg_snapshot_xmax(s)) AS h"
                )
            ).one()
            reader.rollback()
            latest = holder.execute(text("SELECT pg_current_xact_id()::text::bigint")).scalar_one()
            assert found > latest and found >= xmax + 300
            tx.rollback()
            reader.execute(text("SELECT 1")).scalar_one()  # the reader took no id of its own
            assert reader.execute(text("SELECT pg_current_xact_id_if_assigned()")).scalar_one() is None
    finally:
        engine.dispose()


def test_a_sequence_that_goes_back_makes_the_store_observe_anew(scratch_url):
    """A database restored under a running process can start its positions below what the process had seen: the
    settled position is forgotten, not kept (which would let a reader pass a slow writer's event)."""
    command.upgrade(alembic(scratch_url), "head")
    engine = create_engine(scratch_url)
    try:
        store = PostgresEventStore(engine)
        stream = new_stream()
        store.append(stream, 0, [make_event(stream, v) for v in range(1, 21)])
        assert len(store.read_all(after=0, limit=100)) == 20
        assert store.horizon.settled == 20
        with engine.begin() as conn:
            conn.execute(text("SELECT setval('workflow.events_position_seq', 5)"))
        with engine.connect() as conn:
            assert store.settled(conn, 5) <= 5
        assert store.horizon.drawn == 5
    finally:
        engine.dispose()
