"""The letters worker: consumes queue ``letters`` (see shared/tasks.py for the failure rules)."""
from __future__ import annotations

import uuid

from celery import Celery
from sqlalchemy import insert

from services.letters import bootstrap as wiring
from services.letters.adapters.tables import dead_letters, inbox
from services.letters.handlers import issue_receipt, issue_signed_letter, release_letter, render_draft
from shared.handoffs import mark_consumed
from shared.tasks import consume, safe_error

# task name -> handler of one event (messages carry the event id; the handler re-reads the event)
TASKS = {
    "letters.issue_signed_letter": issue_signed_letter,
    "letters.issue_receipt": issue_receipt,
    "letters.render_draft": render_draft,
    "letters.release_letter": release_letter,
}


def register_tasks(app: Celery) -> None:
    budget = app.conf.task_soft_time_limit / 2
    for name, handler in TASKS.items():
        _register(app, name, handler, budget)


def _register(app: Celery, name: str, handler, budget: float) -> None:
    @app.task(name=name)
    def task(message: dict) -> None:
        letters = wiring.for_this_process()

        def keep(exc: BaseException) -> None:
            with letters.engine.begin() as conn:
                conn.execute(insert(dead_letters).values(
                    id=uuid.uuid4(), task=name, queue="letters", payload=message, error=safe_error(exc)
                ))

        consume(lambda: handler(letters, uuid.UUID(message["event_id"])), keep_dead_letter=keep, budget=budget)
        mark_consumed(letters.engine, inbox, name, uuid.UUID(message["event_id"]))  # handled or kept: not resent
