"""Builds the dashboard's settings, engine and adapters. Called by the entrypoints, never at import."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine

from services.dashboard.adapters.projections import Calendars
from services.dashboard.adapters.queries import KecamatanList, ResultCache
from services.dashboard.config import DashboardSettings
from shared.db import make_engine
from shared.eventstore.postgres import PostgresEventStore
from shared.tenancy import KecamatanDirectory


@dataclass
class Dashboard:
    """What the dashboard's routes use (``request.app.state.dashboard``; other routers mounted on the same
    app, the event feed and Open311, find it there too)."""

    settings: DashboardSettings
    engine: Engine
    store: PostgresEventStore
    directory: KecamatanDirectory
    kecamatan: KecamatanList
    calendars: Calendars
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    results: ResultCache = field(default_factory=ResultCache)


def bootstrap(settings: DashboardSettings | None = None, *, engine: Engine | None = None) -> Dashboard:
    settings = settings or DashboardSettings()
    engine = engine or make_engine(settings)
    directory = KecamatanDirectory(engine)
    return Dashboard(
        settings=settings,
        engine=engine,
        store=PostgresEventStore(engine),
        directory=directory,
        kecamatan=KecamatanList(engine),
        calendars=Calendars(directory),
    )
