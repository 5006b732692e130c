"""The complainant's answer after a closing (issue #18 item 1; docs/adr/0020): on the tracking page, by the tracking
code, whether the complaint is resolved and a rating of the handling (1-4). Taken once per closing with a response,
in the transaction that writes its message to the workflow (``claim_feedback`` on intake's copy of the status, so
two answers sent at once are one); the workflow decides what it leads to (a reopening or a keberatan)."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.intake.handlers.context import Context
from services.intake.unit_of_work import Tracked, put_contract
from shared.contracts.intake import FeedbackGiven
from shared.contracts.workflow import ERASED_NAME


class FeedbackNotOpen(Exception):
    """The complaint is not closed with a response (yet, or any more: reopened, or a keberatan is with the Camat),
    its complainant's data was erased, or the time to answer has passed."""


def open_for_answer(row: Tracked, now: datetime, open_days: int) -> bool:
    """Whether the complainant may answer the latest closing now: closed with a response, not answered yet, within
    ``open_days`` of that closing, and their data not erased (nobody to handle it again for: docs/adr/0017)."""
    return (
        row.complaint_id is not None
        and row.status == "closed"
        and row.outcome == "resolved"
        and row.closings >= 1
        and row.feedback_closing < row.closings
        and (row.closed_at is None or now - row.closed_at <= timedelta(days=open_days))
        and (row.complainant or {}).get("name") != ERASED_NAME
    )


class FeedbackAlreadyGiven(Exception):
    """The complainant answered this closing already."""


def give(
    intake: Context, code: str, *, satisfied: bool, rating: int, comment: str | None
) -> tuple[FeedbackGiven, Tracked] | None:
    """The answer taken and sent on, and the status it answered (None: no complaint has this code)."""
    with intake.uow() as uow:
        row = uow.tracking.by_code(code)
        if row is None:
            return None
        answered = row.complaint_id is not None and row.closings >= 1 and row.feedback_closing >= row.closings
        if answered and row.status == "closed":
            raise FeedbackAlreadyGiven(code)
        if not open_for_answer(row, intake.clock(), intake.settings.feedback_open_days):
            raise FeedbackNotOpen(code)
        assert row.complaint_id is not None  # noqa: S101 (open_for_answer says so)
        if not uow.tracking.claim_feedback(row.complaint_id, row.closings):
            raise FeedbackAlreadyGiven(code)
        message = FeedbackGiven(
            message_id=intake.new_id(),
            complaint_id=row.complaint_id,
            kecamatan=row.kecamatan,
            closing=row.closings,
            satisfied=satisfied,
            rating=rating,
            comment=comment or None,
            given_at=intake.clock(),
        )
        put_contract(uow.outbox, message.message_id, message)
        uow.commit()
    return message, row
