"""The notify worker: consumes queue ``notify`` (see shared/tasks.py for the failure rules)."""
from __future__ import annotations

import uuid
from functools import lru_cache

from celery import Celery
from sqlalchemy import insert

from services.notify.handlers import escalate
from services.notify.adapters.tables import dead_letters
from shared.config import Settings
from shared.db import make_engine
from shared.eventstore.postgres import PostgresEventStore
from shared.tasks import consume, safe_error

ESCALATE = "notify.escalate"


@lru_cache(maxsize=1)
def _engine():
    return make_engine(Settings(), pool_size=4)


def register_tasks(app: Celery) -> None:
    budget = app.conf.task_soft_time_limit / 2

    @app.task(name=ESCALATE)
    def escalate_task(message: dict) -> None:
        engine = _engine()

        def keep(exc: BaseException) -> None:
            with engine.begin() as conn:
                conn.execute(insert(dead_letters).values(id=uuid.uuid4(), task=ESCALATE, queue="notify", payload=message, error=safe_error(exc)))

        consume(lambda: escalate(engine, PostgresEventStore(engine), uuid.UUID(message["event_id"])), keep_dead_letter=keep, budget=budget)
