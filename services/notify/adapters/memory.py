"""Notify's unit of work in memory, for unit tests: the handlers' flows in milliseconds, no PostgreSQL.

``NotifyMemory`` holds what the tables hold (deliveries, escalations, templates, the hand-off ledger, the inbox, the
dead letters, the staff directory a test fills in, and the workflow's events in an ``InMemoryEventStore``);
``NotifyMemory.uow`` opens a unit of work on it. Each unit keeps its writes to itself until ``commit``, which
applies them at once; a rollback (or leaving the block without committing) drops them. It keeps the promises of
services/notify/unit_of_work.py as PostgreSQL does (tests/contracts/notify_uow.py holds both to them):

- a delivery read with ``lock=True`` or written is held by the unit until it ends, as PostgreSQL's row lock is:
  another unit asking for it waits (and after ``LOCK_TIMEOUT`` seconds, or the unit's ``limit_lock_waits``,
  raises ``LockNotAvailable`` rather than hang a test whose one thread opened two units that want the same row);
  ``take_due`` skips held rows;
- the reads of a unit see its own writes.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from services.notify.adapters.tables import deliveries as deliveries_table
from services.notify.domain.templates import scopes_for
from services.notify.unit_of_work import Row
from shared.contracts.organisation import Delegation
from shared.events import EventEnvelope
from shared.eventstore.memory import InMemoryEventStore
from shared.handoffs import Handoff

LOCK_TIMEOUT = 10.0

# what PostgreSQL fills in for a new delivery row
DELIVERY_DEFAULTS: Row = {c.name: None for c in deliveries_table.c} | {"state": "pending", "attempts": 0}


class LockNotAvailable(Exception):
    """A row another open unit of work holds (in a test's one thread: a unit opened inside another)."""


class NotifyMemory:
    def __init__(self, store: InMemoryEventStore | None = None) -> None:
        self.store = store or InMemoryEventStore()  # the workflow's events (tests append them)
        self.deliveries: dict[UUID, Row] = {}
        self.escalations: dict[tuple[UUID, str], Row] = {}
        self.templates: dict[tuple[str, str, str], Row] = {}
        self.handoffs: dict[tuple[str, UUID], Handoff] = {}
        self.inbox: set[tuple[str, UUID]] = set()  # (consumer, message id)
        self.dead_letters: dict[UUID, Row] = {}  # shared.tasks.dead_letter_table's columns
        self.erased: set[UUID] = set()  # complaints whose personal data was erased (privacy.data_keys's erased_at)
        self.staff: list[Row] = []  # shared.staff_directory's columns
        self.delegations: list[Delegation] = []  # shared.organisation_directory's
        self.lock = threading.Lock()  # commits apply one at a time
        self._row_locks: dict[UUID, threading.Lock] = {}

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self)

    def row_lock(self, key: UUID) -> threading.Lock:
        with self.lock:
            return self._row_locks.setdefault(key, threading.Lock())


class InMemoryUnitOfWork:
    def __init__(self, memory: NotifyMemory) -> None:
        self._memory = memory

    def __enter__(self) -> Self:
        self._held: dict[UUID, threading.Lock] = {}
        self._lock_timeout = LOCK_TIMEOUT
        self.events = InMemoryWorkflowEvents(self._memory)
        self.inbox = InMemoryInbox()
        self.deliveries = InMemoryDeliveries(self._memory, self._take, self._held)
        self.escalations = InMemoryEscalations(self._memory)
        self.templates = InMemoryTemplates(self._memory)
        self.staff = InMemoryStaff(self._memory)
        self.handoffs = InMemoryHandoffs(self._memory)
        self.dead_letters = InMemoryDeadLetters(self._memory)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.rollback()

    def hold_personal_data(self, complaint_id: UUID) -> bool:
        return complaint_id not in self._memory.erased

    def limit_lock_waits(self, seconds: float) -> None:
        self._lock_timeout = max(seconds, 0.1)

    def _take(self, key: UUID, wait: bool = True) -> bool:
        if key in self._held:
            return True
        lock = self._memory.row_lock(key)
        if not lock.acquire(timeout=self._lock_timeout if wait else 0):
            if not wait:
                return False
            raise LockNotAvailable(f"delivery {key} is held by another open unit of work")
        self._held[key] = lock
        return True

    def commit(self) -> None:
        memory = self._memory
        with memory.lock:
            memory.deliveries.update(self.deliveries.written)
            memory.escalations.update(self.escalations.written)
            for key, row in self.templates.written.items():
                if row is None:
                    memory.templates.pop(key, None)
                else:
                    memory.templates[key] = row
            memory.handoffs.update(self.handoffs.written)
            memory.inbox.update(self.inbox.written)
            memory.dead_letters.update(self.dead_letters.written)
        self._forget()

    def rollback(self) -> None:
        self._forget()

    def _forget(self) -> None:
        self.deliveries.written.clear()
        self.escalations.written.clear()
        self.templates.written.clear()
        self.handoffs.written.clear()
        self.inbox.written.clear()
        self.dead_letters.written.clear()
        while self._held:
            self._held.popitem()[1].release()


