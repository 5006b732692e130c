"""The dashboard (the read side), as the composition root (``pengaduan/``) sees it: its API and routes, its
projections (run by ``pengaduan projections run``, rebuilt by ``pengaduan projections rebuild NAME``, their lag
and set-aside events shown by ``pengaduan projections status``) and those as gauges."""

from __future__ import annotations

from services.dashboard.adapters.gauges import gauges
from shared.config import Settings
from shared.service import Api, ProjectionAdmin, Route, RunContext, Service
from shared.subscriptions import Runner


def _projections(ctx: RunContext) -> list[Runner]:
    from services.dashboard.config import DashboardSettings
    from services.dashboard.entrypoints.projections import make_runners

    return make_runners(ctx.engine, DashboardSettings())  # the base settings plus the projections' batch sizes


def _status(settings: Settings) -> list[dict]:
    """Each projection's lag and set-aside events, listed (``pengaduan projections status``)."""
    from services.dashboard.adapters import tables as t
    from services.dashboard.entrypoints.projections import NAMES
    from shared.projection_failures import status_reader

    return status_reader(t.checkpoints, t.projection_failures, NAMES)(settings)


def _rebuild(_: Settings, name: str) -> dict:
    from services.dashboard.config import DashboardSettings
    from services.dashboard.entrypoints.projections import rebuild

    return rebuild(DashboardSettings(), name)


def _names() -> tuple[str, ...]:
    from services.dashboard.entrypoints.projections import NAMES

    return NAMES


SERVICE = Service(
    name="dashboard",
    # the read side: the event feed (paged and SSE), the register, the dashboard figures, Open311, the page
    api=Api(
        "services.dashboard.entrypoints.api:create_full_app",
        8004,
        (
            Route("/v1/events", exact=True),
            Route("/v1/events/"),
            Route("/v1/register", exact=True),
            Route("/v1/register/"),
            Route("/v1/dashboard/"),
            Route("/open311/"),
            Route("/v1/public/statistics", exact=True),  # the public statistics (no sign-in; ADR 0022)
            Route("/dasbor", exact=True),  # the kabupaten's dashboard page and its assets
            Route("/dasbor/"),
        ),
    ),
    runners={"projections": _projections},
    projections=ProjectionAdmin(status=_status, names=_names, rebuild=_rebuild),
    gauges=gauges,  # each projection's lag and set-aside events (services/dashboard/adapters/gauges.py)
)
