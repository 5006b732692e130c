"""The workflow's Celery worker: consumes queue ``workflow`` (see shared/tasks.py for the failure rules)."""
from __future__ import annotations

import logging
import uuid

from celery import Celery
from sqlalchemy import insert

from services.workflow import bootstrap as wiring
from services.workflow.adapters.tables import dead_letters
from services.workflow.handlers import record_complaint, record_letter_document, record_notification, record_reply
from shared.contracts.intake import ComplainantReplied, ComplaintSubmitted
from shared.contracts.notify import NotificationReport
from shared.contracts.letters import LetterDocumentIssued
from shared.tasks import consume, safe_error

log = logging.getLogger(__name__)


def keep_dead_letter(task: str, queue: str, payload: dict, error: BaseException) -> uuid.UUID:
    container = wiring.for_this_process()
    letter_id = uuid.uuid4()
    with container.engine.begin() as conn:
        conn.execute(insert(dead_letters).values(id=letter_id, task=task, queue=queue, payload=payload, error=safe_error(error)))
    log.error("message kept as dead letter", extra={"dead_letter_id": str(letter_id), "task": task})
    return letter_id


def register_tasks(app: Celery) -> None:
    budget = app.conf.task_soft_time_limit / 2

    @app.task(name=LetterDocumentIssued.TASK)
    def record_letter_document_task(message: dict) -> None:
        container = wiring.for_this_process()
        consume(
            lambda: record_letter_document(container, LetterDocumentIssued.model_validate(message)),
            keep_dead_letter=lambda exc: keep_dead_letter(LetterDocumentIssued.TASK, LetterDocumentIssued.QUEUE, message, exc),
            budget=budget,
        )

    @app.task(name=NotificationReport.TASK)
    def record_notification_task(message: dict) -> None:
        container = wiring.for_this_process()
        consume(
            lambda: record_notification(container, NotificationReport.model_validate(message)),
            keep_dead_letter=lambda exc: keep_dead_letter(NotificationReport.TASK, NotificationReport.QUEUE, message, exc),
            budget=budget,
        )

    @app.task(name=ComplainantReplied.TASK)
    def record_reply_task(message: dict) -> None:
        container = wiring.for_this_process()
        consume(
            lambda: record_reply(container, ComplainantReplied.model_validate(message)),
            keep_dead_letter=lambda exc: keep_dead_letter(ComplainantReplied.TASK, ComplainantReplied.QUEUE, message, exc),
            budget=budget,
        )

    @app.task(name=ComplaintSubmitted.TASK)
    def record_complaint_task(message: dict) -> None:
        container = wiring.for_this_process()
        consume(
            lambda: record_complaint(container, ComplaintSubmitted.model_validate(message)),
            keep_dead_letter=lambda exc: keep_dead_letter(ComplaintSubmitted.TASK, ComplaintSubmitted.QUEUE, message, exc),
            budget=budget,
        )