Take = Callable[..., bool]


class InMemoryWorkflowEvents:
    def __init__(self, memory: NotifyMemory) -> None:
        self._memory = memory

    def stream(self, stream_id: str) -> list[EventEnvelope]:
        return self._memory.store.read_stream(stream_id)

    def stream_to(self, event_id: UUID) -> list[EventEnvelope]:
        return self._memory.store.read_stream_to(event_id)


class InMemoryInbox:
    def __init__(self) -> None:
        self.written: set[tuple[str, UUID]] = set()

    def record(self, consumer: str, message_id: UUID) -> None:
        self.written.add((consumer, message_id))


class InMemoryDeliveries:
    def __init__(self, memory: NotifyMemory, take: Take, held: Mapping[UUID, threading.Lock]) -> None:
        self._memory, self._take, self._held = memory, take, held
        self.written: dict[UUID, Row] = {}

    def _rows(self) -> dict[UUID, Row]:
        return {**self._memory.deliveries, **self.written}

    def _row(self, delivery_id: UUID) -> Row | None:
        row = self.written.get(delivery_id) or self._memory.deliveries.get(delivery_id)
        return dict(row) if row is not None else None

    def get(self, delivery_id: UUID, *, lock: bool = False) -> Row | None:
        if lock:
            self._take(delivery_id)
        return self._row(delivery_id)

    def by_provider(self, provider: str | None, hashes: Collection[str], *, lock: bool = False) -> Row | None:
        found = next(
            (
                r["id"]
                for r in self._rows().values()
                if r["provider"] == provider
                and r["provider_message_hash"] is not None
                and r["provider_message_hash"] in hashes
            ),
            None,
        )
        return None if found is None else self.get(found, lock=lock)

    def many(self, ids: Collection[UUID]) -> list[Row]:
        return [row for i in ids if (row := self._row(i)) is not None]

    def add(self, rows: Sequence[Row]) -> list[Row]:
        added = []
        for row in rows:
            self._take(row["id"])  # a copy being added by another unit: wait for it to end, then look again
            if self._row(row["id"]) is None:
                self.written[row["id"]] = DELIVERY_DEFAULTS | dict(row)
                added.append(dict(self.written[row["id"]]))
        return added

    def update(
        self,
        delivery_id: UUID,
        values: Mapping[str, Any],
        *,
        states: Collection[str] | None = None,
        sending_since: datetime | None = None,
    ) -> Row | None:
        self._take(delivery_id)
        row = self._row(delivery_id)
        if row is None or (states is not None and row["state"] not in states):
            return None
        if sending_since is not None and row["sending_since"] != sending_since:
            return None
        self.written[delivery_id] = row | dict(values)
        return dict(self.written[delivery_id])

    def listing(self, *, state: str | None, complaint_id: UUID | None, limit: int) -> list[Row]:
        rows = [
            dict(r)
            for r in self._rows().values()
            if (not state or r["state"] == state) and (not complaint_id or r["complaint_id"] == complaint_id)
        ]
        return sorted(rows, key=lambda r: r["updated_at"], reverse=True)[:limit]

    def of_complaint(self, complaint_id: UUID, *, lock: bool = False) -> list[Row]:
        ids = sorted(i for i, r in self._rows().items() if r["complaint_id"] == complaint_id)
        return [row for i in ids if (row := self.get(i, lock=lock)) is not None]

    def take_due(self, now: datetime, grace: timedelta, limit: int) -> list[Row]:
        due = sorted(
            (
                r
                for r in self._rows().values()
                if r["state"] == "pending"
                and r["next_attempt_at"] <= now
                and (r["enqueued_at"] is None or r["enqueued_at"] < now - grace)
            ),
            key=lambda r: r["next_attempt_at"],
        )
        taken = []
        for row in due:
            if len(taken) == limit:
                break
            if row["id"] in self._held or self._take(row["id"], wait=False):
                self.written[row["id"]] = {**row, "enqueued_at": now}
                taken.append(dict(self.written[row["id"]]))
        return taken

    def stale(self, before: datetime, limit: int) -> list[Row]:
        rows = self._rows().values()
        return [dict(r) for r in rows if r["state"] == "sending" and r["sending_since"] < before][:limit]

    def unreported(self, states: Collection[str], before: datetime, limit: int) -> list[Row]:
        return [
            dict(r)
            for r in self._rows().values()
            if r["state"] in states and r["reported_state"] != r["state"] and r["updated_at"] < before
        ][:limit]


