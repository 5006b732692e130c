"""The PostgreSQL event store: the shared contract, commit order, immutability, a concurrent soak."""

from __future__ import annotations

import random
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.eventstore.postgres import PostgresEventStore
from tests.contracts.eventstore import EventStoreContract, make_event, new_stream
from tests.support.processes import wait_until


@pytest.fixture
def store(engine) -> PostgresEventStore:
    return PostgresEventStore(engine)


class TestPostgresEventStore(EventStoreContract):
    pass


def test_rows_can_be_neither_updated_nor_deleted_nor_truncated(store, engine):
    stream = new_stream()
    store.append(stream, 0, [make_event(stream, 1)])
    for sql in (
        "UPDATE workflow.events SET payload = '{}' WHERE stream_id = :s",
        "DELETE FROM workflow.events WHERE stream_id = :s",
        "TRUNCATE workflow.events",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql), {"s": stream})
    assert [e.payload for e in store.read_stream(stream)] == [{"n": 1}]


def test_out_of_order_commit_never_skips_the_slower_transaction(store, engine):
    """Writer A appends and holds its transaction open; writer B appends and tries to commit; a reader
    polls; A commits; the reader polls again: A's event is delivered, exactly once, before B's."""
    start = store.last_position()
    stream_a, stream_b = new_stream(), new_stream()
    seen: list = []

    def poll() -> None:
        batch = store.read_all(after=seen[-1].position if seen else start, limit=1000)
        seen.extend(e for e in batch if e.stream_id in (stream_a, stream_b))

    conn_a = engine.connect()
    tx_a = conn_a.begin()
    a_pid = conn_a.execute(text("SELECT pg_backend_pid()")).scalar_one()
    store.append(stream_a, 0, [make_event(stream_a, 1)], conn=conn_a)  # A: inserted, not committed

    b_done = threading.Event()

    def writer_b() -> None:
        store.append(stream_b, 0, [make_event(stream_b, 1)])
        b_done.set()

    tb = threading.Thread(target=writer_b)
    tb.start()

    def b_waits_for_a() -> bool:
        with engine.connect() as conn:
            return (
                conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE :a = ANY(pg_blocking_pids(pid))"), {"a": a_pid}
                ).scalar_one()
                > 0
            )

    # B is in its append, waiting for A (were appends not ordered, B would be done: the asserts below say so)
    wait_until(lambda: b_done.is_set() or b_waits_for_a(), timeout=10, interval=0.02, message="B to reach its append")
    poll()
    assert seen == [], "nothing may be visible while A, which came first, is uncommitted"
    assert not b_done.is_set(), "B cannot commit ahead of A: positions are handed out in commit order"

    tx_a.commit()
    conn_a.close()
    tb.join(timeout=10)
    assert b_done.is_set()
    poll()
    poll()  # polling again delivers nothing twice
    assert [e.stream_id for e in seen] == [stream_a, stream_b]
    assert seen[0].position < seen[1].position


def test_rolled_back_append_leaves_nothing_and_does_not_block_readers(store, engine):
    stream = new_stream()
    with pytest.raises(RuntimeError), engine.begin() as conn:  # noqa: PT012
        store.append(stream, 0, [make_event(stream, 1)], conn=conn)
        raise RuntimeError("the unit of work failed after appending")
    assert store.read_stream(stream) == []
    store.append(stream, 0, [make_event(stream, 1)])
    assert store.stream_version(stream) == 1


def test_concurrent_append_soak_tailing_reader_sees_every_event_once_in_order(store):
    """16 writers append to shared streams while a reader tails by position: the delivered set equals the
    committed set, no duplicates, and each stream's versions arrive in order."""
    start = store.last_position()
    streams = [new_stream() for _ in range(24)]
    committed: set = set()
    committed_lock = threading.Lock()
    stop_reader = threading.Event()
    delivered: list = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(40):
            s = rng.choice(streams)
            for _attempt in range(50):
                version = store.stream_version(s)
                event = make_event(s, version + 1, n=seed)
                try:
                    store.append(s, version, [event])
                except Exception as exc:  # a lost race: re-read the version and retry
                    if type(exc).__name__ != "ConcurrencyError":
                        raise
                    continue
                with committed_lock:
                    committed.add(event.event_id)
                break

    def reader() -> None:
        position = start
        while True:
            finished = stop_reader.is_set()
            batch = store.read_all(after=position, limit=200)
            for e in batch:
                if e.stream_id in streams:
                    delivered.append(e)
                position = e.position
            if finished and not batch:
                return
            if not batch:
                time.sleep(0.005)

    r = threading.Thread(target=reader)
    r.start()
    writers = [threading.Thread(target=writer, args=(i,)) for i in range(16)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    stop_reader.set()
    r.join(timeout=60)

    ids = [e.event_id for e in delivered]
    assert len(committed) == 16 * 40
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    assert set(ids) == committed
    for s in streams:
        versions = [e.version for e in delivered if e.stream_id == s]
        assert versions == list(range(1, len(versions) + 1))


def test_reading_only_some_types_still_reports_how_far_it_read(store, engine):
    stream = new_stream()
    types = ["test.Wanted", "test.Noise", "test.Noise", "test.Wanted", "test.Noise"]
    positions = store.append(stream, 0, [make_event(stream, i + 1, type_=t) for i, t in enumerate(types)])
    before = positions[0] - 1
    with engine.connect() as conn:
        wanted, last, read = store.read_all_of_types(before, 3, {"test.Wanted"}, conn)
        assert read == 3 and last == positions[2]  # the two Noise events were read past, not returned
        assert [(e.type, e.position) for e in wanted] == [("test.Wanted", positions[0])]
        wanted, last, read = store.read_all_of_types(last, 1000, {"test.Wanted"}, conn)
        assert [e.position for e in wanted if e.stream_id == stream] == [positions[3]]
        assert read >= 2 and last >= positions[4]
        assert store.read_all_of_types(last, 1000, {"test.Wanted"}, conn) == ([], last, 0)
