"""Intake's unit of work in PostgreSQL: one transaction over its tables (services/intake/unit_of_work.py says what
each part promises).

The uniqueness the handlers rely on is the tables': ``INSERT ... ON CONFLICT DO NOTHING`` answers whether the row
went in, and a concurrent transaction inserting the same key is waited for (then its row is seen, or, if it
rolled back, ours goes in). Writing to the outbox also wakes its publisher (``NOTIFY``, delivered at commit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from services.intake.adapters.outbox import wake_publisher
from services.intake.adapters.tables import (
    attachments,
    channel_statuses,
    inbound_messages,
    outbox,
    submissions,
    tracking,
)
from services.intake.unit_of_work import (
    Attachment,
    ChannelStatus,
    Inbound,
    InboundRecord,
    StoredAttachment,
    Submission,
    Tracked,
)
from shared.contracts.intake import Complainant
from shared.db import UnitOfWorkTransaction
from shared.tenancy import kecamatan_table


class PostgresUnitOfWork(UnitOfWorkTransaction):
    def _open(self, conn: Connection) -> None:
        self.submissions = PostgresSubmissions(conn)
        self.attachments = PostgresAttachments(conn)
        self.inbound = PostgresInboundMessages(conn)
        self.statuses = PostgresChannelStatuses(conn)
        self.outbox = PostgresOutbox(conn)
        self.tracking = PostgresTracking(conn)
        self.routes = PostgresRoutes(conn)


def _row(record: Any) -> dict[str, Any]:
    """A unit of work's record (a dataclass) as the values of its row, field by field and shallow. Not
    ``dataclasses.asdict``: it deep-copies every value (the complainant, a pydantic model, through
    ``copy.deepcopy``) for a copy the insert throws away: about 90 µs of CPU per submission against 6 here, some
    400 Python calls on every POST /v1/complaints."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


def _submission(row: Any) -> Submission:
    return Submission(
        id=row.id,
        complaint_id=row.complaint_id,
        tracking_code=row.tracking_code,
        kecamatan=row.kecamatan,
        channel=row.channel,
        received_at=row.received_at,
        complainant=Complainant.model_validate(row.complainant),
        subject=row.subject,
        description=row.description,
        idempotency_key=row.idempotency_key,
        request_hash=row.request_hash,
        entered_at=row.entered_at,
        entered_by=row.entered_by,
    )


# the hot writes as statements built once, their values passed at execution (a statement carrying its values,
# ``.values(...)``, is built and its cache key computed again for each call: about 0.18 ms of CPU for a row of a
# dozen columns, against 0.07 ms for the round trip itself)
_ADD_SUBMISSION = insert(submissions).on_conflict_do_nothing().returning(submissions.c.id)
_PUT_OUTBOX = insert(outbox)


class PostgresSubmissions:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, submission: Submission) -> bool:
        values = {**_row(submission), "complainant": submission.complainant.model_dump(mode="json")}
        inserted = self._conn.execute(_ADD_SUBMISSION, values).first()
        return inserted is not None

    def get(self, submission_id: UUID) -> Submission | None:
        row = self._conn.execute(select(submissions).where(submissions.c.id == submission_id)).first()
        return _submission(row) if row is not None else None

    def with_idempotency_key(self, key: str) -> Submission | None:
        row = self._conn.execute(select(submissions).where(submissions.c.idempotency_key == key)).first()
        return _submission(row) if row is not None else None

    def tracking_code(self, complaint_id: UUID) -> str | None:
        code: str | None = self._conn.execute(
            select(submissions.c.tracking_code).where(submissions.c.complaint_id == complaint_id)
        ).scalar()
        return code

    def of_complaint(self, complaint_id: UUID) -> Submission | None:
        row = self._conn.execute(select(submissions).where(submissions.c.complaint_id == complaint_id)).first()
        return _submission(row) if row is not None else None


class PostgresAttachments:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, rows: Sequence[Attachment]) -> None:
        if rows:
            self._conn.execute(insert(attachments), [_row(a) for a in rows])

    def linked(self, sha256: str, complaint_id: UUID | None, limit: int) -> list[StoredAttachment]:
        linked = func.coalesce(submissions.c.complaint_id, inbound_messages.c.complaint_id)
        query = (
            select(
                attachments.c.sha256,
                attachments.c.content_type,
                attachments.c.filename,
                attachments.c.kecamatan,
                linked.label("complaint_id"),
            )
            .select_from(
                attachments.outerjoin(submissions, submissions.c.id == attachments.c.submission_id).outerjoin(
                    inbound_messages, inbound_messages.c.id == attachments.c.inbound_message_id
                )
            )
            .where(attachments.c.sha256 == sha256, linked.is_not(None))
            .order_by(attachments.c.created_at)
        )
        if complaint_id is not None:
            query = query.where(linked == complaint_id)
        rows = self._conn.execute(query.limit(limit)).all()
        return [StoredAttachment(r.sha256, r.content_type, r.filename, r.kecamatan, r.complaint_id) for r in rows]


