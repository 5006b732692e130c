"""Builds the letters service's settings, engine and adapters. Called once per process, never at import."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache

from celery import Celery
from sqlalchemy import Engine

from services.letters.adapters.development_ca import DevelopmentCA
from services.letters.adapters.signing import SigningIdentity, load_identity
from services.letters.config import LettersSettings
from shared.celery_app import make_celery
from shared.db import make_engine
from shared.eventstore.postgres import PostgresEventStore
from shared.storage import DocumentStore, store_from_settings
from shared.tenancy import Kecamatan, KecamatanDirectory


@dataclass
class Letters:
    settings: LettersSettings
    engine: Engine
    store: PostgresEventStore
    directory: KecamatanDirectory
    documents: DocumentStore
    celery: Celery
    _identities: dict = field(default_factory=dict)

    IDENTITY_TTL = 3600.0  # seconds a loaded key is reused: reading and parsing it costs as much as a letter

    def identity(self, kecamatan: Kecamatan) -> SigningIdentity:
        """The kecamatan's signing key, loaded once an hour per process (a renewed certificate is picked
        up within the hour)."""
        cached = self._identities.get(kecamatan.slug)
        if cached and time.monotonic() - cached[0] < self.IDENTITY_TTL:
            return cached[1]
        identity = self._load_identity(kecamatan)
        self._identities[kecamatan.slug] = (time.monotonic(), identity)
        return identity

    def _load_identity(self, kecamatan: Kecamatan) -> SigningIdentity:
        """From files in production; a development CA makes them elsewhere."""
        folder = self.settings.signing_path
        if self.settings.environment == "production":
            return load_identity(
                folder / f"{kecamatan.slug}.key",
                folder / f"{kecamatan.slug}.crt",
                [folder / "ca.crt"],
                kecamatan.slug,
                f"Camat {kecamatan.name}",
            )
        return DevelopmentCA(folder).identity(kecamatan.slug, kecamatan.name, kecamatan.kabupaten_name)

    def trust_roots(self) -> list[bytes]:
        folder = self.settings.signing_path
        if self.settings.environment == "production":
            return [(folder / "ca.crt").read_bytes()]
        return DevelopmentCA(folder).trust_roots()


def bootstrap(settings: LettersSettings | None = None) -> Letters:
    settings = settings or LettersSettings()
    engine = make_engine(settings)
    return Letters(
        settings=settings,
        engine=engine,
        store=PostgresEventStore(engine),
        directory=KecamatanDirectory(engine),
        documents=store_from_settings(settings.documents_url),
        celery=make_celery(settings, "letters"),
    )


@lru_cache(maxsize=1)
def for_this_process() -> Letters:
    return bootstrap()
