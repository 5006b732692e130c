"""Intake's unit of work in memory, for unit tests: the handlers' flows in milliseconds, no PostgreSQL.

``IntakeMemory`` holds what the tables hold (and the kecamatan that claim numbers and addresses, and the tracking
rows the projection would write: ``project`` puts one there); ``IntakeMemory.uow`` opens a unit of work on it.
Each unit keeps its writes to itself until ``commit``, which applies them at once; a rollback (or leaving the
block without committing) drops them. It keeps the promises of services/intake/unit_of_work.py as PostgreSQL
does (tests/contracts/intake_uow.py holds both to them):

- a unique key (a submission's id, complaint id, tracking code or idempotency key; a message's channel and
  provider id; a status's message id and status) taken by a row committed or written in this unit makes
  ``add`` answer False and write nothing;
- a key being written by another open unit is held by it until it ends, as PostgreSQL's insert waits for the
  other transaction: ``add`` waits, then looks again (after ``LOCK_TIMEOUT`` seconds it raises
  ``LockNotAvailable`` rather than hang a test whose one thread opened two units that want the same key);
- the reads of a unit see its own writes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from services.intake.unit_of_work import (
    Attachment,
    ChannelStatus,
    Inbound,
    InboundRecord,
    StoredAttachment,
    Submission,
    Tracked,
)
from shared.contracts import sop
from shared.tenancy import Kecamatan, validate_settings

LOCK_TIMEOUT = 10.0

Take = Callable[[tuple[Any, ...]], None]  # hold a key's lock until the unit of work ends


class LockNotAvailable(Exception):
    """A key another open unit of work holds (in a test's one thread: a unit opened inside another)."""


@dataclass(frozen=True)
class OutboxRow:
    id: UUID
    message_type: str
    task: str
    queue: str
    payload: dict[str, Any]
    created_at: datetime
    published_at: datetime | None = None


@dataclass(frozen=True)
class TrackingRow:
    """What the tracking projection keeps of a complaint (``adapters/tracking.py``)."""

    complaint_id: UUID
    tracking_code: str
    status: str
    current_step: int | None = None
    sop_version: str = sop.DEFAULT.version
    steps: tuple[Any, ...] = ()
    outcome: str | None = None
    referred_to: str | None = None
    referral_state: str | None = None
    follow_up_by: datetime | None = None
    referral_answer: str | None = None
    referral_answered_on: date | None = None
    closings: int = 0
    closed_at: datetime | None = None
    feedback_closing: int = 0
    reopened: int = 0
    objection_state: str | None = None
    objection_answer: str | None = None


class IntakeMemory:
    def __init__(
        self, kecamatan: Sequence[Kecamatan] = (), clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        # their settings as configure_kecamatan stores them (numbers and addresses normalised)
        self.kecamatan = {k.slug: replace(k, settings=validate_settings(k.settings)) for k in kecamatan}
        self.clock = clock  # the outbox rows' creation time, as the database's now() is
        self.submissions: dict[UUID, Submission] = {}
        self.attachments: list[Attachment] = []
        self.inbound: dict[tuple[str, str], Inbound] = {}
        self.statuses: dict[tuple[str, str], ChannelStatus] = {}
        self.outbox: list[OutboxRow] = []
        self.tracking: dict[UUID, TrackingRow] = {}
        self.lock = threading.Lock()  # commits apply one at a time
        self._key_locks: dict[tuple[Any, ...], threading.Lock] = {}

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self)

    def project(self, row: TrackingRow) -> None:
        """The tracking row the projection writes when the workflow's events of a complaint arrive."""
        with self.lock:
            self.tracking[row.complaint_id] = row

    def key_lock(self, key: tuple[Any, ...]) -> threading.Lock:
        with self.lock:
            return self._key_locks.setdefault(key, threading.Lock())


class InMemoryUnitOfWork:
    def __init__(self, memory: IntakeMemory) -> None:
        self._memory = memory

    def __enter__(self) -> Self:
        self._held: list[threading.Lock] = []
        memory = self._memory
        self.submissions = InMemorySubmissions(memory, self._take)
        self.attachments = InMemoryAttachments(memory, self.submissions)
        self.inbound = InMemoryInboundMessages(memory, self._take, self.submissions)
        self.attachments.inbound = self.inbound
        self.statuses = InMemoryChannelStatuses(memory, self._take)
        self.outbox = InMemoryOutbox(memory)
        self.tracking = InMemoryTracking(memory, self.submissions, self._take)
        self.routes = InMemoryRoutes(memory)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.rollback()

    def _take(self, key: tuple[Any, ...]) -> None:
        lock = self._memory.key_lock(key)
        if lock in self._held:
            return
        if not lock.acquire(timeout=LOCK_TIMEOUT):
            raise LockNotAvailable(f"{key[0]} {key[1:]} is held by another open unit of work")
        self._held.append(lock)

    def commit(self) -> None:
        memory = self._memory
        with memory.lock:
            memory.submissions.update(self.submissions.written)
            memory.attachments.extend(self.attachments.written)
            memory.inbound.update(self.inbound.written)
            memory.statuses.update(self.statuses.written)
            memory.outbox.extend(self.outbox.written)
            memory.tracking.update(self.tracking.written)
        self._forget()

    def rollback(self) -> None:
        self._forget()

    def _forget(self) -> None:
        self.submissions.written.clear()
        self.attachments.written.clear()
        self.inbound.written.clear()
        self.statuses.written.clear()
        self.outbox.written.clear()
        self.tracking.written.clear()
        while self._held:
            self._held.pop().release()


class InMemorySubmissions:
    def __init__(self, memory: IntakeMemory, take: Take) -> None:
        self._memory, self._take = memory, take
        self.written: dict[UUID, Submission] = {}

    def all(self) -> list[Submission]:
        return [*self._memory.submissions.values(), *self.written.values()]

    @staticmethod
    def _keys(s: Submission) -> list[tuple[Any, ...]]:
        keys: list[tuple[Any, ...]] = [("id", s.id), ("complaint_id", s.complaint_id), ("code", s.tracking_code)]
        return [*keys, ("key", s.idempotency_key)] if s.idempotency_key is not None else keys

    def add(self, submission: Submission) -> bool:
        keys = self._keys(submission)
        for key in keys:
            self._take(("submission", *key))  # another unit writing the same key: wait for it to end
        taken = {k for s in self.all() for k in self._keys(s)}
        if any(k in taken for k in keys):
            return False
        self.written[submission.id] = submission
        return True

    def get(self, submission_id: UUID) -> Submission | None:
        return self.written.get(submission_id) or self._memory.submissions.get(submission_id)

    def with_idempotency_key(self, key: str) -> Submission | None:
        return next((s for s in self.all() if s.idempotency_key == key), None)

    def tracking_code(self, complaint_id: UUID) -> str | None:
        return next((s.tracking_code for s in self.all() if s.complaint_id == complaint_id), None)

    def of_complaint(self, complaint_id: UUID) -> Submission | None:
        return next((s for s in self.all() if s.complaint_id == complaint_id), None)


class InMemoryAttachments:
    def __init__(self, memory: IntakeMemory, submissions: InMemorySubmissions) -> None:
        self._memory, self._submissions = memory, submissions
        self.inbound: InMemoryInboundMessages | None = None
        self.written: list[Attachment] = []

    def add(self, rows: Sequence[Attachment]) -> None:
        self.written.extend(rows)

    def _complaint(self, a: Attachment) -> UUID | None:
        if a.submission_id is not None:
            submission = self._submissions.get(a.submission_id)
            if submission is not None:
                return submission.complaint_id
        if a.inbound_message_id is not None and self.inbound is not None:
            message = self.inbound.by_id(a.inbound_message_id)
            if message is not None:
                return message.complaint_id
        return None

    def linked(self, sha256: str, complaint_id: UUID | None, limit: int) -> list[StoredAttachment]:
        found = []
        for a in [*self._memory.attachments, *self.written]:
            linked = self._complaint(a)
            if a.sha256 == sha256 and linked is not None and complaint_id in (None, linked):
                found.append(StoredAttachment(a.sha256, a.content_type, a.filename, a.kecamatan, linked))
        return found[:limit]


class InMemoryInboundMessages:
    def __init__(self, memory: IntakeMemory, take: Take, submissions: InMemorySubmissions) -> None:
        self._memory, self._take, self._submissions = memory, take, submissions
        self.written: dict[tuple[str, str], Inbound] = {}

    def _get(self, key: tuple[str, str]) -> Inbound | None:
        return self.written.get(key) or self._memory.inbound.get(key)

    def by_id(self, inbound_id: UUID) -> Inbound | None:
        return next((m for m in [*self._memory.inbound.values(), *self.written.values()] if m.id == inbound_id), None)

    def add(self, message: Inbound) -> bool:
        key = (message.channel, message.provider_message_hash)
        self._take(("inbound", *key))
        if self._get(key) is not None or self.by_id(message.id) is not None:
            return False
        self.written[key] = message
        return True

    def outcome(self, channel: str, hashes: Sequence[str]) -> InboundRecord | None:
        m = next((found for h in hashes if (found := self._get((channel, h))) is not None), None)
        if m is None:
            return None
        code = self._submissions.tracking_code(m.complaint_id) if m.complaint_id is not None else None
        return InboundRecord(m.id, m.result, m.kecamatan, m.complaint_id, m.note, code)


class InMemoryChannelStatuses:
    def __init__(self, memory: IntakeMemory, take: Take) -> None:
        self._memory, self._take = memory, take
        self.written: dict[tuple[str, str], ChannelStatus] = {}

    def _get(self, key: tuple[str, str]) -> ChannelStatus | None:
        return self.written.get(key) or self._memory.statuses.get(key)

    def add(self, status: ChannelStatus) -> bool:
        key = (status.provider_message_hash, status.status)
        self._take(("status", *key))
        if self._get(key) is not None:
            return False
        self.written[key] = status
        return True

    def id_of(self, provider_message_hash: str, status: str) -> UUID | None:
        found = self._get((provider_message_hash, status))
        return found.id if found is not None else None


class InMemoryOutbox:
    def __init__(self, memory: IntakeMemory) -> None:
        self._memory = memory
        self.written: list[OutboxRow] = []

    def put(self, *, id: UUID, message_type: str, task: str, queue: str, payload: dict[str, Any]) -> None:
        if any(r.id == id for r in [*self._memory.outbox, *self.written]):
            raise ValueError(f"outbox row {id} exists")  # the primary key, as in PostgreSQL
        self.written.append(OutboxRow(id, message_type, task, queue, payload, self._memory.clock()))

    def backlog(self) -> tuple[int, float]:
        waiting = [r for r in [*self._memory.outbox, *self.written] if r.published_at is None]
        if not waiting:
            return 0, 0.0
        oldest = min(r.created_at for r in waiting)
        return len(waiting), max(0.0, (self._memory.clock() - oldest).total_seconds())


class InMemoryTracking:
    def __init__(
        self, memory: IntakeMemory, submissions: InMemorySubmissions, take: Callable[[tuple[Any, ...]], None]
    ) -> None:
        self._memory, self._submissions, self._take = memory, submissions, take
        self.written: dict[UUID, TrackingRow] = {}  # an answer taken (claim_feedback), kept at commit

    def by_code(self, tracking_code: str) -> Tracked | None:
        s = next((s for s in self._submissions.all() if s.tracking_code == tracking_code), None)
        if s is None:
            return None
        t = self._memory.tracking.get(s.complaint_id)
        complainant = s.complainant.model_dump(mode="json")
        if t is None:
            return Tracked(
                s.tracking_code, s.kecamatan, s.received_at, complainant=complainant, complaint_id=s.complaint_id
            )
        return Tracked(
            s.tracking_code,
            s.kecamatan,
            s.received_at,
            status=t.status,
            current_step=t.current_step,
            sop_version=t.sop_version,
            steps=list(t.steps),
            outcome=t.outcome,
            referred_to=t.referred_to,
            referral_state=t.referral_state,
            follow_up_by=t.follow_up_by,
            referral_answer=t.referral_answer,
            referral_answered_on=t.referral_answered_on,
            complainant=complainant,
            complaint_id=s.complaint_id,
            closings=t.closings,
            closed_at=t.closed_at,
            feedback_closing=t.feedback_closing,
            reopened=t.reopened,
            objection_state=t.objection_state,
            objection_answer=t.objection_answer,
        )

    def claim_feedback(self, complaint_id: UUID, closing: int) -> bool:
        self._take(("tracking", complaint_id))  # as the row's lock: a concurrent answer waits, then sees this one
        t = self.written.get(complaint_id) or self._memory.tracking.get(complaint_id)
        if t is None or (t.status, t.outcome, t.closings) != ("closed", "resolved", closing):
            return False
        if t.feedback_closing >= closing:
            return False
        self.written[complaint_id] = replace(t, feedback_closing=closing)
        return True

    def awaiting_documents(self, kecamatan: str, channel: str, sender: str) -> UUID | None:
        def same_sender(s: Submission) -> bool:
            if channel == "email":
                return (s.complainant.email or "").lower() == sender.lower()
            return s.complainant.phone == sender

        awaiting = [
            s
            for s in self._submissions.all()
            if s.kecamatan == kecamatan
            and same_sender(s)
            and (t := self._memory.tracking.get(s.complaint_id)) is not None
            and t.status == "awaiting_documents"
        ]
        return max(awaiting, key=lambda s: s.received_at).complaint_id if awaiting else None


class InMemoryRoutes:
    def __init__(self, memory: IntakeMemory) -> None:
        self._memory = memory

    def claiming(self, key: str, address: str) -> list[str]:
        return sorted(
            k.slug
            for k in self._memory.kecamatan.values()
            if k.active and address in (k.settings.get("channels") or {}).get(key, [])
        )
