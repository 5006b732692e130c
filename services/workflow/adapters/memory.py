"""The workflow's unit of work in memory, for unit tests: the handlers' flows in milliseconds, no PostgreSQL.

``WorkflowMemory`` holds what the tables hold (the events in an ``InMemoryEventStore``, the inbox, the read model,
the counters); ``WorkflowMemory.uow`` opens a unit of work on it. Each unit keeps its writes to itself until
``commit``, which applies them at once; a rollback (or leaving the block without committing) drops them. It keeps
the promises of services/workflow/unit_of_work.py as PostgreSQL does (tests/contracts/workflow_uow.py holds both
to them):

- a stream not at the expected version is a ``ConcurrencyError`` at ``append``, and again at ``commit`` should
  another unit have committed to the stream in between; an event id already stored is a ``DuplicateEventError``;
- an inbox claim and a counter are held by the unit that took them until it ends, as PostgreSQL's row locks are:
  another unit asking for the same one waits (and after ``LOCK_TIMEOUT`` seconds raises ``LockNotAvailable``
  rather than hang a test whose one thread opened two units that want the same row);
- the reads of a unit see its own writes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from services.workflow.domain.model import Complaint
from services.workflow.unit_of_work import COUNTER_SUCCESSORS, read_model_values
from shared.contracts.intake import Complainant
from shared.events import EventEnvelope
from shared.eventstore import ConcurrencyError, DuplicateEventError
from shared.eventstore.memory import InMemoryEventStore

LOCK_TIMEOUT = 10.0

Take = Callable[[tuple[Any, ...]], None]  # hold a row's lock until the unit of work ends


class LockNotAvailable(Exception):
    """A row another open unit of work holds (in a test's one thread: a unit opened inside another)."""


class WorkflowMemory:
    def __init__(self) -> None:
        self.store = InMemoryEventStore()
        self.erased: dict[UUID, tuple[str, str]] = {}  # complaint -> (by, reason): erasures of personal data
        self.event_ids: set[UUID] = set()
        self.inbox: set[tuple[str, UUID]] = set()
        self.complaints: dict[UUID, dict[str, Any]] = {}
        self.counters: dict[tuple[str, str, int], int] = {}
        self.requests: list[dict[str, Any]] = []  # privacy.requests
        self.duplicates: dict[UUID, dict[str, Any]] = {}  # possible duplicates' lookups and text, per complaint
        self.lock = threading.Lock()  # commits apply one at a time
        self._row_locks: dict[tuple[Any, ...], threading.Lock] = {}

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self)

    def row_lock(self, key: tuple[Any, ...]) -> threading.Lock:
        with self.lock:
            return self._row_locks.setdefault(key, threading.Lock())


class InMemoryUnitOfWork:
    def __init__(self, memory: WorkflowMemory) -> None:
        self._memory = memory

    def __enter__(self) -> Self:
        self._held: list[threading.Lock] = []
        self.events = InMemoryEventStreams(self._memory)
        self.inbox = InMemoryInbox(self._memory, self._take)
        self.complaints = InMemoryComplaints(self._memory)
        self.counters = InMemoryCounters(self._memory, self._take)
        self.requests = InMemoryPrivacyRequests(self._memory)
        self.duplicates = InMemoryDuplicates(self._memory)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.rollback()

    def _take(self, key: tuple[Any, ...]) -> None:
        lock = self._memory.row_lock(key)
        if lock in self._held:
            return
        if not lock.acquire(timeout=LOCK_TIMEOUT):
            raise LockNotAvailable(f"{key[0]} {key[1:]} is held by another open unit of work")
        self._held.append(lock)

    def commit(self) -> None:
        memory = self._memory
        with memory.lock:
            for stream_id, (expected, events) in self.events.appended.items():
                actual = memory.store.stream_version(stream_id)
                if actual != expected:
                    raise ConcurrencyError(stream_id, expected, actual)
                if any(e.event_id in memory.event_ids for e in events):
                    raise DuplicateEventError(stream_id)
            for stream_id, (expected, events) in self.events.appended.items():
                memory.store.append(stream_id, expected, events)
                memory.event_ids.update(e.event_id for e in events)
            memory.inbox.update(self.inbox.claimed)
            memory.complaints.update(self.complaints.written)
            memory.counters.update(self.counters.taken)
            memory.erased.update(self.events.erased)
            memory.requests.extend(self.requests.added)
            for complaint_id, row in self.duplicates.written.items():
                if row is None:
                    memory.duplicates.pop(complaint_id, None)
                else:
                    memory.duplicates[complaint_id] = row
        self._forget()

    def rollback(self) -> None:
        self._forget()

    def _forget(self) -> None:
        self.events.appended.clear()
        self.events.erased.clear()
        self.inbox.claimed.clear()
        self.complaints.written.clear()
        self.counters.taken.clear()
        self.requests.added.clear()
        self.duplicates.written.clear()
        while self._held:
            self._held.pop().release()


