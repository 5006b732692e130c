"""Builds intake's settings, engine and adapters. Called by the entrypoints, never at import."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from celery import Celery
from sqlalchemy import Engine

from services.intake.adapters.postgres import PostgresUnitOfWork
from services.intake.adapters.whatsapp import GraphMediaFetcher
from services.intake.config import IntakeSettings
from services.intake.handlers.context import Context
from shared.celery_app import make_celery
from shared.db import make_engine
from shared.storage import store_from_settings
from shared.tenancy import KecamatanDirectory


@dataclass(kw_only=True)
class Intake(Context):
    """The handlers' context (units of work in PostgreSQL) and what the processes use besides: the engine (the
    projection, the outbox publisher, the scheduler's jobs, the health check) and the broker."""

    engine: Engine
    celery: Celery


def bootstrap(settings: IntakeSettings | None = None) -> Intake:
    settings = settings or IntakeSettings()
    engine = make_engine(settings)
    media = None
    if settings.whatsapp_token is not None:
        media = GraphMediaFetcher(
            settings.whatsapp_api_url,
            settings.whatsapp_api_version,
            settings.whatsapp_token.get_secret_value(),
            timeout=settings.whatsapp_media_timeout,
        )
    return Intake(
        settings=settings,
        uow=partial(PostgresUnitOfWork, engine),
        engine=engine,
        directory=KecamatanDirectory(engine),
        celery=make_celery(settings, "intake"),
        documents=store_from_settings(settings.documents_url),
        whatsapp_media=media,
    )
