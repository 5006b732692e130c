"""The PostgreSQL event store: the shared contract, commit order, immutability, a concurrent soak."""

from __future__ import annotations

import random
import threading
import time

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.eventstore.postgres import PostgresEventStore
from tests.contracts.eventstore import EventStoreContract, make_event, new_stream


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
    """Writer A appends and holds its transaction open; writer B appends after it and commits (appends do not
    wait for each other); a reader polls: nothing, since A drew the lower position and may still commit; A
    commits; the reader polls again: A's event, then B's, each exactly once."""
    start = store.last_position()
    stream_a, stream_b = new_stream(), new_stream()
    seen: list = []

    def poll() -> None:
        batch = store.read_all(after=seen[-1].position if seen else start, limit=1000)
        seen.extend(e for e in batch if e.stream_id in (stream_a, stream_b))

    conn_a = engine.connect()
    tx_a = conn_a.begin()
    store.append(stream_a, 0, [make_event(stream_a, 1)], conn=conn_a)  # A: inserted, not committed
    store.append(stream_b, 0, [make_event(stream_b, 1)])  # B: committed, at a higher position, without waiting
    assert [e.stream_id for e in store.read_stream(stream_b)] == [stream_b]

    poll()
    assert seen == [], "nothing past A's position may be read while A, which drew it first, is uncommitted"
    poll()
    assert seen == []
    with engine.connect() as conn:  # the feed's bound says the same
        assert store.settled(conn, start) < max(e.position for e in store.read_stream(stream_b))

    tx_a.commit()
    conn_a.close()
    poll()
    poll()  # polling again delivers nothing twice
    assert [e.stream_id for e in seen] == [stream_a, stream_b]
    assert seen[0].position < seen[1].position


def test_a_rolled_back_append_is_a_hole_that_holds_nobody_back(store, engine):
    start = store.last_position()
    stream_a, stream_b = new_stream(), new_stream()
    conn_a = engine.connect()
    tx_a = conn_a.begin()
    store.append(stream_a, 0, [make_event(stream_a, 1)], conn=conn_a)
    store.append(stream_b, 0, [make_event(stream_b, 1)])
    assert [e for e in store.read_all(after=start) if e.stream_id in (stream_a, stream_b)] == []
    tx_a.rollback()
    conn_a.close()
    read = [e.stream_id for e in store.read_all(after=start) if e.stream_id in (stream_a, stream_b)]
    assert read == [stream_b]


def test_appends_do_not_wait_for_each_other(store, engine):
    """Two transactions append at once and both commit while each is open: no lock orders them."""
    stream_a, stream_b = new_stream(), new_stream()
    with engine.connect() as conn_a, engine.connect() as conn_b:
        tx_a, tx_b = conn_a.begin(), conn_b.begin()
        store.append(stream_a, 0, [make_event(stream_a, 1)], conn=conn_a)
        store.append(stream_b, 0, [make_event(stream_b, 1)], conn=conn_b)  # would wait here behind one lock
        tx_b.commit()
        tx_a.commit()
    assert store.stream_version(stream_a) == store.stream_version(stream_b) == 1


def test_every_append_takes_a_transaction_id_before_it_draws_a_position(engine):
    """What the settled position rests on (migration 0030): the statement trigger, and a sequence that hands
    out one value at a time."""
    with engine.connect() as conn:
        triggers = conn.execute(
            text(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'workflow.events'::regclass AND NOT tgisinternal "
                "AND tgtype & 2 = 2"  # BEFORE
            )
        ).scalars()
        assert "events_take_xact_id" in set(triggers)
        cache = conn.execute(
            text("SELECT cache_size FROM pg_sequences WHERE schemaname = 'workflow' AND sequencename = :s"),
            {"s": "events_position_seq"},
        ).scalar_one()
        assert cache == 1


def test_a_reader_in_a_repeatable_read_transaction_is_refused(store, engine):
    with (
        engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
        pytest.raises(RuntimeError, match="READ COMMITTED"),
    ):
        store.read_all(after=0, limit=1, conn=conn)


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
        # none of the batch wanted: nothing returned, but how far it read all the same (the checkpoint moves on)
        assert store.read_all_of_types(before, 3, {"test.Absent"}, conn) == ([], positions[2], 3)
        assert store.read_all_of_types(positions[0], 2, set(), conn) == ([], positions[2], 2)
        wanted, last, read = store.read_all_of_types(last, 1000, {"test.Wanted"}, conn)
        assert [e.position for e in wanted if e.stream_id == stream] == [positions[3]]
        assert read >= 2 and last >= positions[4]
        assert store.read_all_of_types(last, 1000, {"test.Wanted"}, conn) == ([], last, 0)


