"""The workflow's Celery worker: consumes queue ``workflow``.

A database outage is retried with backoff, without end (nothing acknowledged may be lost). Any other
failure is a message the code cannot handle: it is kept in ``workflow.dead_letters`` (with the error,
never silently dropped), where ``pengaduan dead-letters`` lists and replays it once the cause is fixed.
"""
from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from celery import Celery
from sqlalchemy import insert
from sqlalchemy.exc import OperationalError

from services.workflow import bootstrap as wiring
from services.workflow.adapters.tables import dead_letters
from services.workflow.handlers import record_complaint
from shared.contracts.intake import ComplaintSubmitted
from shared.eventstore import ConcurrencyError

log = logging.getLogger(__name__)

# a database outage or a lost race: try again later
RETRYABLE = (OperationalError, ConcurrencyError)


def keep_dead_letter(task: str, queue: str, payload: dict, error: Exception) -> uuid.UUID:
    container = wiring.for_this_process()
    letter_id = uuid.uuid4()
    with container.engine.begin() as conn:
        conn.execute(
            insert(dead_letters).values(
                id=letter_id, task=task, queue=queue, payload=payload, error=f"{type(error).__name__}: {error}"[:2000]
            )
        )
    log.error("message kept as dead letter", extra={"dead_letter_id": str(letter_id), "task": task})
    return letter_id


def register_tasks(app: Celery) -> None:
    @app.task(
        name=ComplaintSubmitted.TASK,
        autoretry_for=RETRYABLE,
        retry_backoff=True,
        retry_backoff_max=60,
        retry_jitter=True,
        max_retries=None,
    )
    def record_complaint_task(message: dict) -> None:
        container = wiring.for_this_process()
        try:
            submitted = ComplaintSubmitted.model_validate(message)
            record_complaint(container.engine, container.store, submitted, datetime.now(UTC))
        except RETRYABLE:
            raise
        except Exception as exc:  # not retryable: kept where an operator sees and replays it
            keep_dead_letter(ComplaintSubmitted.TASK, ComplaintSubmitted.QUEUE, message, exc)
