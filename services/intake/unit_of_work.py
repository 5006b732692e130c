"""The unit of work intake's handlers run in: one transaction over everything a request or a channel's message
writes and reads.

- ``submissions``: the complaints submitted (every channel's), unique by id, complaint id, tracking code and
  idempotency key. ``add`` answers False and writes nothing when one of them is taken: the caller tells a
  collision of its drawn tracking code from its own earlier attempt or a replayed key by looking it up.
- ``attachments``: the rows of the files that came with a submission or a reply (the bytes are in the document
  store, by sha256), and which of them a reader may download.
- ``inbound``: every message that came in on a channel, unique by (channel, provider message id): the dedupe
  key, and what the message became.
- ``statuses``: WhatsApp's delivery statuses of our own messages, unique by (provider message id, status).
- ``outbox``: the messages to other services, published by the relay after the commit; its backlog.
- ``tracking``: the public status of a complaint (``intake.tracking``, written by the projection in
  ``adapters/tracking.py``, only read here), and a sender's complaint that awaits their documents.
- ``routes``: which active kecamatan claim a number or address a message was written to
  (``tenancy.kecamatan``, read only).

Nothing is kept unless ``commit()`` is called inside the ``with`` block; leaving it otherwise (an exception,
an early return) rolls everything back. One unit of work per attempt of a request, never shared: a write
tried again over a database blip (``adapters/retry.py``) opens a new one.

Two implementations keep the same contract (tests/contracts/intake_uow.py): ``adapters/postgres.py``, over
intake's tables, and ``adapters/memory.py``, dicts for unit tests. The file bytes stay in the document store
(``shared.storage``), which has a local implementation of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol, Self
from uuid import UUID

from shared.contracts.intake import Complainant
from shared.events import Contract


@dataclass(frozen=True)
class Submission:
    id: UUID
    complaint_id: UUID
    tracking_code: str
    kecamatan: str
    channel: str
    received_at: datetime
    complainant: Complainant
    subject: str
    description: str
    idempotency_key: str | None = None
    request_hash: str | None = None
    entered_at: datetime | None = None
    entered_by: str | None = None


@dataclass(frozen=True)
class Attachment:
    id: UUID
    sha256: str
    content_type: str
    size: int
    filename: str | None
    kind: str | None
    kecamatan: str
    submission_id: UUID | None = None
    inbound_message_id: UUID | None = None


@dataclass(frozen=True)
class StoredAttachment:
    """An attachment as a reader sees it, and the complaint it belongs to (recorded in the access log when a scan
    is downloaded)."""

    sha256: str
    content_type: str
    filename: str | None
    kecamatan: str
    complaint_id: UUID | None = None


@dataclass(frozen=True)
class Inbound:
    """A message that came in on a channel, and what it became (``result``: complaint, reply or ignored). The
    provider's id of the message is kept only as its keyed hash (``shared.privacy.ProviderIdHashes``: a WhatsApp id
    holds the sender's phone number; docs/adr/0017, decision 7), which a redelivery is recognised by."""

    id: UUID
    channel: str
    provider_message_hash: str
    received_at: datetime
    result: str
    kecamatan: str | None = None
    sender: str | None = None
    submission_id: UUID | None = None
    complaint_id: UUID | None = None
    note: str | None = None


@dataclass(frozen=True)
class InboundRecord:
    """What a recorded message became, with the tracking code of its complaint (None when ignored)."""

    id: UUID
    result: str
    kecamatan: str | None
    complaint_id: UUID | None
    note: str | None
    tracking_code: str | None


