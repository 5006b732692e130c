"""An attachment staff may download: found by its bytes' hash among the files of complaints the reader may see."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

from services.intake.handlers.context import Context
from services.intake.unit_of_work import StoredAttachment


def find_attachment(
    intake: Context, sha256: str, complaint_id: UUID | None, may_read: Callable[[str], bool]
) -> StoredAttachment | None:
    """An attachment with these bytes that the reader may see (of ``complaint_id`` when given): linked to a
    submission, or to an inbound message that joined a complaint. None otherwise: the caller answers 404
    whether it does not exist or is not theirs."""
    with intake.uow() as uow:
        found = uow.attachments.linked(sha256, complaint_id, limit=50)
    return next((a for a in found if may_read(a.kecamatan)), None)


def complainant_of(intake: Context, complaint_id: UUID) -> Iterator[dict[str, Any] | None]:
    """The complainant of a complaint, as its submission holds it (to mask their values in a reason given for the
    access log); read only when iterated."""
    with intake.uow() as uow:
        submission = uow.submissions.of_complaint(complaint_id)
    yield submission.complainant.model_dump() if submission is not None else None
