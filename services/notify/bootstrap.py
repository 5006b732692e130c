"""Builds the notify service's settings, engine and adapters. Called once per process, never at import."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from celery import Celery
from sqlalchemy import Engine

from services.notify.adapters.channels.base import Channel
from services.notify.adapters.channels.registry import build_channels
from services.notify.config import NotifySettings
from shared.celery_app import make_celery
from shared.db import make_engine
from shared.eventstore.postgres import PostgresEventStore
from shared.storage import DocumentStore, store_from_settings
from shared.tenancy import KecamatanDirectory


@dataclass
class Notify:
    settings: NotifySettings
    engine: Engine
    store: PostgresEventStore
    directory: KecamatanDirectory
    documents: DocumentStore
    celery: Celery
    channels: dict[str, Channel]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


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