@dataclass(frozen=True)
class ChannelStatus:
    """A delivery receipt of one of our messages, by the keyed hash of the provider's id of it (the id holds the
    recipient's number) and without the recipient: neither is needed to hand it on."""

    id: UUID
    provider: str
    provider_message_hash: str
    status: str
    biz_opaque_callback_data: str | None
    recipient_id: str | None
    timestamp: datetime | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class Tracked:
    """A complaint's public status: its submission and, once the projection saw it, its tracking row (the
    fields after ``received_at`` are None until then)."""

    tracking_code: str
    kecamatan: str
    received_at: datetime
    status: str | None = None
    current_step: int | None = None
    sop_version: str | None = None
    steps: list[Any] | None = None
    outcome: str | None = None
    referred_to: str | None = None
    referral_state: str | None = None  # followed | answered | lapsed | ended | unfollowed
    follow_up_by: datetime | None = None
    referral_answer: str | None = None  # as recorded: mask it (shared.masking.scrub) before showing it
    referral_answered_on: date | None = None
    complainant: dict[str, Any] | None = None  # the submission's: what the answer is masked of, never shown
    # after a closing with a response (docs/adr/0020): how many, the latest's time, the latest answered, reopenings,
    # a keberatan (open | answered)
    complaint_id: UUID | None = None
    closings: int = 0
    closed_at: datetime | None = None
    feedback_closing: int = 0
    reopened: int = 0
    objection_state: str | None = None
    objection_answer: str | None = None  # the Camat's, when upheld: mask it (shared.masking.scrub) before showing it


class Submissions(Protocol):
    def add(self, submission: Submission) -> bool:
        """Write the submission; False (nothing written) when its id, complaint id, tracking code or idempotency
        key is taken. In PostgreSQL a concurrent writer of the same key is waited for, then seen."""

    def get(self, submission_id: UUID) -> Submission | None: ...

    def with_idempotency_key(self, key: str) -> Submission | None: ...

    def tracking_code(self, complaint_id: UUID) -> str | None: ...

    def of_complaint(self, complaint_id: UUID) -> Submission | None:
        """The submission that became ``complaint_id`` (None: another way in, or unknown)."""


class Attachments(Protocol):
    def add(self, attachments: Sequence[Attachment]) -> None: ...

    def linked(self, sha256: str, complaint_id: UUID | None, limit: int) -> list[StoredAttachment]:
        """Attachments with these bytes that belong to a complaint (through their submission, or the inbound
        message that joined it), of ``complaint_id`` when given, oldest first."""


class InboundMessages(Protocol):
    def add(self, message: Inbound) -> bool:
        """Record the message; False (nothing written) when its (channel, provider message hash) was recorded."""

    def outcome(self, channel: str, hashes: Sequence[str]) -> InboundRecord | None:
        """What the message recorded on ``channel`` under one of ``hashes`` (its id's keyed hash under each
        configured key) became, or None."""


class ChannelStatuses(Protocol):
    def add(self, status: ChannelStatus) -> bool:
        """Record the status; False (nothing written) when (provider message hash, status) was recorded."""

    def id_of(self, provider_message_hash: str, status: str) -> UUID | None: ...


class Outbox(Protocol):
    def put(self, *, id: UUID, message_type: str, task: str, queue: str, payload: dict[str, Any]) -> None:
        """One message for another service; the publisher sends it once the unit of work commits."""

    def backlog(self) -> tuple[int, float]:
        """How many messages wait to be published, and the age in seconds of the oldest (0 when none)."""


class Tracking(Protocol):
    def by_code(self, tracking_code: str) -> Tracked | None: ...

    def claim_feedback(self, complaint_id: UUID, closing: int) -> bool:
        """Take the complainant's answer to ``closing`` (docs/adr/0020): True once, while that is the latest closing
        of a complaint closed with a response; False otherwise (answered already, reopened, not closed so)."""

    def awaiting_documents(self, kecamatan: str, channel: str, sender: str) -> UUID | None:
        """The most recent complaint in ``kecamatan`` from ``sender`` (its phone, or for e-mail its address in
        any case) that waits for their documents."""


class Routes(Protocol):
    def claiming(self, key: str, address: str) -> list[str]:
        """The active kecamatan, by slug, whose ``settings.channels[key]`` lists ``address``."""


class UnitOfWork(Protocol):
    @property
    def submissions(self) -> Submissions: ...

    @property
    def attachments(self) -> Attachments: ...

    @property
    def inbound(self) -> InboundMessages: ...

    @property
    def statuses(self) -> ChannelStatuses: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def tracking(self) -> Tracking: ...

    @property
    def routes(self) -> Routes: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        """Rolls back what was not committed, and ends the unit of work."""

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


def put_contract(outbox: Outbox, id: UUID, message: Contract) -> None:
    """A contract message (its type, task and queue are the contract's) into the outbox."""
    outbox.put(
        id=id,
        message_type=message.type,
        task=message.TASK,
        queue=message.QUEUE,
        payload=message.model_dump(mode="json"),
    )
