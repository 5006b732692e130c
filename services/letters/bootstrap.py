"""Builds the letters service's settings, engine and adapters. Called once per process, never at import."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial

from celery import Celery
from sqlalchemy import Engine

from services.letters.adapters.bsre import BsreClient, BsreSettings
from services.letters.adapters.keys import SigningKeys
from services.letters.adapters.lambang import LambangFiles
from services.letters.adapters.postgres import PostgresUnitOfWork
from services.letters.config import LettersSettings
from services.letters.handlers import Context
from services.letters.unit_of_work import UnitOfWork
from shared.celery_app import make_celery
from shared.db import make_engine
from shared.eventstore.postgres import PostgresEventStore
from shared.storage import store_from_settings
from shared.tenancy import KecamatanDirectory


@dataclass
class Letters(Context):
    """The handlers' context (units of work in PostgreSQL) and what the processes use besides: the health check
    and the worker's inbox and dead letters use the engine."""

    settings: LettersSettings
    engine: Engine
    store: PostgresEventStore
    celery: Celery
    # made from the fields above, so that a copy with another broker (``dataclasses.replace``) sends there
    uow: Callable[[], UnitOfWork] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.uow = partial(PostgresUnitOfWork, self.engine, self.store, self.celery)


def bootstrap(settings: LettersSettings | None = None) -> Letters:
    settings = settings or LettersSettings()
    engine = make_engine(settings)
    return Letters(
        directory=KecamatanDirectory(engine),
        documents=store_from_settings(settings.documents_url),
        keys=SigningKeys.from_settings(settings),
        public_base_url=settings.public_base_url,
        lambang=LambangFiles(settings.lambang_path),
        esign=_esign(settings),
        settings=settings,
        engine=engine,
        store=PostgresEventStore(engine),
        celery=make_celery(settings, "letters"),
    )


def _esign(settings: LettersSettings) -> BsreClient | None:
    """The national e-signature service's client, when PENGADUAN_BSRE_URL is set (config.EsignSettings)."""
    if not settings.bsre_url:
        return None
    return BsreClient(
        BsreSettings(
            url=settings.bsre_url,
            username=settings.bsre_username or "",
            password=settings.bsre_password or "",
            timeout=settings.bsre_timeout,
            attempts=settings.bsre_attempts,
        )
    )


@lru_cache(maxsize=1)
def for_this_process() -> Letters:
    return bootstrap()
