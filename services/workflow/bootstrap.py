"""Builds the workflow's settings, engine and adapters. Called once per process, never at import."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial

from sqlalchemy import Engine

from services.workflow.adapters.esign import LettersEsign
from services.workflow.adapters.organisation import OrganisationDirectory
from services.workflow.adapters.postgres import PostgresUnitOfWork
from services.workflow.config import WorkflowSettings
from services.workflow.handlers import Calendars, Context
from shared.config import Settings
from shared.db import make_engine, make_worker_engine
from shared.eventstore.postgres import PostgresEventStore
from shared.tenancy import KecamatanDirectory


@dataclass
class Workflow(Context):
    """The handlers' context (units of work in PostgreSQL) and what the processes read besides: the API's queries,
    the health check and the relay use the engine and the store."""

    engine: Engine
    store: PostgresEventStore
    settings: WorkflowSettings | None = None


def bootstrap(settings: Settings | None = None, *, worker: bool = False) -> Workflow:
    """``settings``: the workflow's, or base ones taken as its (a runner process's, a test's); default: from the
    environment. ``worker``: for the Celery worker, whose statements must end before its tasks' time limit."""
    settings = WorkflowSettings.from_base(settings) if settings is not None else WorkflowSettings()
    engine = make_worker_engine(settings, "workflow") if worker else make_engine(settings)
    store = PostgresEventStore(engine)
    return Workflow(
        uow=partial(PostgresUnitOfWork, engine, store),
        directory=KecamatanDirectory(engine),
        calendars=Calendars(),
        organisation=OrganisationDirectory(engine),
        esign=LettersEsign(settings.letters_url, timeout=settings.esign_timeout, secret_key=settings.secret_key),
        engine=engine,
        store=store,
        settings=settings,
    )


@lru_cache(maxsize=1)
def for_this_process() -> Workflow:
    """The worker process's container, built on first use (after the worker forked, never at import)."""
    return bootstrap(worker=True)
