"""The workflow's HTTP API: staff perform the 12 SOP steps, each by its role (they sign in with accounts'
router, served by this process: ``pengaduan/apps.py``). ``create_app`` assembles it; the routes are in
``entrypoints/complaints.py``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from services.workflow.bootstrap import Workflow, bootstrap
from services.workflow.entrypoints import access_log, complaints, privacy
from services.workflow.entrypoints.complaints import ACTIONS_DOC
from shared.auth import install_auth
from shared.celery_app import make_celery
from shared.http import Health, check_broker, check_database, health_response, install_error_handlers
from shared.metrics import install_metrics


def create_app(
    workflow: Workflow | None = None, *, collectors: Iterable[Any] = (), extra_routers: Sequence[APIRouter] = ()
) -> FastAPI:
    """``collectors``: extra Prometheus collectors for ``/metrics`` (the composition root adds the deployment's
    scrape-time gauges, ``pengaduan.apps.workflow``). ``extra_routers``: other services' routes served by this
    process (the composition root adds accounts' sign-in); they find ``app.state.workflow`` and ``install_auth``'s
    state."""
    workflow = workflow or bootstrap()
    app = FastAPI(
        title="pengaduan: workflow",
        version="1",
        description="The 12 SOP steps, each by its role. Actions and their fields:\n\n" + ACTIONS_DOC,
    )
    app.state.workflow = workflow
    app.state.celery = make_celery(workflow.settings, "workflow-api")
    install_error_handlers(app)
    install_auth(app, workflow.settings, workflow.engine)
    for extra in extra_routers:  # first, where the sign-in has always been (the composition root adds it)
        app.include_router(extra)
    app.include_router(complaints.router)
    app.include_router(privacy.router)
    app.include_router(access_log.router)
    app.get("/healthz", response_model=Health, summary="Health of the workflow and its dependencies")(healthz)
    install_metrics(app, "workflow", collectors=collectors)
    return app


def healthz(request: Request) -> JSONResponse:
    workflow: Workflow = request.app.state.workflow
    checks = {"database": check_database(workflow.engine), "broker": check_broker(request.app.state.celery)}
    if checks["database"]["ok"]:
        checks["event_store"] = {"ok": True, "last_position": workflow.store.last_position()}
    return health_response("workflow", checks)
