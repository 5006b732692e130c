"""An attachment staff may download: found by its bytes' hash among the files of complaints the reader may see."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import func, select

from services.intake.adapters.tables import attachments, inbound_messages, submissions
from services.intake.bootstrap import Intake


@dataclass(frozen=True)
class StoredAttachment:
    sha256: str
    content_type: str
    filename: str | None
    kecamatan: str


def find_attachment(
    intake: Intake, sha256: str, complaint_id: UUID | None, may_read: Callable[[str], bool]
) -> StoredAttachment | None:
    """An attachment with these bytes that the reader may see (of ``complaint_id`` when given): linked to a
    submission, or to an inbound message that joined a complaint. None otherwise: the caller answers 404
    whether it does not exist or is not theirs."""
    linked = func.coalesce(submissions.c.complaint_id, inbound_messages.c.complaint_id)
    query = (
        select(attachments.c.sha256, attachments.c.content_type, attachments.c.filename, attachments.c.kecamatan)
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
    with intake.engine.connect() as conn:
        rows = conn.execute(query.limit(50)).all()
    for row in rows:
        if may_read(row.kecamatan):
            return StoredAttachment(row.sha256, row.content_type, row.filename, row.kecamatan)
    return None