@pytest.mark.parametrize("seed", [1, 2])
def test_many_writers_with_slow_commits_and_rollbacks_every_reader_sees_every_position_once(engine, seed):
    """The property the settled position gives, under stress: 12 writers append 1-3 events per transaction, each
    holding its transaction open for a random while after the append (so commits come out of position order),
    a fifth of them rolling back; three readers tail the store while they run (two sharing one store and its
    settled position, one on a store of its own, one reading only some types). Each reader sees exactly the
    committed events, each once, in strictly increasing positions; none sees a rolled-back one."""
    rng = random.Random(seed)
    shared, own = PostgresEventStore(engine), PostgresEventStore(engine)
    start = shared.last_position()
    committed: set = set()
    rolled_back: set = set()
    book = threading.Lock()
    stop = threading.Event()
    plans = [[(rng.randint(1, 3), rng.random() * 0.02, rng.random() < 0.2) for _ in range(30)] for _ in range(12)]

    def writer(plan: list) -> None:
        stream = new_stream()
        version = 0
        for size, hold, rollback in plan:
            batch = [make_event(stream, version + i + 1, type_=rng_type(version + i)) for i in range(size)]
            with engine.connect() as conn:
                tx = conn.begin()
                shared.append(stream, version, batch, conn=conn)
                time.sleep(hold)  # the commit comes later than others' drawn after it
                if rollback:
                    tx.rollback()
                else:
                    tx.commit()
                    version += size
            with book:
                (rolled_back if rollback else committed).update(e.event_id for e in batch)

    def rng_type(n: int) -> str:
        return "test.Wanted" if n % 2 == 0 else "test.Noise"

    seen: dict[str, list] = {"a": [], "b": [], "own": [], "typed": []}
    final: list[int] = []

    def reader(name: str, store: PostgresEventStore) -> None:
        position = start
        while True:
            finished = stop.is_set()
            batch = store.read_all(after=position, limit=50)
            for e in batch:
                assert e.position > position
                position = e.position
                seen[name].append(e)
            if finished and not batch:
                with engine.connect() as conn:
                    if store.settled(conn, position) >= final[0]:
                        return

    def typed_reader() -> None:
        position = start
        while True:
            finished = stop.is_set()
            with engine.connect() as conn:
                batch, last, read = own.read_all_of_types(position, 50, {"test.Wanted"}, conn)
            assert all(position < e.position <= last for e in batch)
            seen["typed"].extend(batch)
            position = last
            if finished and not read:
                with engine.connect() as conn:
                    if own.settled(conn, position) >= final[0]:
                        return

    readers = [
        threading.Thread(target=reader, args=("a", shared)),
        threading.Thread(target=reader, args=("b", shared)),
        threading.Thread(target=reader, args=("own", own)),
        threading.Thread(target=typed_reader),
    ]
    writers = [threading.Thread(target=writer, args=(plan,)) for plan in plans]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    with engine.connect() as conn:  # every position the writers drew; the readers stop once past it
        final.append(conn.execute(text("SELECT last_value FROM workflow.events_position_seq")).scalar_one())
    stop.set()
    for t in readers:
        t.join(timeout=60)
        assert not t.is_alive()

    assert committed and rolled_back
    for name in ("a", "b", "own"):
        ids = [e.event_id for e in seen[name] if e.event_id in committed | rolled_back]
        assert len(ids) == len(set(ids)), f"reader {name} saw an event twice"
        assert set(ids) == committed, f"reader {name} missed or invented events"
        positions = [e.position for e in seen[name]]
        assert positions == sorted(set(positions))
    typed = [e.event_id for e in seen["typed"] if e.event_id in committed | rolled_back]
    wanted = {e.event_id for e in seen["a"] if e.type == "test.Wanted" and e.event_id in committed}
    assert len(typed) == len(set(typed)) and set(typed) == wanted


