"""Letters' unit of work in memory, for unit tests: the handlers' flows in milliseconds, no PostgreSQL.

``LettersMemory`` holds what the tables hold (the workflow's events in an ``InMemoryEventStore``, the
documents, the staff directory's names, the units and their heads, the hand-off ledger) and what the broker was handed (``sent``);
``LettersMemory.uow`` opens a unit of work on it. Each unit keeps its writes to itself until ``commit``,
which applies them at once and only then hands the outbox's messages on; a rollback (or leaving the block
without committing) drops them. It keeps the promises of services/letters/unit_of_work.py as PostgreSQL
does (tests/contracts/letters_uow.py holds both to them):

- one document per source event: a unit adding the document of an event another open unit has added waits
  for that unit to end (after ``LOCK_TIMEOUT`` seconds it raises ``LockNotAvailable`` rather than hang a
  test whose one thread opened two such units), then answers the row kept;
- the reads of a unit see its own writes.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Collection
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from services.letters.unit_of_work import DOCUMENT_COLUMNS, SIGNED_KINDS, StaffName
from shared.contracts.organisation import UnitEntry
from shared.contracts.workflow import PersonalDataErased
from shared.events import EventEnvelope
from shared.eventstore.memory import InMemoryEventStore
from shared.handoffs import Handoff

LOCK_TIMEOUT = 10.0


class LockNotAvailable(Exception):
    """A row another open unit of work holds (in a test's one thread: a unit opened inside another)."""


class LettersMemory:
    def __init__(self, store: InMemoryEventStore | None = None) -> None:
        self.store = store or InMemoryEventStore()  # the workflow's events (tests append them)
        self.documents: dict[UUID, dict[str, Any]] = {}  # by id
        self.staff: dict[str, StaffName] = {}  # by username
        self.units: dict[tuple[str, str], UnitEntry] = {}  # by (kecamatan, code)
        self.esigned: dict[UUID, dict[str, Any]] = {}  # letters.esigned, by event id
        self.ledger: dict[tuple[str, UUID], Handoff] = {}  # letters.handoffs: (consumer, message id)
        self.sent: list[Handoff] = []  # what the broker was handed, in order
        self.lock = threading.Lock()  # commits apply one at a time
        self._row_locks: dict[UUID, threading.Lock] = {}
        self._inserts = itertools.count(1)  # ties of created_at keep the order of insertion

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self)

    def row_lock(self, source_event_id: UUID) -> threading.Lock:
        with self.lock:
            return self._row_locks.setdefault(source_event_id, threading.Lock())

    def next_insert(self) -> int:
        return next(self._inserts)


class InMemoryUnitOfWork:
    def __init__(self, memory: LettersMemory) -> None:
        self._memory = memory

    def __enter__(self) -> Self:
        self._held: list[threading.Lock] = []
        self.events = InMemoryWorkflowEvents(self._memory)
        self.esigned = InMemoryEsigned(self._memory)
        self.documents = InMemoryDocuments(self._memory, self._held, self.esigned)
        self.staff = InMemoryStaff(self._memory)
        self.units = InMemoryUnits(self._memory)
        self.outbox = InMemoryOutbox()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.rollback()

    def commit(self) -> None:
        memory = self._memory
        with memory.lock:
            for row in self.documents.written.values():
                memory.documents[row["id"]] = row
            for event_id, row in self.esigned.written.items():
                memory.esigned.setdefault(event_id, row)
            memory.esigned.update(self.esigned.changed)
            for handoff in self.outbox.added:
                memory.ledger.setdefault((handoff.consumer, handoff.message_id), handoff)
        handed = list(self.outbox.added)
        self._forget()
        memory.sent.extend(handed)  # after the commit, as the broker is handed them

    def rollback(self) -> None:
        self._forget()

    def _forget(self) -> None:
        self.documents.written.clear()
        self.esigned.written.clear()
        self.esigned.changed.clear()
        self.outbox.added.clear()
        while self._held:
            self._held.pop().release()


class InMemoryWorkflowEvents:
    def __init__(self, memory: LettersMemory) -> None:
        self._memory = memory

    def get(self, event_id: UUID) -> EventEnvelope | None:
        return next((e for e in self._memory.store.read_all(0, 1 << 62) if e.event_id == event_id), None)

    def stream(self, stream_id: str) -> list[EventEnvelope]:
        return self._memory.store.read_stream(stream_id)

    def hold_personal_data(self, complaint_id: UUID) -> bool:
        # the memory store keeps no keys: erased once PersonalDataErased is in the stream (appended with the key's
        # destruction, as the workflow does)
        stream = self._memory.store.read_stream(f"complaint-{complaint_id}")
        return not any(e.type == PersonalDataErased.type for e in stream)


