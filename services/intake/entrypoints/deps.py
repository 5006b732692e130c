"""What intake's routes depend on: the service container, and the error documentation they share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request, Response

from services.intake.bootstrap import Intake
from services.intake.config import IntakeSettings
from services.intake.entrypoints.schemas import ComplaintAccepted
from services.intake.handlers.submissions import Accepted
from shared.http import ApiError, ErrorBody, FieldError


def get_intake(request: Request) -> Intake:
    return request.app.state.intake


IntakeDep = Annotated[Intake, Depends(get_intake)]

# The optional ``Idempotency-Key`` header of every route that takes one: 1-200 printable ASCII characters, at
# least one of them visible. An empty key is a 422 (it was stored as a key of its own, and refused by the
# unique index ever after: a 500 on every later request with an empty key).
IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=200,
        pattern=r"^[ -~]*[!-~][ -~]*$",
        description="Optional; 1-200 printable ASCII characters. A retry with the same key answers the first result",
    ),
]


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


def json_errors(*codes: int) -> dict[int | str, dict]:
    """``errors`` for a route whose own answer is not JSON (``response_class=PlainTextResponse``): FastAPI
    files a ``model`` under the route's media type, but the errors are JSON all the same."""
    return {
        code: {"description": doc["description"], "content": {"application/json": {"schema": ERROR_BODY}}}
        for code, doc in errors(*codes).items()
    }


ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}  # in every service's spec: shared.http's error shape


def accepted_answer(
    accepted: Accepted, settings: IntakeSettings, response: Response, message: str
) -> ComplaintAccepted:
    """The 202 of every submission path: the tracking code, where to follow it, and ``message`` (whose words
    depend on who submitted); a replayed Idempotency-Key says so in a header."""
    if accepted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return ComplaintAccepted(
        tracking_code=accepted.tracking_code,
        status="received",
        received_at=accepted.received_at,
        track_url=f"{settings.public_base_url}/v1/track/{accepted.tracking_code}",
        message=message,
    )


def citizen_accepted(accepted: Accepted, settings: IntakeSettings, response: Response) -> ComplaintAccepted:
    """The 202 a citizen gets (web JSON and the web form alike): the tracking code and what to do with it."""
    return accepted_answer(
        accepted,
        settings,
        response,
        f"Pengaduan Anda sudah kami terima. Simpan kode pelacakan {accepted.tracking_code} "
        "untuk mengikuti prosesnya. Layanan ini tidak dipungut biaya.",
    )


# -- how a refused submission is answered (the JSON API, the web form, staff's entry) ------------------------
def idempotency_key_reused() -> ApiError:
    """409: the key was sent before with a different complaint (a replay of the same one answers as the first)."""
    return ApiError(409, "idempotency_key_reused", "Idempotency-Key ini sudah dipakai untuk pengaduan yang berbeda.")


def unknown_category(field: str = "category") -> ApiError:
    """422: a category not in the kecamatan's kabupaten's list (``GET /v1/categories?kecamatan=...``)."""
    message = "Kategori tidak dikenal: pilih salah satu dari daftar kategori kecamatan ini, atau kosongkan."
    return ApiError(
        422, "category_unknown", message, [FieldError(field=field, code="category_unknown", message=message)]
    )


def anonymous_not_accepted() -> ApiError:
    """422: an anonymous complaint for a kecamatan that does not accept them (the SOP asks for KTP/SIM/KK)."""
    return ApiError(
        422,
        "anonymous_not_accepted",
        "Kecamatan ini tidak menerima pengaduan tanpa identitas: isi nama, NIK, dan kontak Anda. Identitas dapat "
        "dirahasiakan (centang 'Rahasiakan identitas saya').",
    )


def unknown_kecamatan(field: str) -> ApiError:
    """422: no active kecamatan by that slug is served here; ``field`` names where the form carried it."""
    return ApiError(
        422,
        "unknown_kecamatan",
        "Kecamatan tidak dikenal.",
        [FieldError(field=field, code="unknown_kecamatan", message="Kecamatan ini tidak terdaftar di layanan ini.")],
    )
