"""The letters worker: consumes queue ``letters`` (see shared/tasks.py for the failure rules)."""
from __future__ import annotations

import uuid

from celery import Celery
from sqlalchemy import insert

from services.letters import bootstrap as wiring
from services.letters.adapters.tables import dead_letters
from services.letters.handlers import issue_signed_letter
from shared.tasks import consume, safe_error

ISSUE_SIGNED_LETTER = "letters.issue_signed_letter"


def register_tasks(app: Celery) -> None:
    budget = app.conf.task_soft_time_limit / 2

    @app.task(name=ISSUE_SIGNED_LETTER)
    def issue_signed_letter_task(message: dict) -> None:
        letters = wiring.for_this_process()

        def keep(exc: BaseException) -> None:
            with letters.engine.begin() as conn:
                conn.execute(insert(dead_letters).values(
                    id=uuid.uuid4(), task=ISSUE_SIGNED_LETTER, queue="letters", payload=message, error=safe_error(exc)
                ))

        consume(lambda: issue_signed_letter(letters, uuid.UUID(message["event_id"])), keep_dead_letter=keep, budget=budget)