def test_a_reader_holding_a_transaction_id_reads_on_and_its_own_uncommitted_events_stay_its_own(store, engine):
    """A round that wrote before it reads (a projection applying set-aside events) holds a transaction id: on a
    store that has seen nothing yet it still reads what others committed, and its own appends, visible to it
    alone, are not taken for settled by the store's other readers."""
    done = new_stream()
    store.append(done, 0, [make_event(done, 1)])
    fresh = PostgresEventStore(engine)  # nothing observed yet
    mine = new_stream()
    with engine.connect() as conn:
        tx = conn.begin()
        fresh.append(mine, 0, [make_event(mine, 1)], conn=conn)  # this transaction now holds an id
        own_view = [e.stream_id for e in fresh.read_all(after=0, limit=1_000_000, conn=conn)]
        assert done in own_view and mine in own_view
        # another reader: nothing past this transaction's position (a store that had looked before it drew
        # would still read up to there; this one has only seen positions drawn since)
        others_view = [e.stream_id for e in fresh.read_all(after=0, limit=1_000_000)]
        assert mine not in others_view
        tx.rollback()
    assert mine not in [e.stream_id for e in fresh.read_all(after=0, limit=1_000_000)]
    assert done in [e.stream_id for e in fresh.read_all(after=0, limit=1_000_000)]
    warm, other = PostgresEventStore(engine), new_stream()
    warm.read_all(after=0, limit=1)  # observed before the next transaction draws
    warm.read_all(after=0, limit=1)
    with engine.connect() as conn:
        tx = conn.begin()
        warm.append(other, 0, [make_event(other, 1)], conn=conn)
        others_view = [e.stream_id for e in warm.read_all(after=0, limit=1_000_000)]
        assert done in others_view and other not in others_view
        tx.rollback()


def test_subscribers_are_woken_after_the_commit_and_no_notify_rides_in_the_appending_transaction(store, engine):
    """The NOTIFY left the appending transaction (a notifying commit holds a database-wide lock through its fsync):
    ``append`` wakes the listeners after its own commit, the workflow's unit of work after its commit, and a
    transaction that appends and rolls back wakes nobody."""
    from services.workflow.adapters.postgres import PostgresUnitOfWork
    from shared.db import libpq_url
    from shared.eventstore.postgres import NOTIFY_CHANNEL

    def notified(timeout: float) -> int:
        return sum(1 for _ in listener.notifies(timeout=timeout, stop_after=1))

    url = libpq_url(engine.url.render_as_string(hide_password=False))
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        with engine.connect() as conn:
            triggers = conn.execute(
                text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'workflow.events'::regclass AND NOT tgisinternal")
            ).scalars()
            assert "events_notify" not in set(triggers)

        stream = new_stream()
        store.append(stream, 0, [make_event(stream, 1)])
        assert notified(5) == 1

        with engine.connect() as conn, conn.begin() as tx:
            store.append(stream, 1, [make_event(stream, 2)], conn=conn)
            tx.rollback()
        assert notified(0.5) == 0

        with PostgresUnitOfWork(engine, store) as uow:
            uow.events.append(stream, 1, [make_event(stream, 2)])
            assert notified(0.3) == 0  # not before the commit
            uow.commit()
        assert notified(5) == 1
        assert store.stream_version(stream) == 2


def test_readers_held_back_by_a_long_transaction_name_it(store, engine, monkeypatch, caplog):
    """A transaction holding an id holds every reader back; once the oldest unsettled observation is older than
    HELD_BACK_WARNING, the reader says which transactions hold ids (pid, application, query), once per period."""
    from shared.eventstore import postgres

    monkeypatch.setattr(postgres, "HELD_BACK_WARNING", 0.3)
    start = store.last_position()
    stream = new_stream()
    with engine.connect() as holder:
        holder.execute(text("SET application_name = 'a-long-report'"))
        holder.commit()
        tx = holder.begin()
        holder.execute(text("SELECT pg_current_xact_id()"))  # holds an id, appends nothing
        pid = holder.execute(text("SELECT pg_backend_pid()")).scalar_one()
        store.append(stream, 0, [make_event(stream, 1)])  # committed, drawn after the holder took its id
        with caplog.at_level("WARNING", logger="shared.eventstore.postgres"):
            assert [e for e in store.read_all(after=start) if e.stream_id == stream] == []
            time.sleep(0.4)
            assert [e for e in store.read_all(after=start) if e.stream_id == stream] == []
        tx.rollback()
    warned = [r.getMessage() for r in caplog.records if "held back" in r.getMessage()]
    assert len(warned) == 1 and f"pid {pid}" in warned[0] and "a-long-report" in warned[0]
    assert [e.stream_id for e in store.read_all(after=start) if e.stream_id == stream] == [stream]
