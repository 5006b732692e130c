"""Builds intake's settings, engine and adapters. Called by the entrypoints, never at import."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from celery import Celery
from sqlalchemy import Engine

from services.intake.adapters.whatsapp import GraphMediaFetcher, MediaFetcher
from services.intake.config import IntakeSettings
from shared.celery_app import make_celery
from shared.db import make_engine
from shared.storage import DocumentStore, store_from_settings
from shared.tenancy import KecamatanDirectory


@dataclass
class Intake:
    settings: IntakeSettings
    engine: Engine
    directory: KecamatanDirectory
    celery: Celery
    documents: DocumentStore
    whatsapp_media: MediaFetcher | None = None  # None when no WhatsApp token is set: media are noted as missing
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    new_id: Callable[[], uuid.UUID] = field(default=uuid.uuid4)
    random_bytes: Callable[[int], bytes] = field(default=secrets.token_bytes)


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
        engine=engine,
        directory=KecamatanDirectory(engine),
        celery=make_celery(settings, "intake"),
        documents=store_from_settings(settings.documents_url),
        whatsapp_media=media,
    )
