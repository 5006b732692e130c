"""Intake's HTTP API: citizens submit complaints and follow them (entrypoints/public.py; the form with its
files in entrypoints/public_form.py); channels' webhooks (entrypoints/channels.py) and staff entry of
complaint-box forms and phone calls, attachments (entrypoints/staff.py); service requests posted to Open311
(entrypoints/open311.py)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from services.intake.bootstrap import Intake, bootstrap
from services.intake.config import IntakeSettings
from services.intake.entrypoints import channels, lapor, open311, public, public_form, staff
from services.intake.entrypoints.deps import IntakeDep, errors
from services.intake.handlers.health import outbox_health
from shared.auth import install_auth
from shared.http import (
    BodySizeLimitByPath,
    Health,
    check_broker,
    check_database,
    health_response,
    install_error_handlers,
)
from shared.metrics import install_metrics
from shared.open311_http import GeoReportXmlErrors

# channels, staff uploads and the citizens' form carry files (raw e-mail, scans, photos): a larger limit
# there, 64 KiB everywhere else. Open311 clients may send a multipart form with a photo (its file fields are
# ignored, the request is accepted: the gateway's 1 MiB is their limit, as it was when the dashboard took them)
LARGE_BODY_PREFIXES = ("/v1/channels/", "/v1/staff/", "/v1/complaints/form", "/open311/")


def create_app(intake: Intake | None = None) -> FastAPI:
    intake = intake or bootstrap(IntakeSettings())
    app = FastAPI(
        title="pengaduan: intake",
        version="1",
        description="Complaints in (SOP step 1): the public web form and tracking, the SMS, WhatsApp and e-mail "
        "channels, complaint-box forms and phone calls typed in by staff, and their attachments; service "
        "requests posted to Open311.",
        responses=errors(413),
    )
    app.state.intake = intake
    install_error_handlers(app)
    install_auth(app, intake.settings, intake.engine)
    settings = intake.settings
    # room for the largest allowed set of scans plus the form around them, whatever max_inbound_bytes says
    large = max(settings.max_inbound_bytes, settings.max_attachments * settings.max_attachment_bytes + 1024 * 1024)
    app.add_middleware(BodySizeLimitByPath, default=settings.max_body_bytes, large=large, prefixes=LARGE_BODY_PREFIXES)
    for router in (channels.router, lapor.router, staff.router, public_form.router, open311.router, public.router):
        app.include_router(router)

    @app.get("/healthz", response_model=Health, summary="Health of intake and its dependencies")
    def healthz(intake: IntakeDep) -> JSONResponse:
        checks = {"database": check_database(intake.engine), "broker": check_broker(intake.celery)}
        if checks["database"]["ok"]:
            checks["outbox"] = outbox_health(intake)
        return health_response("intake", checks)

    install_metrics(app, "intake")
    app.add_middleware(GeoReportXmlErrors)  # outermost: Open311's .xml errors answered before a route (ADR 0018)
    return app
