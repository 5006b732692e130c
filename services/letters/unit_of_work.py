"""The unit of work letters' handlers run in: one transaction over everything they read and write.

- ``events``: the workflow's events letters reacts to, read through the event store. Read only: letters
  appends nothing, and an event, once stored, never changes.
- ``documents``: ``letters.documents``, one row per source event (the event a document was made for).
  ``add`` keeps the first row of an event and answers the row kept, so a message handled twice, or by two
  workers at once, yields one document. The reads are what the handlers and the API ask of it: by id, by
  source event, a complaint's documents, the newest of a kind by tracking code, the signed letter with
  given bytes. ``erase`` marks a complaint's documents erased (the complainant's personal data erased, docs/adr/0017:
  the row stays, its PDF goes, its ``perihal`` is cleared), and ``kept_elsewhere`` says which PDFs another
  complaint's rows still need (the store is content-addressed: one copy may serve two complaints).
- ``staff``: the staff directory (``tenancy.staff_directory``), for the name and NIP printed under the
  Camat's signature.
- ``units``: the kecamatan's units (``tenancy.unit_directory``, accounts' view), for the unit and its head a
  Lembar Disposisi is addressed to.
- ``esigned``: ``letters.esigned``, the response letters signed through BSrE at step 10 before the workflow
  recorded the signature, keyed by the id its ``LetterSigned`` will have (docs/adr/0016); erased with the
  complaint's documents.
- ``outbox``: messages to other services (``LetterDocumentIssued``), written to letters' hand-off ledger
  (``letters.handoffs``) with the unit's other writes and handed to the broker once the commit succeeded: the
  workflow never hears of a document that is not on record, and the ledger's reconciler sends again what
  the broker lost.

There is no inbox here: letters is idempotent by its own key (one document per source event), and the
message is recorded in ``letters.inbox`` afterwards by the worker (``shared.tasks``), for the reconcilers.

Nothing is kept unless ``commit()`` is called inside the ``with`` block; leaving it otherwise (an exception,
an early return) rolls everything back and sends nothing. One unit of work per message or request, never
shared.

Two implementations keep the same contract (tests/contracts/letters_uow.py): ``adapters/postgres.py``, over
letters' tables and the PostgreSQL event store, and ``adapters/memory.py``, dicts for unit tests.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from types import TracebackType
from typing import Any, NamedTuple, Protocol, Self
from uuid import UUID

from shared.contracts.organisation import UnitEntry
from shared.events import EventEnvelope
from shared.handoffs import Handoff

# the columns of a document a handler writes; ``created_at`` is the time of the insert, ``released_at`` may
# be given (a receipt is the complainant's at once) or set later by ``release``
DOCUMENT_COLUMNS = (
    "id",
    "source_event_id",
    "complaint_id",
    "tracking_code",
    "kecamatan",
    "kind",
    "letter_version",
    "letter_number",
    "perihal",
    "signer",
    "signed_on",
    "sha256",
    "size",
    "released_at",
)

# the kinds of ``letters.documents`` (``kind``): what each row is
RECEIPT = "receipt"  # tanda terima, the complainant's at once
DRAFT = "draft"  # a draft of the response letter (step 7), one per version
RESPONSE_LETTER = "response_letter"  # the signed, numbered surat tanggapan (step 10)
REFERRAL_LETTER = "referral_letter"  # the signed, numbered surat pelimpahan to the receiving office (step 4)
DISPOSITION_SHEET = "disposition_sheet"  # the Lembar Disposisi (step 4, and each redirect)
# the letters signed with the kecamatan's key, numbered, and verifiable by anyone holding one (their QR code)
SIGNED_KINDS = (RESPONSE_LETTER, REFERRAL_LETTER)


class WorkflowEvents(Protocol):
    def get(self, event_id: UUID) -> EventEnvelope | None:
        """The event with this id, or None."""

    def stream(self, stream_id: str) -> list[EventEnvelope]:
        """A stream's events in version order."""

    def hold_personal_data(self, complaint_id: UUID) -> bool:
        """Whether the complainant's personal data may be written in this unit: True while it is not erased, and an
        erasure then waits for this unit to end (``shared.privacy.hold``: a document made from values read a moment
        before an erasure is there for letters' erasure to delete); False once erased."""


