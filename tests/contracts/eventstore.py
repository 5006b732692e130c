"""The contract every event-store implementation must pass (in-memory and PostgreSQL).

Subclass ``EventStoreContract`` and provide a ``store`` fixture.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest

from shared.events import Actor, EventEnvelope
from shared.eventstore import ConcurrencyError, DuplicateEventError


def make_event(
    stream: str, version: int, kecamatan: str = "pegantenan", type_: str = "test.Happened", **payload
) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid.uuid4(),
        stream_id=stream,
        version=version,
        kecamatan=kecamatan,
        type=type_,
        schema_version=1,
        occurred_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        actor=Actor(kind="user", user_id="staf.pegantenan", role="staf"),
        correlation_id=uuid.uuid4(),
        payload=payload or {"n": version},
    )


def new_stream() -> str:
    return f"test-{uuid.uuid4()}"


class EventStoreContract:
    def test_append_then_read_stream_in_version_order(self, store):
        stream = new_stream()
        store.append(stream, 0, [make_event(stream, 1), make_event(stream, 2)])
        store.append(stream, 2, [make_event(stream, 3)])
        events = store.read_stream(stream)
        assert [e.version for e in events] == [1, 2, 3]
        assert [e.payload["n"] for e in events] == [1, 2, 3]
        assert all(e.position is not None and e.recorded_at is not None for e in events)
        assert store.stream_version(stream) == 3

    def test_read_stream_to_gives_an_events_stream_up_to_and_including_it(self, store):
        a, b = new_stream(), new_stream()
        a_events = [make_event(a, v) for v in (1, 2, 3)]
        b_events = [make_event(b, v) for v in (1, 2)]
        store.append(a, 0, a_events)
        store.append(b, 0, b_events)
        assert [e.event_id for e in store.read_stream_to(a_events[1].event_id)] == [e.event_id for e in a_events[:2]]
        assert [e.event_id for e in store.read_stream_to(b_events[0].event_id)] == [b_events[0].event_id]
        assert [e.event_id for e in store.read_stream_to(a_events[2].event_id)] == [e.event_id for e in a_events]
        assert store.read_stream_to(uuid.uuid4()) == []

    def test_stale_expected_version_is_a_conflict_and_writes_nothing(self, store):
        stream = new_stream()
        store.append(stream, 0, [make_event(stream, 1)])
        with pytest.raises(ConcurrencyError) as info:
            store.append(stream, 0, [make_event(stream, 1, n="other")])
        assert (info.value.expected, info.value.actual) == (0, 1)
        assert [e.payload["n"] for e in store.read_stream(stream)] == [1]

    def test_expected_version_ahead_of_stream_is_a_conflict(self, store):
        stream = new_stream()
        with pytest.raises(ConcurrencyError):
            store.append(stream, 3, [make_event(stream, 4)])
        assert store.read_stream(stream) == []

    def test_same_event_id_twice_is_refused(self, store):
        stream = new_stream()
        first = make_event(stream, 1)
        store.append(stream, 0, [first])
        again = first.model_copy(update={"version": 2})
        with pytest.raises(DuplicateEventError):
            store.append(stream, 1, [again])
        assert store.stream_version(stream) == 1

    def test_events_must_follow_the_expected_version(self, store):
        stream = new_stream()
        with pytest.raises(ValueError):
            store.append(stream, 0, [make_event(stream, 2)])

    def test_read_all_after_position_is_ordered_and_paged(self, store):
        start = store.last_position()
        streams = [new_stream() for _ in range(3)]
        for s in streams:
            store.append(s, 0, [make_event(s, 1), make_event(s, 2)])
        first = store.read_all(after=start, limit=4)
        rest = store.read_all(after=first[-1].position, limit=100)
        mine = [e for e in first + rest if e.stream_id in streams]
        assert len(mine) == 6
        positions = [e.position for e in first + rest]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)

    def test_concurrent_appends_to_one_stream_exactly_one_wins(self, store):
        stream = new_stream()
        store.append(stream, 0, [make_event(stream, 1)])
        results: list[str] = []
        barrier = threading.Barrier(8)

        def writer(i: int) -> None:
            barrier.wait()
            try:
                store.append(stream, 1, [make_event(stream, 2, n=f"w{i}")])
                results.append("ok")
            except ConcurrencyError:
                results.append("conflict")

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == ["conflict"] * 7 + ["ok"]
        assert [e.version for e in store.read_stream(stream)] == [1, 2]
