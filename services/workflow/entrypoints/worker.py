"""The workflow's Celery worker: consumes queue ``workflow``."""
from __future__ import annotations

from datetime import UTC, datetime

from celery import Celery
from sqlalchemy.exc import OperationalError

from services.workflow import bootstrap as wiring
from services.workflow.handlers import record_complaint
from shared.contracts.intake import ComplaintSubmitted


def register_tasks(app: Celery) -> None:
    @app.task(
        name=ComplaintSubmitted.TASK,
        autoretry_for=(OperationalError,),
        retry_backoff=True,
        retry_backoff_max=60,
        retry_jitter=True,
        max_retries=None,
    )
    def record_complaint_task(message: dict) -> None:
        container = wiring.for_this_process()
        record_complaint(
            container.engine, container.store, ComplaintSubmitted.model_validate(message), datetime.now(UTC)
        )
