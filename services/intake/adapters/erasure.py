"""A complainant's personal data erased (``workflow.PersonalDataErased``; UU 27/2022 PDP, docs/adr/0017): intake
removes it from its own copies. The tracking projection (``adapters/tracking.py``) calls ``IntakeErasure.apply``
when it meets the event, inside the transaction that moves its checkpoint: the copies are scrubbed exactly when
the projection is past the event, and a round that fails scrubs nothing and is tried again.

What changes (every row tied to the complaint by intake's own columns, or by the complaint's own events):

* ``submissions.complainant`` -> ``{"name": ERASED_NAME}`` (name, NIK, phone, e-mail, address gone). The
  subject and description stay: they are the complaint's substance, which the history keeps in clear too. The
  ``request_hash`` (a SHA-256 over the whole request, for an idempotent retry) and the idempotency key stay.
* ``outbox`` rows whose payload names the complaint (``ComplaintSubmitted``, ``ComplainantReplied``): the
  ``complainant`` as above, a reply's ``sender`` -> ``ERASED_SENDER``, every attachment's ``filename`` -> null.
* ``inbound_messages`` of the complaint (the message that opened it, the replies): ``sender`` and ``note`` -> null.
* ``attachments`` of the complaint (its submission's and its replies'): ``filename`` -> null; the scans and photos
  themselves are deleted from the document store, unless an attachment row of another complaint whose data was
  not erased, or of no complaint, holds the same bytes (content addressing keeps one copy for both).
* ``channel_statuses`` of the messages sent about the complaint (tied by the keyed hash of the provider's message
  id or by our reference, both in clear in the complaint's ``Notification*`` events, whose sealed id no longer
  reads): ``recipient_id`` -> null, and the same key and the message's id out of ``raw``. Statuses recorded since
  migration 0025 hold neither (``handlers/statuses.py``); the scrub is for rows written before it.
* ``inbound_messages`` and ``channel_statuses`` hold the provider's ids only as keyed hashes (a WhatsApp id holds
  the phone number; docs/adr/0017, decision 7): nothing of them to erase.
* ``tracking.referral_answer`` (a receiving office's answer, which may quote the complainant): masked of the
  complainant's values, as the tracking page already showed it (``shared.masking.scrub``).

The scans are deleted inside the transaction, before it commits: the event is a fact already, so deleting early
only does part of its effect first; a round rolled back after a delete deletes again (nothing left: False) when
it is retried. A document store out of reach fails the round as an outage (``ScanStoreUnavailable``, a
``ConnectionError``: the runner retries it, nothing is set aside), never as done.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import and_, func, not_, or_, select, update
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.engine import Connection

from services.intake.adapters.tables import attachments, channel_statuses, inbound_messages, outbox, submissions
from services.intake.adapters.tables import tracking as tracking_table
from shared.contracts.workflow import ERASED_NAME, NotificationEvent
from shared.events import EventEnvelope
from shared.masking import scrub

log = logging.getLogger(__name__)

ERASED_COMPLAINANT: dict[str, Any] = {"name": ERASED_NAME}  # as the event store reads an erased complainant
ERASED_SENDER = ERASED_NAME
_CONTACT_KEYS = ("nik", "phone", "email", "address")


class ScanStore(Protocol):
    """Where the scans and photos are (``shared.storage.DocumentStore``): only what erasure needs of it."""

    def delete(self, sha256: str) -> bool: ...


class ScanStoreUnavailable(ConnectionError):
    """A scan of an erased complaint could not be deleted: the round is retried (an outage, not the event's fault)."""


@dataclass(frozen=True)
class ErasedCopies:
    """What one application changed (all 0, and ``scans_deleted`` 0, when it runs again)."""

    submissions: int
    outbox: int
    inbound_messages: int
    attachments: int
    channel_statuses: int
    scans_deleted: int
    scans_kept: int  # shared with a complaint whose data stays


class IntakeErasure:
    """Scrubs intake's copies of one complaint's personal data in the caller's transaction (the module's
    docstring). ``documents`` None: the scans are left in the store (logged at WARNING each time): a process that
    was not given the document store."""

    def __init__(self, documents: ScanStore | None) -> None:
        self.documents = documents

    def apply(self, conn: Connection, complaint_id: UUID, stream: Iterable[EventEnvelope]) -> ErasedCopies:
        known, names = _known_values(conn, complaint_id)
        _scrub_referral_answer(conn, complaint_id, known, names)
        erased_submissions = conn.execute(
            update(submissions)
            .where(submissions.c.complaint_id == complaint_id, submissions.c.complainant != ERASED_COMPLAINANT)
            .values(complainant=ERASED_COMPLAINANT)
        ).rowcount
        erased_outbox = _scrub_outbox(conn, complaint_id)
        erased_inbound = conn.execute(
            update(inbound_messages)
            .where(
                inbound_messages.c.complaint_id == complaint_id,
                or_(inbound_messages.c.sender.is_not(None), inbound_messages.c.note.is_not(None)),
            )
            .values(sender=None, note=None)
        ).rowcount
        of_complaint = _attachments_of(complaint_id)
        erased_attachments = conn.execute(
            update(attachments).where(of_complaint, attachments.c.filename.is_not(None)).values(filename=None)
        ).rowcount
        erased_statuses = _scrub_statuses(conn, stream)
        deleted, kept = self._delete_scans(conn, complaint_id)
        return ErasedCopies(
            erased_submissions, erased_outbox, erased_inbound, erased_attachments, erased_statuses, deleted, kept
        )

    def _delete_scans(self, conn: Connection, complaint_id: UUID) -> tuple[int, int]:
        mine = set(conn.execute(select(attachments.c.sha256).where(_attachments_of(complaint_id))).scalars())
        if not mine:
            return 0, 0
        shared = set(
            conn.execute(
                select(attachments.c.sha256)
                .select_from(_linked_attachments())
                .where(attachments.c.sha256.in_(sorted(mine)), _kept_by_another(complaint_id))
            ).scalars()
        )
        deletable = sorted(mine - shared)
        if deletable and self.documents is None:
            log.warning(
                "scans of an erased complaint left in the document store: the projection has no document store",
                extra={"complaint_id": str(complaint_id), "scans": len(deletable)},
            )
            return 0, len(shared)
        deleted = 0
        for sha256 in deletable:
            assert self.documents is not None  # noqa: S101
            try:
                deleted += bool(self.documents.delete(sha256))
            except ValueError:
                raise  # a malformed id in the table: the event is set aside for a person to look at
            except Exception as exc:
                if _store_away(exc):  # an outage: the round is retried, the scrub with it
                    raise ScanStoreUnavailable(
                        f"document store: a scan of an erased complaint was not deleted ({type(exc).__name__})"
                    ) from exc
                # refused for good (access denied, a retention lock, a read-only store): tracking must not stop for
                # every complaint over it; the rows are scrubbed, the scan is left and an operator is told
                log.error(
                    "a scan of an erased complaint could not be deleted from the document store: delete it by hand",
                    extra={"complaint_id": str(complaint_id), "sha256": sha256, "error": type(exc).__name__},
                )
        return deleted, len(shared)


def _store_away(exc: BaseException) -> bool:
    """Whether a failed delete is the store being away (worth a retry), not a refusal."""
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    try:
        from botocore.exceptions import ConnectionError as BotoConnectionError
        from botocore.exceptions import HTTPClientError
    except ImportError:  # pragma: no cover - botocore comes with the S3 store
        return False
    return isinstance(exc, BotoConnectionError | HTTPClientError)


# -- what ties a row to the complaint -----------------------------------------------------------------------------
def _attachments_of(complaint_id: UUID) -> Any:
    """The complaint's attachment rows: its submission's and its inbound messages' (the replies)."""
    return or_(
        attachments.c.submission_id.in_(select(submissions.c.id).where(submissions.c.complaint_id == complaint_id)),
        attachments.c.inbound_message_id.in_(
            select(inbound_messages.c.id).where(inbound_messages.c.complaint_id == complaint_id)
        ),
    )


def _linked_attachments() -> Any:
    return attachments.outerjoin(submissions, submissions.c.id == attachments.c.submission_id).outerjoin(
        inbound_messages, inbound_messages.c.id == attachments.c.inbound_message_id
    )


def _kept_by_another(complaint_id: UUID) -> Any:
    """An attachment row (in ``_linked_attachments``) that keeps its bytes: of another complaint whose data was not
    erased, or of no complaint at all (an ignored message's)."""
    owner = func.coalesce(submissions.c.complaint_id, inbound_messages.c.complaint_id)
    erased_owner = select(submissions.c.complaint_id).where(submissions.c.complainant == ERASED_COMPLAINANT)
    return or_(owner.is_(None), and_(owner != complaint_id, not_(owner.in_(erased_owner))))


def _known_values(conn: Connection, complaint_id: UUID) -> tuple[list[str], list[str]]:
    """The complainant's values as the submission still holds them (none once erased)."""
    person = conn.execute(select(submissions.c.complainant).where(submissions.c.complaint_id == complaint_id)).scalar()
    if not person or person == ERASED_COMPLAINANT:
        return [], []
    known = [str(person[k]) for k in _CONTACT_KEYS if person.get(k)]
    return known, [str(person["name"])] if person.get("name") else []


def _scrub_referral_answer(conn: Connection, complaint_id: UUID, known: list[str], names: list[str]) -> None:
    """The receiving office's answer and the Camat's answer to a keberatan (docs/adr/0020), masked."""
    row = conn.execute(
        select(tracking_table.c.referral_answer, tracking_table.c.objection_answer).where(
            tracking_table.c.complaint_id == complaint_id
        )
    ).first()
    if row is None:
        return
    masked = {name: scrub(text, known, names=names) for name, text in row._asdict().items() if text}
    changed = {name: text for name, text in masked.items() if text != getattr(row, name)}
    if changed:
        conn.execute(update(tracking_table).where(tracking_table.c.complaint_id == complaint_id).values(**changed))


def _scrub_outbox(conn: Connection, complaint_id: UUID) -> int:
    rows = conn.execute(
        select(outbox.c.id, outbox.c.payload)
        .where(outbox.c.payload["complaint_id"].astext == str(complaint_id))
        .with_for_update()
    ).all()
    changed = 0
    for row_id, payload in rows:
        scrubbed = scrubbed_message(payload)
        if scrubbed != payload:
            conn.execute(update(outbox).where(outbox.c.id == row_id).values(payload=scrubbed))
            changed += 1
    return changed


def scrubbed_message(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A message of intake's outbox (``ComplaintSubmitted``, ``ComplainantReplied``, ``FeedbackGiven``) without the
    complainant's data: the complainant erased, a reply's sender replaced, an answer's comment and the attachments'
    file names gone."""
    kept = dict(payload)
    if "complainant" in kept:
        kept["complainant"] = dict(ERASED_COMPLAINANT)
    if "sender" in kept:
        kept["sender"] = ERASED_SENDER
    if kept.get("comment"):  # a FeedbackGiven's words (docs/adr/0020)
        kept["comment"] = None
    if isinstance(kept.get("attachments"), list):
        kept["attachments"] = [{**a, "filename": None} if isinstance(a, dict) else a for a in kept["attachments"]]
    return kept


# what a delivery receipt's ``raw`` (Meta's status object) may hold of the complainant: the number, the message's id
_STATUS_PERSONAL = ("recipient_id", "id")


def _scrub_statuses(conn: Connection, stream: Iterable[EventEnvelope]) -> int:
    """The delivery receipts of the messages sent about the complaint, as its events name them."""
    message_hashes: set[str] = set()
    references: set[str] = set()
    for envelope in stream:
        event = envelope.decode()
        if isinstance(event, NotificationEvent):
            references.update({event.delivery_id.hex, str(event.delivery_id)})
            if event.provider_message_hash:
                message_hashes.add(event.provider_message_hash)
    if not message_hashes and not references:
        return 0
    rows = conn.execute(
        select(channel_statuses.c.id, channel_statuses.c.raw)
        .where(
            or_(
                channel_statuses.c.provider_message_hash.in_(sorted(message_hashes)),
                channel_statuses.c.biz_opaque_callback_data.in_(sorted(references)),
            ),
            or_(
                channel_statuses.c.recipient_id.is_not(None),
                channel_statuses.c.raw.has_any(array(list(_STATUS_PERSONAL))),
            ),
        )
        .with_for_update()
    ).all()
    for status_id, raw in rows:
        kept = {k: v for k, v in (raw or {}).items() if k not in _STATUS_PERSONAL}
        conn.execute(
            update(channel_statuses).where(channel_statuses.c.id == status_id).values(recipient_id=None, raw=kept)
        )
    return len(rows)
