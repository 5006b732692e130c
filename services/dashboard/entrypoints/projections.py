"""The dashboard's projections as the processes run them: every projection by name (``NAMES``), one
leader-locked runner for them all (``pengaduan projections run``: ``make_runners``; ``run_projections`` runs it
until SIGTERM/SIGINT), the rebuild of one from position 0 while everything runs
(``pengaduan projections rebuild NAME``) and each one's lag and set-aside events (``status``: the CLI and
``/healthz``)."""

from __future__ import annotations

import signal
import threading

from sqlalchemy import Engine

from services.dashboard.adapters import tables as t
from services.dashboard.adapters.projections import Calendars, ComplaintsProjection, ServiceRequestsProjection
from services.dashboard.adapters.subscription import (
    REBUILD_BATCH,
    LiveRounds,
    Projection,
    Subscription,
    rebuild_projection,
)
from shared.config import Settings
from shared.eventstore.postgres import NOTIFY_CHANNEL, PostgresEventStore
from shared.projection_failures import status as subscription_status
from shared.subscriptions import Runner, notified, run_all
from shared.tenancy import KecamatanDirectory


def projections(engine: Engine) -> dict[str, Projection]:
    """Every dashboard projection by name."""
    calendars = Calendars(KecamatanDirectory(engine))
    return {p.name: p for p in (ComplaintsProjection(calendars), ServiceRequestsProjection())}


NAMES = (ComplaintsProjection.name, ServiceRequestsProjection.name)


def resolve_name(name: str) -> str:
    """A projection's full name (``dashboard.complaints``) or its short form (``complaints``); ValueError for
    any other."""
    for full in NAMES:
        if name in (full, full.split(".", 1)[1]):
            return full
    raise ValueError(f"unknown projection {name!r}; known: {', '.join(NAMES)}")


def make_runners(engine: Engine, settings: Settings) -> list[Runner]:
    """One leader-locked runner for every dashboard projection, in one round each time (``LiveRounds``: one claim,
    one read of the store, one commit); standbys in other processes wait."""
    store = PostgresEventStore(engine)
    batch = getattr(settings, "projection_batch_size", settings.relay_batch_size)
    rounds = LiveRounds([Subscription(engine, store, p, batch_size=batch) for p in projections(engine).values()])
    return [notified(engine, rounds, NOTIFY_CHANNEL, settings, projection=True)]


def run_projections(settings: Settings | None = None, *, stop: threading.Event | None = None) -> None:
    """Runs every dashboard projection until ``stop`` is set (default: until SIGTERM or SIGINT)."""
    from services.dashboard.config import DashboardSettings
    from shared.db import make_engine

    settings = settings or DashboardSettings()
    engine = make_engine(settings, pool_size=2 + len(NAMES))
    runners = make_runners(engine, settings)
    if stop is None:
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            signal.signal(signal.SIGINT, lambda *_: stop.set())
    threads = run_all(runners)
    try:
        stop.wait()
    finally:
        for r in runners:
            r.stop()
        for thread in threads:
            thread.join(timeout=10)
        engine.dispose()


def rebuild(settings_or_engine: Settings | Engine, name: str, *, batch_size: int | None = None) -> dict:
    """Rebuilds one dashboard projection from position 0 while the system runs; returns a report
    (``name, position, events, caught_up_in_swap, seconds, swap_ms``). ValueError for an unknown name,
    ``RebuildInProgress`` when another rebuild of it runs."""
    from shared.db import make_engine

    full = resolve_name(name)
    if isinstance(settings_or_engine, Engine):
        engine, own = settings_or_engine, False
        batch = batch_size or REBUILD_BATCH
    else:
        engine, own = make_engine(settings_or_engine, pool_size=2), True
        batch = batch_size or getattr(settings_or_engine, "rebuild_batch_size", REBUILD_BATCH)
    try:
        projection = projections(engine)[full]
        return rebuild_projection(engine, PostgresEventStore(engine), projection, batch_size=batch).as_dict()
    finally:
        if own:
            engine.dispose()


def status(engine: Engine, *, details: bool = False) -> list[dict]:
    """Each dashboard projection: ``name, checkpoint, head, lag`` (events the store has that it has not applied),
    ``failed`` (events it could not apply and set aside) and ``held`` (later events of the same complaints,
    waiting behind them). ``details`` (the CLI; not ``/healthz``): ``failures``, the failed events (position,
    event id, stream, type, kecamatan, error class and message, first and last failure, attempts, held)."""
    with engine.connect() as conn:
        return subscription_status(conn, t.checkpoints, t.projection_failures, NAMES, details=details)
