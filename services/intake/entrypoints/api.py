"""Intake's HTTP API: citizens submit complaints (JSON here, the form with its files in
entrypoints/public_form.py) and follow them; channels' webhooks (entrypoints/channels.py) and staff entry of
complaint-box forms and phone calls, attachments (entrypoints/staff.py); service requests posted to Open311
(entrypoints/open311.py)."""
from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Response
from fastapi.responses import JSONResponse

from services.intake import handlers
from services.intake.bootstrap import Intake, bootstrap
from services.intake.config import IntakeSettings
from services.intake.domain.commands import SubmitComplaint
from services.intake.entrypoints import channels, open311, public_form, staff
from services.intake.entrypoints.deps import IdempotencyKey, IntakeDep, citizen_accepted, get_intake  # noqa: F401  (get_intake: kept for importers)
from services.intake.entrypoints.schemas import ComplaintAccepted, ComplaintIn, TrackingOut
from shared.auth import install_auth
from shared.contracts.tracking import normalize_tracking_code
from shared.ratelimit import RATE_LIMITED_DOC, per_address
from shared.contracts.intake import Complainant
from shared.metrics import install_metrics
from shared.http import (
    ApiError,
    BodySizeLimitByPath,
    ErrorBody,
    FieldError,
    Health,
    check_broker,
    check_database,
    health_response,
    install_error_handlers,
)
from shared.tenancy import UnknownKecamatan

ERRORS = {
    400: {"model": ErrorBody, "description": "Malformed JSON"},
    404: {"model": ErrorBody, "description": "Not found"},
    409: {"model": ErrorBody, "description": "Idempotency key reused with another request"},
    413: {"model": ErrorBody, "description": "Body too large"},
    422: {"model": ErrorBody, "description": "Invalid input; `errors` says which field and why"},
}


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
        responses={413: ERRORS[413]},
    )
    app.state.intake = intake
    install_error_handlers(app)
    install_auth(app, intake.settings, intake.engine)
    settings = intake.settings
    # room for the largest allowed set of scans plus the form around them, whatever max_inbound_bytes says
    large = max(settings.max_inbound_bytes, settings.max_attachments * settings.max_attachment_bytes + 1024 * 1024)
    app.add_middleware(BodySizeLimitByPath, default=settings.max_body_bytes, large=large, prefixes=LARGE_BODY_PREFIXES)
    app.include_router(channels.router)
    app.include_router(staff.router)
    app.include_router(public_form.router)
    app.include_router(open311.router)

    @app.post(
        "/v1/complaints",
        status_code=202,
        response_model=ComplaintAccepted,
        responses={**{k: ERRORS[k] for k in (400, 409, 422)}, **RATE_LIMITED_DOC},
        dependencies=[Depends(per_address("submissions"))],
        summary="Submit a complaint (web form)",
    )
    def submit(
        body: ComplaintIn,
        intake: IntakeDep,
        response: Response,
        idempotency_key: IdempotencyKey = None,
        x_correlation_id: Annotated[uuid.UUID | None, Header()] = None,
    ) -> ComplaintAccepted:
        command = SubmitComplaint(
            kecamatan=body.kecamatan,
            channel=body.channel,
            # already validated and normalised by ComplaintIn: not a second round of e-mail parsing
            complainant=Complainant.model_construct(**body.complainant.model_dump()),
            subject=body.subject,
            description=body.description,
            idempotency_key=idempotency_key,
            correlation_id=x_correlation_id or uuid.uuid4(),
        )
        try:
            accepted = handlers.submit_complaint(intake, command)
        except UnknownKecamatan:
            raise ApiError(
                422,
                "unknown_kecamatan",
                "Kecamatan tidak dikenal.",
                [FieldError(field="kecamatan", code="unknown_kecamatan", message="Kecamatan ini tidak terdaftar di layanan ini.")],
            ) from None
        except handlers.IdempotencyKeyReused:
            raise ApiError(
                409,
                "idempotency_key_reused",
                "Idempotency-Key ini sudah dipakai untuk pengaduan yang berbeda.",
            ) from None
        return citizen_accepted(accepted, intake.settings, response)

    @app.get(
        "/v1/track/{tracking_code}",
        response_model=TrackingOut,
        responses={404: ERRORS[404], **RATE_LIMITED_DOC},
        dependencies=[Depends(per_address("tracking"))],
        summary="Public status of a complaint (no personal data)",
    )
    def track(tracking_code: str, intake: IntakeDep) -> TrackingOut:
        code = normalize_tracking_code(tracking_code)
        found = handlers.track(intake, code) if code else None
        if found is None:
            raise ApiError(404, "tracking_code_not_found", "Kode pelacakan tidak ditemukan. Periksa kembali kode Anda.")
        return TrackingOut.model_validate(found)

    @app.get("/healthz", response_model=Health, summary="Health of intake and its dependencies")
    def healthz(intake: IntakeDep) -> JSONResponse:
        checks = {"database": check_database(intake.engine), "broker": check_broker(intake.celery)}
        if checks["database"]["ok"]:
            checks["outbox"] = handlers.outbox_health(intake)
        return health_response("intake", checks)

    install_metrics(app, "intake")
    return app