class InMemoryEscalations:
    def __init__(self, memory: NotifyMemory) -> None:
        self._memory = memory
        self.written: dict[tuple[UUID, str], Row] = {}

    def add(self, rows: Sequence[Row]) -> int:
        new = 0
        for row in rows:
            key = (row["event_id"], row["username"])
            if key not in self.written and key not in self._memory.escalations:
                self.written[key] = {"read_at": None, **row}
                new += 1
        return new


class InMemoryTemplates:
    def __init__(self, memory: NotifyMemory) -> None:
        self._memory = memory
        self.written: dict[tuple[str, str, str], Row | None] = {}  # None: removed

    def _rows(self) -> list[Row]:
        merged = {**self._memory.templates, **self.written}
        return [dict(r) for r in merged.values() if r is not None]

    def applying(self, kecamatan: str, kabupaten: str | None = None) -> list[Row]:
        return [r for r in self._rows() if r["kecamatan"] in scopes_for(kecamatan, kabupaten)]

    def all(self) -> list[Row]:
        return self._rows()

    def put(
        self, kecamatan: str, kind: str, channel: str, body: str, subject: str | None, updated_by: str | None
    ) -> None:
        self.written[(kecamatan, kind, channel)] = {
            "kecamatan": kecamatan,
            "kind": kind,
            "channel": channel,
            "body": body,
            "subject": subject,
            "updated_by": updated_by,
            "updated_at": datetime.now(UTC),  # the database's now() in PostgreSQL
        }

    def remove(self, kecamatan: str, kind: str, channel: str) -> bool:
        key = (kecamatan, kind, channel)
        exists = self.written[key] is not None if key in self.written else key in self._memory.templates
        if exists:
            self.written[key] = None
        return exists


class InMemoryStaff:
    def __init__(self, memory: NotifyMemory) -> None:
        self._memory = memory

    def active(self, kecamatan: str, roles: Collection[str], *, new_work: bool = False) -> list[Row]:
        return [
            dict(p)
            for p in self._memory.staff
            if p["kecamatan"] == kecamatan
            and p["active"]
            and p["role"] in roles
            and (p["notify_new_work"] or not new_work)
        ]

    def acting(self, kecamatan: str, roles: Collection[str], day: date) -> list[Row]:
        by_name = {p["username"]: p for p in self._memory.staff if p["active"]}
        return [
            {**by_name[d.delegate], "role": d.role, "unit": d.unit, "acting_kind": d.kind}
            for d in self._memory.delegations
            if d.kecamatan == kecamatan and d.role in roles and d.in_force(day) and d.delegate in by_name
        ]


class InMemoryHandoffs:
    def __init__(self, memory: NotifyMemory) -> None:
        self._memory = memory
        self.written: dict[tuple[str, UUID], Handoff] = {}

    def record(self, handoffs: Iterable[Handoff]) -> None:
        for h in handoffs:
            key = (h.consumer, h.message_id)
            if key not in self._memory.handoffs:
                self.written.setdefault(key, h)

    def _all(self) -> dict[tuple[str, UUID], Handoff]:
        return {**self._memory.handoffs, **self.written}

    def of_complaint(self, complaint_id: UUID) -> list[Handoff]:
        return [h for h in self._all().values() if h.payload.get("complaint_id") == str(complaint_id)]

    def rewrite(self, consumer: str, message_id: UUID, payload: Mapping[str, Any]) -> None:
        found = self._all().get((consumer, message_id))
        if found is not None:
            self.written[(consumer, message_id)] = dataclasses.replace(found, payload=dict(payload))


class InMemoryDeadLetters:
    def __init__(self, memory: NotifyMemory) -> None:
        self._memory = memory
        self.written: dict[UUID, Row] = {}

    def naming(
        self,
        *,
        event_ids: Collection[UUID],
        delivery_ids: Collection[UUID],
        provider_message_ids: Collection[str],
        provider_message_hashes: Collection[str] = (),
    ) -> list[Row]:
        names = {
            "event_id": {str(i) for i in event_ids},
            "delivery_id": {str(i) for i in delivery_ids},
            "reference": {i.hex for i in delivery_ids},
            "provider_message_id": set(provider_message_ids),
        }
        hashes = set(provider_message_hashes)
        rows = {**self._memory.dead_letters, **self.written}.values()
        return [
            dict(r)
            for r in rows
            if any(r["payload"].get(k) in v for k, v in names.items())
            or hashes & set(r["payload"].get("provider_message_hashes") or ())
        ]

    def rewrite(self, letter_id: UUID, payload: Mapping[str, Any], error: str) -> None:
        row = self.written.get(letter_id) or self._memory.dead_letters.get(letter_id)
        if row is not None:
            self.written[letter_id] = {**row, "payload": dict(payload), "error": error}
