"""The unit of work notify's handlers run in: one transaction over what they read and write of notify's own data,
of the staff directory and of the workflow's events.

- ``events``: the workflow's events (``workflow.events``, through the event store), read only, in the unit's
  transaction: a plan reads its event and the event's history in the transaction that writes the plan, where a
  read of its own was a transaction (and a connection) more for every event.

- ``deliveries``: one row per message (``notify.deliveries``), whose id is its idempotency key. ``add`` writes
  the rows of a plan and leaves alone any that exist (a redelivered event plans nothing new); ``get(lock=True)``
  takes the row's lock until the unit ends, so that of several copies of a send one claims it; ``update`` writes
  only where the row is still in the given states and, for a send's outcome, still carries the claim's
  ``sending_since``: a late worker cannot overwrite a reconciliation (ADR 0013, 2). The scheduler's sweeps
  find what is due, stale or unreported.
- ``escalations``: the overdue alerts, one per (event, user) (``notify.escalations``).
- ``templates``: the texts people edited (``notify.templates``), per kecamatan or for all (``*``).
- ``staff``: the staff directory, read-only (accounts' view ``tenancy.staff_directory``, ADR 0010).
- ``handoffs``: notify's hand-off ledger (``notify.handoffs``), the reports to the workflow until its inbox
  has them.
- ``hold_personal_data``: whether the complainant's personal data may still be written here (not erased), holding
  an erasure off until the unit ends (a message planned from values read a moment before an erasure is either
  there for notify's erasure to scrub, or not written: docs/adr/0017).
- ``dead_letters``: the messages notify's worker could not handle (``notify.dead_letters``, written by the
  worker's machinery, ``shared.tasks``), read and rewritten here only when a complainant's personal data is
  erased (handlers/erasure.py).

- ``inbox``: the consumer inbox (``notify.inbox``), written only. Notify is idempotent by its delivery ids and
  never reads it: a message is recorded there only so that the reconcilers stop sending it again (ADR 0013, 1).
  The plan records its event in the unit that commits the plan (``shared.service.Consumer.records_inbox``); the
  other tasks' messages are recorded by the worker's machinery (``shared.tasks``) after their handler returned,
  and a dead letter's by the machinery too.

Nothing is kept unless ``commit()`` is called inside the ``with`` block; leaving it otherwise rolls back and
releases the row locks taken. One unit of work per step of a handler, never shared; the provider is called
between two units, never inside one.

Two implementations keep the same contract (tests/contracts/notify_uow.py): ``adapters/postgres.py`` over
notify's tables, and ``adapters/memory.py``, dicts for unit tests.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Any, Protocol, Self
from uuid import UUID

from shared.events import EventEnvelope
from shared.handoffs import Handoff

Row = dict[str, Any]  # a row's columns by name (notify/adapters/tables.py)


class WorkflowEvents(Protocol):
    """The workflow's event store, read in the unit's transaction."""

    def stream(self, stream_id: str) -> list[EventEnvelope]:
        """A stream's events in version order."""

    def stream_to(self, event_id: UUID) -> list[EventEnvelope]:
        """The event's stream up to and including it, in version order (empty: no such event)."""


class Inbox(Protocol):
    def record(self, consumer: str, message_id: UUID) -> None:
        """The message (by the id its producer's ledger knows it by) handled by ``consumer`` (a task's name), once the
        unit commits: the reconcilers stop sending it again. One recorded before stays as it is."""


class Deliveries(Protocol):
    def get(self, delivery_id: UUID, *, lock: bool = False) -> Row | None:
        """The row, or None; ``lock``: held until the unit of work ends (another unit asking waits)."""

    def by_provider(self, provider: str | None, hashes: Collection[str], *, lock: bool = False) -> Row | None:
        """The row a provider knows by its own message id, found by the id's keyed hash (one of ``hashes``: the id
        under each configured key, ``shared.privacy.ProviderIdHashes.candidates``), or None."""

    def many(self, ids: Collection[UUID]) -> list[Row]:
        """The rows of these ids that exist (in no particular order)."""

    def add(self, rows: Sequence[Row]) -> list[Row]:
        """New rows, all with the same columns (every one but the defaults: attempts 0, the provider's and the
        report's fields empty, unless given); a row whose id exists already is left as it is. Returns the rows it
        added, as stored (every column), not those that existed."""

    def update(
        self,
        delivery_id: UUID,
        values: Mapping[str, Any],
        *,
        states: Collection[str] | None = None,
        sending_since: datetime | None = None,
    ) -> Row | None:
        """Write ``values`` to the row if it is in one of ``states`` (any, when None) and, given
        ``sending_since``, still carries that claim; the row as written, or None when it did not match."""

    def listing(self, *, state: str | None, complaint_id: UUID | None, limit: int) -> list[Row]:
        """Rows of a state and of a complaint (each when given), the latest updated first."""

    def of_complaint(self, complaint_id: UUID, *, lock: bool = False) -> list[Row]:
        """Every row of a complaint (in no particular order); ``lock``: each held until the unit ends."""

    def take_due(self, now: datetime, grace: timedelta, limit: int) -> list[Row]:
        """Pending rows whose next attempt is due and that were not enqueued within ``grace``, stamped as enqueued
        ``now``: the ``limit`` earliest due, in no particular order; rows another unit holds are skipped, not
        waited for."""

    def stale(self, before: datetime, limit: int) -> list[Row]:
        """``sending`` rows claimed before ``before`` (their worker died: to be reconciled)."""

    def unreported(self, states: Collection[str], before: datetime, limit: int) -> list[Row]:
        """Rows in ``states`` last changed before ``before`` whose state was not reported."""


