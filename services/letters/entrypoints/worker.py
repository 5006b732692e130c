"""The letters worker's handler table: what each message on queue ``letters`` does.

Registered by the composition root (``shared.tasks.register_consumers``: the failure rules, dead letters).
Messages carry the event's id; the handler re-reads the event. Handled or kept as a dead letter, the event
id is recorded in letters' inbox, so the relay's hand-off reconciler does not send it again."""

from __future__ import annotations

import uuid

from services.letters.handlers import (
    erase_personal_data,
    issue_disposition_sheet,
    issue_receipt,
    issue_referral_letter,
    issue_signed_letter,
    release_letter,
    render_draft,
)
from shared.service import Consumer


def _event_id(message: dict, _request: object = None) -> uuid.UUID:
    return uuid.UUID(message["event_id"])


CONSUMERS = tuple(
    Consumer(task, lambda letters, m, handler=handler: handler(letters, _event_id(m)), inbox_key=_event_id)
    for task, handler in (
        ("letters.issue_signed_letter", issue_signed_letter),
        ("letters.issue_receipt", issue_receipt),
        ("letters.render_draft", render_draft),
        ("letters.release_letter", release_letter),
        ("letters.issue_disposition_sheet", issue_disposition_sheet),
        ("letters.issue_referral_letter", issue_referral_letter),
        ("letters.erase_personal_data", erase_personal_data),  # the complainant's personal data erased (adr 0017)
    )
)
