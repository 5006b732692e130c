"""The complainant's answer after a closing (issue #18 item 1; docs/adr/0020): on the tracking page, by the tracking
code, whether the complaint is resolved and a rating of the handling (1-4). Taken once per closing with a response,
in the transaction that writes its message to the workflow (``claim_feedback`` on intake's copy of the status, so
two answers sent at once are one); the workflow decides what it leads to (a reopening or a keberatan)."""

from __future__ import annotations

from services.intake.handlers.context import Context
from services.intake.unit_of_work import put_contract
from shared.contracts.intake import FeedbackGiven


class FeedbackNotOpen(Exception):
    """The complaint is not closed with a response (yet, or any more: reopened, or a keberatan is with the Camat)."""


class FeedbackAlreadyGiven(Exception):
    """The complainant answered this closing already."""


def give(intake: Context, code: str, *, satisfied: bool, rating: int, comment: str | None) -> FeedbackGiven | None:
    """The answer taken and sent on (None: no complaint has this code)."""
    with intake.uow() as uow:
        row = uow.tracking.by_code(code)
        if row is None:
            return None
        if row.complaint_id is None or row.status != "closed" or row.outcome != "resolved" or row.closings < 1:
            raise FeedbackNotOpen(code)
        if row.feedback_closing >= row.closings or not uow.tracking.claim_feedback(row.complaint_id, row.closings):
            raise FeedbackAlreadyGiven(code)
        message = FeedbackGiven(
            message_id=intake.new_id(),
            complaint_id=row.complaint_id,
            kecamatan=row.kecamatan,
            closing=row.closings,
            satisfied=satisfied,
            rating=rating,
            comment=comment,
            given_at=intake.clock(),
        )
        put_contract(uow.outbox, message.message_id, message)
        uow.commit()
    return message