class Escalations(Protocol):
    def add(self, rows: Sequence[Row]) -> int:
        """The alerts of an overdue step, one per (event_id, username); returns how many were new."""


class Templates(Protocol):
    def applying(self, kecamatan: str, kabupaten: str | None = None) -> list[Row]:
        """The edited templates of a kecamatan, those of its kabupaten (``kabupaten:<slug>``) and those for every
        kecamatan (``*``)."""

    def all(self) -> list[Row]: ...

    def put(
        self, kecamatan: str, kind: str, channel: str, body: str, subject: str | None, updated_by: str | None
    ) -> None:
        """Store a template (replacing the one of the same kecamatan, kind and channel)."""

    def remove(self, kecamatan: str, kind: str, channel: str) -> bool:
        """False when there was none."""


class Staff(Protocol):
    def active(self, kecamatan: str, roles: Collection[str], *, new_work: bool = False) -> list[Row]:
        """Active staff of a kecamatan in ``roles`` (``new_work``: only those who asked to hear of new work),
        with their contacts (``shared.staff_directory``)."""

    def acting(self, kecamatan: str, roles: Collection[str], day: date) -> list[Row]:
        """Active staff acting ``day`` as a Plh./Plt. for one of ``roles`` (``shared.organisation_directory``):
        their rows with ``role`` and ``unit`` those of the delegation, and ``acting_kind`` (plh or plt)."""


class Handoffs(Protocol):
    def record(self, handoffs: Iterable[Handoff]) -> None:
        """Write to the ledger (one already there stays as it is)."""

    def of_complaint(self, complaint_id: UUID) -> list[Handoff]:
        """The hand-offs whose payload names the complaint (``complaint_id``: the reports)."""

    def rewrite(self, consumer: str, message_id: UUID, payload: Mapping[str, Any]) -> None:
        """Replace a hand-off's payload (it is published again as it now reads)."""


class DeadLetters(Protocol):
    def naming(
        self,
        *,
        event_ids: Collection[UUID],
        delivery_ids: Collection[UUID],
        provider_message_ids: Collection[str],
        provider_message_hashes: Collection[str] = (),
    ) -> list[Row]:
        """The dead letters whose payload names one of these: an event (``event_id``: notify.plan, escalate and
        the relay's other tasks), a delivery (``delivery_id``: notify.send, record_outcome; ``reference``, its
        id as 32 hex digits: a delivery receipt) or a provider's message id (a delivery receipt: by one of its
        keyed hashes in ``provider_message_hashes``, or, handed on before migration 0025, the id itself)."""

    def rewrite(self, letter_id: UUID, payload: Mapping[str, Any], error: str) -> None:
        """Replace a dead letter's payload and error (its task, queue and times stay)."""


class UnitOfWork(Protocol):
    @property
    def events(self) -> WorkflowEvents: ...

    @property
    def inbox(self) -> Inbox: ...

    @property
    def deliveries(self) -> Deliveries: ...

    @property
    def escalations(self) -> Escalations: ...

    @property
    def templates(self) -> Templates: ...

    @property
    def staff(self) -> Staff: ...

    @property
    def handoffs(self) -> Handoffs: ...

    @property
    def dead_letters(self) -> DeadLetters: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        """Rolls back what was not committed, and ends the unit of work."""

    def hold_personal_data(self, complaint_id: UUID) -> bool:
        """Whether the complainant's personal data may be written in this unit: True while it is not erased, and an
        erasure then waits for this unit to end (``shared.privacy.hold``); False once erased."""

    def limit_lock_waits(self, seconds: float) -> None:
        """A lock this unit waits for longer than ``seconds`` is an error (the database's, as for a blip): a send's
        outcome is written within a window, not whenever a lock is freed."""

    def commit(self) -> None: ...

    def rollback(self) -> None: ...