class InMemoryEventStreams:
    def __init__(self, memory: WorkflowMemory) -> None:
        self._memory = memory
        self.appended: dict[str, tuple[int, list[EventEnvelope]]] = {}  # stream -> (version before, events)
        self.erased: dict[UUID, tuple[str, str]] = {}  # this unit's erasures, kept at commit

    def read(self, stream_id: str) -> list[EventEnvelope]:
        return self._memory.store.read_stream(stream_id) + self.appended.get(stream_id, (0, []))[1]

    def erase_personal_data(self, complaint_id: UUID, *, by: str, reason: str) -> bool:
        """In memory nothing is sealed: the erasure is recorded at commit (``WorkflowMemory.erased``) for tests."""
        if complaint_id in self._memory.erased or complaint_id in self.erased:
            return False
        self.erased[complaint_id] = (by, reason)
        return True

    def append(self, stream_id: str, expected_version: int, events: Sequence[EventEnvelope]) -> None:
        for offset, event in enumerate(events, start=1):
            if event.stream_id != stream_id or event.version != expected_version + offset:
                raise ValueError("event stream or version does not follow the expected version")
        before, mine = self.appended.get(stream_id, (self._memory.store.stream_version(stream_id), []))
        actual = before + len(mine)
        if actual != expected_version:
            raise ConcurrencyError(stream_id, expected_version, actual)
        ids = {e.event_id for e in events}
        if len(ids) < len(events) or ids & self._memory.event_ids or any(e.event_id in ids for e in mine):
            raise DuplicateEventError(stream_id)
        if events:
            self.appended[stream_id] = (before, [*mine, *events])


class InMemoryInbox:
    def __init__(self, memory: WorkflowMemory, take: Take) -> None:
        self._memory, self._take = memory, take
        self.claimed: set[tuple[str, UUID]] = set()

    def claim(self, consumer: str, message_id: UUID) -> bool:
        key = (consumer, message_id)
        if key in self.claimed or key in self._memory.inbox:
            return False
        self._take(("inbox", *key))  # a copy being handled by another unit: wait for it to end, then look again
        if key in self._memory.inbox:
            return False
        self.claimed.add(key)
        return True


