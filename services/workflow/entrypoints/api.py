"""The workflow's HTTP API. Staff commands and queries arrive with the SOP steps (issue 3)."""
from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from services.workflow.bootstrap import Workflow, bootstrap
from shared.celery_app import make_celery
from shared.http import Health, check_broker, check_database, health_response, install_error_handlers


def create_app(workflow: Workflow | None = None) -> FastAPI:
    workflow = workflow or bootstrap()
    celery = make_celery(workflow.settings, "workflow-api")
    app = FastAPI(title="pengaduan: workflow", version="1", description="The 12 SOP steps, by role.")
    install_error_handlers(app)

    @app.get("/healthz", response_model=Health, summary="Health of the workflow and its dependencies")
    def healthz() -> JSONResponse:
        checks = {"database": check_database(workflow.engine), "broker": check_broker(celery)}
        if checks["database"]["ok"]:
            checks["event_store"] = {"ok": True, "last_position": workflow.store.last_position()}
        return health_response("workflow", checks)

    return app
