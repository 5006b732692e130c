"""Builds the workflow's settings, engine and adapters. Called once per process, never at import."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from services.workflow.handlers import Calendars, Context
from shared.config import Settings
from shared.db import make_engine, make_worker_engine
from shared.eventstore.postgres import PostgresEventStore
from shared.tenancy import KecamatanDirectory


@dataclass
class Workflow(Context):
    settings: Settings | None = None


def bootstrap(settings: Settings | None = None, *, worker: bool = False) -> Workflow:
    """``worker``: for the Celery worker, whose statements must end before its tasks' time limit."""
    settings = settings or Settings()
    engine = make_worker_engine(settings, "workflow") if worker else make_engine(settings)
    return Workflow(
        engine=engine,
        store=PostgresEventStore(engine),
        directory=KecamatanDirectory(engine),
        calendars=Calendars(),
        settings=settings,
    )


@lru_cache(maxsize=1)
def for_this_process() -> Workflow:
    """The worker process's container, built on first use (after the worker forked, never at import)."""
    return bootstrap(worker=True)
