"""The unit of work the workflow's handlers run in: one transaction over everything they touch.

- ``events``: the complaint streams. ``append`` states the version the stream must be at (``ConcurrencyError``
  when another writer got there first, ``DuplicateEventError`` for an event id already stored).
- ``inbox``: the consumer inbox. ``claim`` records a message as handled, or answers False when it already was:
  with the append in the same transaction, a redelivered message has its effect once.
- ``complaints``: the read model, one row per complaint, written with every append; what the scheduler and
  the staff's inboxes query.
- ``counters``: the numbers people write on paper (register, surat_keluar), gapless per kecamatan per year.

Nothing is kept unless ``commit()`` is called inside the ``with`` block; leaving it otherwise (an exception,
an early return) rolls everything back: the inbox claim is released and the numbers taken are given back.
One unit of work per message or request, never shared.

Two implementations keep the same contract (tests/contracts/workflow_uow.py): ``adapters/postgres.py``, over
the workflow's tables and the PostgreSQL event store, and ``adapters/memory.py``, dicts for unit tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self
from uuid import UUID

from services.workflow.domain.model import Complaint
from shared.contracts.intake import Complainant
from shared.events import EventEnvelope


class EventStreams(Protocol):
    def read(self, stream_id: str) -> list[EventEnvelope]:
        """The stream's events in version order, this unit of work's appends included."""

    def append(self, stream_id: str, expected_version: int, events: Sequence[EventEnvelope]) -> None:
        """Append to a stream that must be at ``expected_version``. Call it last, and commit soon: in PostgreSQL
        the store's readers do not read past a position drawn by a transaction still running (docs/adr/0027)."""

    def erase_personal_data(self, complaint_id: UUID, *, by: str, reason: str) -> bool:
        """Destroy the complaint's data key (docs/adr/0017): its sealed values read as erased from then on, this
        unit's appends included; and remove the copies of its personal data in the workflow's dead letters. False
        when its key was erased already."""


class Inbox(Protocol):
    def claim(self, consumer: str, message_id: UUID) -> bool:
        """Record ``message_id`` as handled by ``consumer``; False when it already was (nothing to do)."""


class Complaints(Protocol):
    """The read model (``workflow.complaints``)."""

    def get(self, complaint_id: UUID) -> dict[str, Any] | None:
        """The complaint's row (its columns by name), or None."""

    def add(self, state: Complaint, at: datetime, *, subject: str, channel: str, received_at: datetime) -> None:
        """The row of a complaint just received; nothing when it exists already."""

    def update(self, state: Complaint, at: datetime) -> None:
        """The row after an append (``state``: the complaint after it)."""

    def overdue(self, now: datetime, limit: int) -> list[UUID]:
        """Complaints in progress whose step was due before ``now`` and not yet flagged, earliest due first."""

    def expired_document_requests(self, now: datetime, limit: int) -> list[UUID]:
        """Complaints awaiting documents past their time to close, earliest first."""

    def expired_referrals(self, now: datetime, limit: int) -> list[UUID]:
        """Referred complaints (dilimpahkan) whose follow-up time passed without an answer, earliest first."""

    def past_retention(self, closed_before: Mapping[str, datetime], limit: int) -> list[UUID]:
        """Closed complaints whose personal data is not erased yet and which closed before their kecamatan's
        ``closed_before`` (kecamatan not in it: none), earliest closed first."""


class PrivacyRequests(Protocol):
    """The record of requests about a complainant's personal data (``privacy.requests``, migration 0023)."""

    def add(self, row: Mapping[str, Any]) -> None:
        """One request and its outcome: id, kind, complaint_id, kecamatan, requested_by, reason, received_at,
        outcome (``done``/``refused``), decided_at, detail."""

    def list(self, *, kecamatan: Sequence[str] | None, kind: str | None, limit: int) -> list[dict[str, Any]]:
        """The latest requests first; only those of ``kecamatan`` unless None (all)."""


class Duplicates(Protocol):
    """What possible duplicates are found by (docs/adr/0021): the keyed hashes of the complainant's NIK, phone and
    e-mail (``privacy.lookups``; docs/adr/0017 decision 13) and the complaint's comparable text."""

    def record(
        self,
        complaint_id: UUID,
        kecamatan: str,
        complainant: Complainant,
        *,
        subject: str | None = None,
        description: str | None = None,
    ) -> None:
        """The complainant's lookups as recorded now (an earlier record's replaced: a correction); with ``subject``
        and ``description`` (a complaint received), its text too."""

    def erase(self, complaint_id: UUID) -> None:
        """Both gone, with the complaint's personal data."""


# A counter that took over from others: its first number of a kecamatan's year comes after the highest any of them
# gave that year, so that no number given before is given again. "surat_keluar", the register of outgoing letters
# (issue #16), replaced "letter" (response letters) and "referral" (surat pelimpahan), which counted apart.
COUNTER_SUCCESSORS: dict[str, tuple[str, ...]] = {"surat_keluar": ("letter", "referral")}


class Counters(Protocol):
    def next(self, kind: str, kecamatan: str, year: int) -> int:
        """The next number of ``kind`` (``register``, ``surat_keluar``) of a kecamatan's year: 1, 2, 3 ... (for a
        kind of ``COUNTER_SUCCESSORS``, the first is one more than the highest of the counters it took over from).
        The counter stays taken until the unit of work ends (another asking for it waits); a rollback gives the
        number back."""


class UnitOfWork(Protocol):
    @property
    def events(self) -> EventStreams: ...

    @property
    def inbox(self) -> Inbox: ...

    @property
    def complaints(self) -> Complaints: ...

    @property
    def counters(self) -> Counters: ...

    @property
    def requests(self) -> PrivacyRequests: ...

    @property
    def duplicates(self) -> Duplicates: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        """Rolls back what was not committed, and ends the unit of work."""

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


def read_model_values(state: Complaint, at: datetime) -> dict[str, Any]:
    """What the read model keeps of a complaint's state (both implementations write exactly this)."""
    return {
        "status": state.status,
        "outcome": state.outcome,
        "current_step": state.current_step if state.status != "closed" else None,
        "waiting_role": state.waiting_role,
        "unit": state.unit,
        "step_due_at": state.step_due_at,
        "deadline_at": state.deadline_at,
        "documents_close_after": state.documents_close_after,
        "overdue_flagged": state.overdue_flagged,
        "register_number": state.register_number,
        "register_year": state.register_year,
        "letter_number": state.letter_number,
        "closed_at": state.closed_at,
        "personal_data_erased": state.personal_data_erased,
        "confidential": state.confidential,
        "updated_at": at,
        "version": state.revision,
    }
