"""The dashboard's HTTP API: the Buku Rekap Pengaduan and the kabupaten's figures, read from the dashboard's
projections. Tokens come from ``POST /v1/auth/token`` (the workflow API); this app only checks them.

Routes: ``GET /v1/register`` (entrypoints/register.py), ``GET /v1/dashboard/summary|steps|overdue|referrals``
(entrypoints/figures.py), ``GET /healthz``. Other read-side routers (the event feed, Open311) are passed in as
``extra_routers``; they find ``app.state.settings`` (install_auth), ``app.state.engine`` and the whole
container at ``app.state.dashboard``.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from services.dashboard.bootstrap import Dashboard, bootstrap
from services.dashboard.entrypoints import figures, lapor_export, projections, register
from shared.auth import install_auth
from shared.http import Health, check_database, health_response, install_error_handlers
from shared.metrics import install_metrics
from shared.open311_http import GeoReportXmlErrors


def create_app(container: Dashboard | None = None, extra_routers: Sequence[APIRouter] = ()) -> FastAPI:
    dash = container or bootstrap()
    app = FastAPI(
        title="pengaduan: dashboard",
        version="1",
        description="Buku Rekap Pengaduan (JSON, CSV, XLSX) and the kabupaten dashboard. Kecamatan staff read "
        "their own kecamatan; kabupaten users every kecamatan of their kabupaten, personal data masked.",
    )
    app.state.dashboard = dash
    app.state.engine = dash.engine  # what the other read-side routers (feed, Open311) expect
    install_error_handlers(app)
    install_auth(app, dash.settings, dash.engine)
    app.include_router(register.router)
    app.include_router(lapor_export.router)  # the SP4N-LAPOR! export (docs/adr/0023)
    app.include_router(figures.router)

    # ---- other routers of the read side (event feed, Open311) are included here -------------------------
    for extra in extra_routers:
        app.include_router(extra)
    # ---------------------------------------------------------------------------------------------------------

    @app.get("/healthz", response_model=Health, summary="Health of the dashboard: database and projection lag")
    def healthz() -> JSONResponse:
        checks = {"database": check_database(dash.engine)}
        if checks["database"]["ok"]:
            for st in projections.status(dash.engine):
                checks[f"projection {st['name']}"] = {"ok": st["lag"] <= dash.settings.projection_lag_alert, **st}
        return health_response("dashboard", checks)

    install_metrics(app, "dashboard")
    app.add_middleware(GeoReportXmlErrors)  # outermost: Open311's .xml errors answered before a route (ADR 0018)
    return app


def create_full_app() -> FastAPI:
    """The dashboard API as ``pengaduan api dashboard`` serves it (a uvicorn factory): the register and the
    figures, plus the event feed and Open311, with the request metrics every API has."""
    from services.dashboard.entrypoints import feed, open311, page, public_statistics

    # page: GET /dasbor, its assets; public_statistics: GET /v1/public/statistics (no sign-in)
    return create_app(extra_routers=[feed.router, open311.router, page.router, public_statistics.router])