class InMemoryComplaints:
    def __init__(self, memory: WorkflowMemory) -> None:
        self._memory = memory
        self.written: dict[UUID, dict[str, Any]] = {}

    def _row(self, complaint_id: UUID | None) -> dict[str, Any] | None:
        if complaint_id is None:
            return None
        if complaint_id in self.written:
            return self.written[complaint_id]
        return self._memory.complaints.get(complaint_id)

    def get(self, complaint_id: UUID) -> dict[str, Any] | None:
        row = self._row(complaint_id)
        return dict(row) if row is not None else None

    def add(self, state: Complaint, at: datetime, *, subject: str, channel: str, received_at: datetime) -> None:
        if state.complaint_id is None or self._row(state.complaint_id) is not None:
            return
        self.written[state.complaint_id] = {
            "complaint_id": state.complaint_id,
            "tracking_code": state.tracking_code,
            "kecamatan": state.kecamatan,
            "subject": subject,
            "channel": channel,
            "received_at": received_at,
            **read_model_values(state, at),
        }

    def update(self, state: Complaint, at: datetime) -> None:
        row = self._row(state.complaint_id)
        if row is not None and state.complaint_id is not None:
            self.written[state.complaint_id] = {**row, **read_model_values(state, at)}

    def _rows(self) -> list[dict[str, Any]]:
        return list({**self._memory.complaints, **self.written}.values())

    def overdue(self, now: datetime, limit: int) -> list[UUID]:
        due = [
            r
            for r in self._rows()
            if r["status"] == "in_progress" and not r["overdue_flagged"] and r["step_due_at"] and r["step_due_at"] < now
        ]
        return [r["complaint_id"] for r in sorted(due, key=lambda r: r["step_due_at"])[:limit]]

    def expired_referrals(self, now: datetime, limit: int) -> list[UUID]:
        expired = [r for r in self._rows() if r["status"] == "referred" and r["step_due_at"] and r["step_due_at"] < now]
        return [r["complaint_id"] for r in sorted(expired, key=lambda r: r["step_due_at"])[:limit]]

    def past_retention(self, closed_before: Mapping[str, datetime], limit: int) -> list[UUID]:
        past = [
            r
            for r in self._rows()
            if r["status"] == "closed"
            and not r["personal_data_erased"]
            and r["kecamatan"] in closed_before
            and r["closed_at"] is not None
            and r["closed_at"] < closed_before[r["kecamatan"]]
        ]
        return [r["complaint_id"] for r in sorted(past, key=lambda r: r["closed_at"])[:limit]]

    def expired_document_requests(self, now: datetime, limit: int) -> list[UUID]:
        expired = [
            r
            for r in self._rows()
            if r["status"] == "awaiting_documents" and r["documents_close_after"] and r["documents_close_after"] < now
        ]
        return [r["complaint_id"] for r in sorted(expired, key=lambda r: r["documents_close_after"])[:limit]]


class InMemoryCounters:
    def __init__(self, memory: WorkflowMemory, take: Take) -> None:
        self._memory, self._take = memory, take
        self.taken: dict[tuple[str, str, int], int] = {}

    def next(self, kind: str, kecamatan: str, year: int) -> int:
        key = (kind, kecamatan, year)
        self._take(("counter", *key))  # held to the end of the unit: the next unit waits, then counts on
        last = self.taken.get(key, self._memory.counters.get(key))
        if last is None:  # a new row: a kind that took over from others starts after their highest
            last = max(
                (self._memory.counters.get((k, kecamatan, year), 0) for k in COUNTER_SUCCESSORS.get(kind, ())),
                default=0,
            )
        value = last + 1
        self.taken[key] = value
        return value


class InMemoryPrivacyRequests:
    def __init__(self, memory: WorkflowMemory) -> None:
        self._memory = memory
        self.added: list[dict[str, Any]] = []

    def add(self, row: Mapping[str, Any]) -> None:
        self.added.append(dict(row))

    def list(self, *, kecamatan: Sequence[str] | None, kind: str | None, limit: int) -> list[dict[str, Any]]:
        rows = [
            r
            for r in self._memory.requests + self.added
            if (kecamatan is None or r["kecamatan"] in kecamatan) and (kind is None or r["kind"] == kind)
        ]
        return sorted(rows, key=lambda r: r["received_at"], reverse=True)[:limit]


class InMemoryDuplicates:
    """The values themselves, not their keyed hashes (nothing here outlives the test)."""

    def __init__(self, memory: WorkflowMemory) -> None:
        self._memory = memory
        self.written: dict[UUID, dict[str, Any] | None] = {}  # None: erased

    def record(
        self,
        complaint_id: UUID,
        kecamatan: str,
        complainant: Complainant,
        *,
        subject: str | None = None,
        description: str | None = None,
    ) -> None:
        row = dict(self.written.get(complaint_id) or self._memory.duplicates.get(complaint_id) or {})
        row.update(kecamatan=kecamatan, nik=complainant.nik, phone=complainant.phone, email=complainant.email)
        if subject is not None and description is not None:
            row.setdefault("text", f"{subject}\n{description}")
        self.written[complaint_id] = row

    def erase(self, complaint_id: UUID) -> None:
        self.written[complaint_id] = None
