"""The workflow worker's handler table: what each message on queue ``workflow`` does.

Registered by the composition root (``shared.tasks.register_consumers``: the failure rules, dead letters).
The workflow's handlers keep their own inbox (derived event ids), so no message id is recorded here."""

from __future__ import annotations

from services.workflow.handlers import (
    record_complaint,
    record_feedback,
    record_letter_document,
    record_notification,
    record_reply,
)
from shared.contracts.intake import ComplainantReplied, ComplaintSubmitted, FeedbackGiven
from shared.contracts.letters import LetterDocumentIssued
from shared.contracts.notify import NotificationReport
from shared.service import Consumer

CONSUMERS = (
    Consumer(ComplaintSubmitted.TASK, lambda wf, m: record_complaint(wf, ComplaintSubmitted.model_validate(m))),
    Consumer(ComplainantReplied.TASK, lambda wf, m: record_reply(wf, ComplainantReplied.model_validate(m))),
    Consumer(FeedbackGiven.TASK, lambda wf, m: record_feedback(wf, FeedbackGiven.model_validate(m))),
    Consumer(
        LetterDocumentIssued.TASK, lambda wf, m: record_letter_document(wf, LetterDocumentIssued.model_validate(m))
    ),
    Consumer(NotificationReport.TASK, lambda wf, m: record_notification(wf, NotificationReport.model_validate(m))),
)
