"""An in-memory event store for unit tests; passes the same contract suite as PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from shared.events import EventEnvelope
from shared.eventstore.port import ConcurrencyError, DuplicateEventError


class InMemoryEventStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._log: list[EventEnvelope] = []
        self._ids: set = set()

    def append(self, stream_id: str, expected_version: int, events: Sequence[EventEnvelope]) -> list[int]:
        with self._lock:
            actual = self._version(stream_id)
            if actual != expected_version:
                raise ConcurrencyError(stream_id, expected_version, actual)
            if any(e.event_id in self._ids for e in events):
                raise DuplicateEventError(stream_id)
            positions = []
            now = datetime.now(UTC)
            for offset, event in enumerate(events, start=1):
                if event.stream_id != stream_id or event.version != expected_version + offset:
                    raise ValueError("event stream or version does not follow the expected version")
                position = len(self._log) + 1
                self._log.append(event.model_copy(update={"position": position, "recorded_at": now}))
                self._ids.add(event.event_id)
                positions.append(position)
            return positions

    def _version(self, stream_id: str) -> int:
        return max((e.version for e in self._log if e.stream_id == stream_id), default=0)

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[EventEnvelope]:
        with self._lock:
            return [e for e in self._log if e.stream_id == stream_id and e.version > after_version]

    def read_stream_to(self, event_id: UUID) -> list[EventEnvelope]:
        with self._lock:
            event = next((e for e in self._log if e.event_id == event_id), None)
            if event is None:
                return []
            return [e for e in self._log if e.stream_id == event.stream_id and e.version <= event.version]

    def read_all(self, after: int = 0, limit: int = 1000) -> list[EventEnvelope]:
        with self._lock:
            return self._log[after : after + limit]

    def stream_version(self, stream_id: str) -> int:
        with self._lock:
            return self._version(stream_id)

    def last_position(self) -> int:
        with self._lock:
            return len(self._log)
