"""Builds the notify service's settings, engine and adapters. Called once per process, never at import."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial

from sqlalchemy import Engine

from services.notify.adapters.channels.registry import build_channels
from services.notify.adapters.postgres import PostgresUnitOfWork
from services.notify.config import NotifySettings
from services.notify.handlers.context import Context
from services.notify.unit_of_work import UnitOfWork
from shared.celery_app import make_celery
from shared.db import make_engine
from shared.eventstore.postgres import PostgresEventStore
from shared.storage import store_from_settings
from shared.tenancy import KecamatanDirectory


@dataclass(kw_only=True)
class Notify(Context):
    """The handlers' context (units of work in PostgreSQL) and the engine, which the tests and the bench read."""

    engine: Engine
    store: PostgresEventStore
    # made from the fields above, so that a copy reading through another store (``dataclasses.replace``) reads the
    # events in its units through that one
    uow: Callable[[], UnitOfWork] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.uow = partial(PostgresUnitOfWork, self.engine, self.store)


def bootstrap(settings: NotifySettings | None = None, *, pool_size: int = 4, with_channels: bool = True) -> Notify:
    settings = settings or NotifySettings()
    engine = make_engine(settings, pool_size=pool_size)
    return Notify(
        settings=settings,
        engine=engine,
        store=PostgresEventStore(engine),
        directory=KecamatanDirectory(engine),
        documents=store_from_settings(settings.documents_url),
        celery=make_celery(settings, "notify"),
        channels=build_channels(settings) if with_channels else {},
    )


@lru_cache(maxsize=1)
def for_this_process() -> Notify:
    return bootstrap()