class InMemoryDocuments:
    def __init__(self, memory: LettersMemory, held: list[threading.Lock], esigned: InMemoryEsigned) -> None:
        self._memory, self._held, self._esigned = memory, held, esigned
        self.written: dict[UUID, dict[str, Any]] = {}  # by id: rows added or changed by this unit

    def _rows(self) -> list[dict[str, Any]]:
        rows = {**self._memory.documents, **self.written}
        return sorted(rows.values(), key=lambda r: (r["created_at"], r["_insert"]))

    def add(self, values: dict[str, Any]) -> dict[str, Any]:
        unknown = set(values) - set(DOCUMENT_COLUMNS)
        if unknown:
            raise ValueError(f"not columns of letters.documents: {sorted(unknown)}")
        source = values["source_event_id"]
        kept = self.of_source_event(source)
        if kept is not None:
            return kept
        lock = self._memory.row_lock(source)
        if lock not in self._held:  # another unit adding this event's document: wait for it to end
            if not lock.acquire(timeout=LOCK_TIMEOUT):
                raise LockNotAvailable(f"the document of event {source} is being added by another open unit of work")
            self._held.append(lock)
        kept = self.of_source_event(source)
        if kept is not None:
            return kept
        if values["id"] in self._memory.documents or values["id"] in self.written:
            raise ValueError(f"document {values['id']} exists")  # PostgreSQL: a primary key violation
        row = {column: values.get(column) for column in DOCUMENT_COLUMNS}
        row.update(created_at=datetime.now(UTC), erased_at=None, _insert=self._memory.next_insert())
        self.written[values["id"]] = row
        return _public(row)

    def get(self, document_id: UUID) -> dict[str, Any] | None:
        return next((_public(r) for r in self._rows() if r["id"] == document_id), None)

    def of_source_event(self, event_id: UUID) -> dict[str, Any] | None:
        return next((_public(r) for r in self._rows() if r["source_event_id"] == event_id), None)

    def of_complaint(self, complaint_id: UUID) -> list[dict[str, Any]]:
        return [_public(r) for r in self._rows() if r["complaint_id"] == complaint_id]

    def newest(self, tracking_code: str, kind: str, *, released: bool = False) -> dict[str, Any] | None:
        rows = [
            r
            for r in self._rows()
            if r["tracking_code"] == tracking_code and r["kind"] == kind and (not released or r["released_at"])
        ]
        return _public(rows[-1]) if rows else None

    def signed_letter_with(self, sha256: str) -> dict[str, Any] | None:
        rows = (r for r in self._rows() if r["sha256"] == sha256 and r["kind"] in SIGNED_KINDS)
        return next((_public(r) for r in rows), None)

    def release(self, complaint_id: UUID, at: datetime) -> int:
        due = [
            r
            for r in self._rows()
            if r["complaint_id"] == complaint_id and r["kind"] == "response_letter" and r["released_at"] is None
        ]
        for row in due:
            self.written[row["id"]] = {**row, "released_at": at}
        return len(due)

    def erase(self, complaint_id: UUID, at: datetime) -> int:
        due = [r for r in self._rows() if r["complaint_id"] == complaint_id and r["erased_at"] is None]
        for row in due:
            self.written[row["id"]] = {**row, "erased_at": at, "perihal": None}
        return len(due)

    def kept_elsewhere(self, sha256s: Collection[str], complaint_id: UUID) -> set[str]:
        rows = [*self._rows(), *self._esigned.rows()]
        held = {r["sha256"] for r in rows if r["complaint_id"] != complaint_id and r["erased_at"] is None}
        return held & set(sha256s)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """A row as PostgreSQL answers it: the table's columns, without the insertion counter."""
    return {k: v for k, v in row.items() if k != "_insert"}


class InMemoryStaff:
    def __init__(self, memory: LettersMemory) -> None:
        self._memory = memory

    def get(self, username: str) -> StaffName | None:
        return self._memory.staff.get(username)


class InMemoryUnits:
    def __init__(self, memory: LettersMemory) -> None:
        self._memory = memory

    def get(self, kecamatan: str, code: str) -> UnitEntry | None:
        return self._memory.units.get((kecamatan, code))


class InMemoryEsigned:
    def __init__(self, memory: LettersMemory) -> None:
        self._memory = memory
        self.written: dict[UUID, dict[str, Any]] = {}  # rows added by this unit (the first kept at commit)
        self.changed: dict[UUID, dict[str, Any]] = {}  # rows this unit changed (erased)

    def add(self, values: dict[str, Any]) -> dict[str, Any]:
        kept = self.get(values["event_id"])
        if kept is None:
            kept = self.written[values["event_id"]] = {**values, "created_at": datetime.now(UTC), "erased_at": None}
        return dict(kept)

    def get(self, event_id: UUID) -> dict[str, Any] | None:
        found = self.changed.get(event_id) or self.written.get(event_id) or self._memory.esigned.get(event_id)
        return dict(found) if found is not None else None

    def rows(self) -> list[dict[str, Any]]:
        """Every row as this unit sees it."""
        ids = {*self._memory.esigned, *self.written, *self.changed}
        return [row for event_id in ids if (row := self.get(event_id)) is not None]

    def of_complaint(self, complaint_id: UUID) -> list[dict[str, Any]]:
        return [row for row in self.rows() if row["complaint_id"] == complaint_id]

    def erase(self, complaint_id: UUID, at: datetime) -> int:
        due = [row for row in self.of_complaint(complaint_id) if row["erased_at"] is None]
        for row in due:
            self.changed[row["event_id"]] = {**row, "erased_at": at}
        return len(due)


class InMemoryOutbox:
    def __init__(self) -> None:
        self.added: list[Handoff] = []

    def add(self, handoff: Handoff) -> None:
        self.added.append(handoff)