class Documents(Protocol):
    """``letters.documents``: rows as dicts of its columns by name."""

    def add(self, values: dict[str, Any]) -> dict[str, Any]:
        """Record a document (``values``: some of ``DOCUMENT_COLUMNS``), unless its source event has one already:
        either way, the row of that event. A second writer of the same event waits for the first to end."""

    def get(self, document_id: UUID) -> dict[str, Any] | None: ...

    def of_source_event(self, event_id: UUID) -> dict[str, Any] | None: ...

    def of_complaint(self, complaint_id: UUID) -> list[dict[str, Any]]:
        """A complaint's documents, oldest first."""

    def newest(self, tracking_code: str, kind: str, *, released: bool = False) -> dict[str, Any] | None:
        """The newest document of ``kind`` for a (normalised) tracking code (``released``: of those released to the
        complainant: while a reopened complaint's new letter waits, the one sent before)."""

    def signed_letter_with(self, sha256: str) -> dict[str, Any] | None:
        """The signed letter (a kind of ``SIGNED_KINDS``) whose stored bytes have this SHA-256 (hex), if any."""

    def release(self, complaint_id: UUID, at: datetime) -> int:
        """The complaint's response letters not yet released become the complainant's at ``at``; how many."""

    def erase(self, complaint_id: UUID, at: datetime) -> int:
        """The complaint's documents not erased yet get ``erased_at`` = ``at`` and lose their ``perihal``; how many.
        The rows stay, with their kind, number, date, signer, SHA-256 and size."""

    def kept_elsewhere(self, sha256s: Collection[str], complaint_id: UUID) -> set[str]:
        """Of ``sha256s``, those a row of another complaint, not erased, holds (in ``letters.documents`` or
        ``letters.esigned``): bytes that complaint still needs."""


class StaffName(NamedTuple):
    full_name: str
    nip: str | None
    pangkat: str | None = None  # "Pembina Tingkat I" (migration 0015)
    golongan: str | None = None  # "IV/b"
    tte_nik: str | None = None  # the NIK their BSrE certificate is registered under (migration 0019)


class Staff(Protocol):
    def get(self, username: str) -> StaffName | None:
        """A user's name, NIP, pangkat, golongan and NIK for BSrE as the staff directory has them, or None."""


class Esigned(Protocol):
    """``letters.esigned``: response letters signed through BSrE at step 10, by the id of the ``LetterSigned`` event
    the workflow is about to append (docs/adr/0016); rows as dicts of its columns."""

    def add(self, values: dict[str, Any]) -> dict[str, Any]:
        """Keep a signed letter (``event_id``, ``complaint_id``, ``kecamatan``, ``letter_version``,
        ``letter_number``, ``signer``, ``sha256``, ``size``), unless that event has one: either way, the row kept."""

    def get(self, event_id: UUID) -> dict[str, Any] | None: ...

    def of_complaint(self, complaint_id: UUID) -> list[dict[str, Any]]:
        """A complaint's rows, in no particular order."""

    def erase(self, complaint_id: UUID, at: datetime) -> int:
        """The complaint's rows not erased yet get ``erased_at`` = ``at``; how many."""


class Units(Protocol):
    def get(self, kecamatan: str, code: str) -> UnitEntry | None:
        """The unit of ``kecamatan`` with this code, retired or not, with its head if it has one; or None."""


class Outbox(Protocol):
    def add(self, handoff: Handoff) -> None:
        """Hand ``handoff`` to the broker once the unit commits; written to the ledger with the unit's writes."""


class UnitOfWork(Protocol):
    @property
    def events(self) -> WorkflowEvents: ...

    @property
    def documents(self) -> Documents: ...

    @property
    def staff(self) -> Staff: ...

    @property
    def units(self) -> Units: ...

    @property
    def esigned(self) -> Esigned: ...

    @property
    def outbox(self) -> Outbox: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        """Rolls back what was not committed, and ends the unit of work."""

    def commit(self) -> None:
        """Keep the writes, then hand the outbox's messages to the broker."""

    def rollback(self) -> None: ...