class PostgresInboundMessages:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, message: Inbound) -> bool:
        inserted = self._conn.execute(
            insert(inbound_messages)
            .values(**_row(message))
            .on_conflict_do_nothing(index_elements=["channel", "provider_message_hash"])
            .returning(inbound_messages.c.id)
        ).first()
        return inserted is not None

    def outcome(self, channel: str, hashes: Sequence[str]) -> InboundRecord | None:
        if not hashes:
            return None
        code = (
            select(submissions.c.tracking_code)
            .where(submissions.c.complaint_id == inbound_messages.c.complaint_id)
            .scalar_subquery()
        )
        row = self._conn.execute(
            select(
                inbound_messages.c.id,
                inbound_messages.c.result,
                inbound_messages.c.kecamatan,
                inbound_messages.c.complaint_id,
                inbound_messages.c.note,
                code.label("tracking_code"),
            ).where(inbound_messages.c.channel == channel, inbound_messages.c.provider_message_hash.in_(list(hashes)))
        ).first()
        if row is None:
            return None
        return InboundRecord(row.id, row.result, row.kecamatan, row.complaint_id, row.note, row.tracking_code)


class PostgresChannelStatuses:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, status: ChannelStatus) -> bool:
        inserted = self._conn.execute(
            insert(channel_statuses)
            .values(**_row(status))
            .on_conflict_do_nothing(index_elements=["provider_message_hash", "status"])
            .returning(channel_statuses.c.id)
        ).first()
        return inserted is not None

    def id_of(self, provider_message_hash: str, status: str) -> UUID | None:
        found: UUID | None = self._conn.execute(
            select(channel_statuses.c.id).where(
                channel_statuses.c.provider_message_hash == provider_message_hash, channel_statuses.c.status == status
            )
        ).scalar()
        return found


class PostgresOutbox:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def put(self, *, id: UUID, message_type: str, task: str, queue: str, payload: dict[str, Any]) -> None:
        self._conn.execute(
            _PUT_OUTBOX, {"id": id, "message_type": message_type, "task": task, "queue": queue, "payload": payload}
        )
        wake_publisher(self._conn)

    def backlog(self) -> tuple[int, float]:
        row = self._conn.execute(
            select(func.count(), func.extract("epoch", func.now() - func.min(outbox.c.created_at))).where(
                outbox.c.published_at.is_(None)
            )
        ).one()
        return int(row[0]), float(row[1] or 0)


class PostgresTracking:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def by_code(self, tracking_code: str) -> Tracked | None:
        row = self._conn.execute(
            select(
                submissions.c.tracking_code,
                submissions.c.kecamatan,
                submissions.c.received_at,
                tracking.c.status,
                tracking.c.current_step,
                tracking.c.sop_version,
                tracking.c.steps,
                tracking.c.outcome,
                tracking.c.referred_to,
                tracking.c.referral_state,
                tracking.c.follow_up_by,
                tracking.c.referral_answer,
                tracking.c.referral_answered_on,
                submissions.c.complainant,
                submissions.c.complaint_id,
                func.coalesce(tracking.c.closings, 0).label("closings"),
                tracking.c.closed_at,
                func.coalesce(tracking.c.feedback_closing, 0).label("feedback_closing"),
                func.coalesce(tracking.c.reopened, 0).label("reopened"),
                tracking.c.objection_state,
                tracking.c.objection_answer,
            )
            .select_from(submissions.outerjoin(tracking, tracking.c.complaint_id == submissions.c.complaint_id))
            .where(submissions.c.tracking_code == tracking_code)
        ).first()
        return Tracked(**row._asdict()) if row is not None else None

    def claim_feedback(self, complaint_id: UUID, closing: int) -> bool:
        claimed = self._conn.execute(
            update(tracking)
            .where(
                tracking.c.complaint_id == complaint_id,
                tracking.c.status == "closed",
                tracking.c.outcome == "resolved",
                tracking.c.closings == closing,
                tracking.c.feedback_closing < closing,
            )
            .values(feedback_closing=closing)
        )
        return claimed.rowcount == 1

    def awaiting_documents(self, kecamatan: str, channel: str, sender: str) -> UUID | None:
        if channel == "email":
            same_sender = func.lower(submissions.c.complainant["email"].astext) == sender.lower()
        else:
            same_sender = submissions.c.complainant["phone"].astext == sender
        found: UUID | None = self._conn.execute(
            select(submissions.c.complaint_id)
            .join(tracking, tracking.c.complaint_id == submissions.c.complaint_id)
            .where(submissions.c.kecamatan == kecamatan, tracking.c.status == "awaiting_documents", same_sender)
            .order_by(submissions.c.received_at.desc())
            .limit(1)
        ).scalar()
        return found


class PostgresRoutes:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def claiming(self, key: str, address: str) -> list[str]:
        return list(
            self._conn.execute(
                select(kecamatan_table.c.slug)
                .where(kecamatan_table.c.active, kecamatan_table.c.settings.contains({"channels": {key: [address]}}))
                .order_by(kecamatan_table.c.slug)
            ).scalars()
        )
