"""What intake's routes depend on: the service container, and the error documentation they share."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.intake.bootstrap import Intake
from shared.http import ErrorBody


def get_intake(request: Request) -> Intake:
    return request.app.state.intake


IntakeDep = Annotated[Intake, Depends(get_intake)]


def errors(*codes: int) -> dict[int | str, dict]:
    described = {
        400: "Malformed body",
        401: "Not authenticated (bearer token or webhook secret)",
        403: "Not allowed",
        404: "Not found",
        409: "Idempotency key reused with another request",
        413: "Body too large",
        415: "Unsupported content type",
        422: "Invalid input; `errors` says which field and why",
        503: "Channel not configured",
    }
    return {code: {"model": ErrorBody, "description": described[code]} for code in codes}
