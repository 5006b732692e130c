from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from shared.events import EventEnvelope


class ConcurrencyError(Exception):
    """The stream is not at the version the writer expected: someone else appended first."""

    def __init__(self, stream_id: str, expected: int, actual: int | None) -> None:
        found = "a concurrent append" if actual is None else f"version {actual}"
        super().__init__(f"stream {stream_id}: expected version {expected}, found {found}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class DuplicateEventError(Exception):
    """An event with this id is already stored (a redelivered message)."""


class EventStore(Protocol):
    def append(self, stream_id: str, expected_version: int, events: Sequence[EventEnvelope]) -> list[int]:
        """Append events to a stream that must be at ``expected_version``; returns their global positions."""

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[EventEnvelope]: ...

    def read_stream_to(self, event_id: UUID) -> list[EventEnvelope]:
        """One event's stream up to and including it (empty: no such event)."""

    def read_all(self, after: int = 0, limit: int = 1000) -> list[EventEnvelope]:
        """Events after a global position, in commit order."""

    def stream_version(self, stream_id: str) -> int: ...

    def last_position(self) -> int: ...
