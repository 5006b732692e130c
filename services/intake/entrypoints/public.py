"""Citizens' routes without files: ``POST /v1/complaints`` (the web form as JSON) and
``GET /v1/track/{tracking_code}`` (the public status, no personal data). The form with its files is
entrypoints/public_form.py."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from services.intake.domain.commands import SubmitComplaint
from services.intake.entrypoints.deps import (
    IdempotencyKey,
    IntakeDep,
    anonymous_not_accepted,
    citizen_accepted,
    idempotency_key_reused,
    unknown_category,
    unknown_kecamatan,
)
from services.intake.entrypoints.schemas import (
    CategoryOut,
    ComplaintAccepted,
    ComplaintIn,
    FeedbackAccepted,
    FeedbackIn,
    TrackingOut,
)
from services.intake.handlers import feedback, submissions, tracking
from shared.contracts import categories
from shared.contracts.tracking import normalize_tracking_code
from shared.http import ApiError, ErrorBody
from shared.ratelimit import RATE_LIMITED_DOC, per_address
from shared.tenancy import UnknownKecamatan

router = APIRouter()

ERRORS = {
    400: {"model": ErrorBody, "description": "Malformed JSON"},
    404: {"model": ErrorBody, "description": "Not found"},
    409: {"model": ErrorBody, "description": "Idempotency key reused with another request"},
    422: {"model": ErrorBody, "description": "Invalid input; `errors` says which field and why"},
}


@router.post(
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
        complainant=body.person(),
        subject=body.subject,
        description=body.description,
        idempotency_key=idempotency_key,
        correlation_id=x_correlation_id or uuid.uuid4(),
        category=body.category,
    )
    try:
        accepted = submissions.submit_complaint(intake, command)
    except UnknownKecamatan:
        raise unknown_kecamatan("kecamatan") from None
    except submissions.AnonymousNotAccepted:
        raise anonymous_not_accepted() from None
    except submissions.UnknownCategory:
        raise unknown_category() from None
    except submissions.IdempotencyKeyReused:
        raise idempotency_key_reused() from None
    return citizen_accepted(accepted, intake.settings, response)


@router.get(
    "/v1/categories",
    response_model=list[CategoryOut],
    responses={422: ERRORS[422]},
    summary="The complaint categories a complainant may pick from (public; the kecamatan's kabupaten's list)",
)
def list_categories(
    intake: IntakeDep,
    kecamatan: Annotated[
        str | None,
        Query(
            max_length=40,
            pattern=r"^[a-z0-9-]+$",
            description="A kecamatan's slug: its kabupaten's list; without it, the default list",
        ),
    ] = None,
) -> list[CategoryOut]:
    listed = categories.DEFAULT
    if kecamatan is not None:
        found = intake.directory.get(kecamatan)
        if found is None:
            raise unknown_kecamatan("kecamatan")
        listed = found.categories
    return [
        CategoryOut(code=c.code, name=c.name, description=c.description, group=c.group, lapor=c.lapor) for c in listed
    ]


@router.get(
    "/v1/track/{tracking_code}",
    response_model=TrackingOut,
    responses={404: ERRORS[404], **RATE_LIMITED_DOC},
    dependencies=[Depends(per_address("tracking"))],
    summary="Public status of a complaint (no personal data)",
)
def track(tracking_code: str, intake: IntakeDep) -> TrackingOut:
    code = normalize_tracking_code(tracking_code)
    found = tracking.track(intake, code) if code else None
    if found is None:
        raise ApiError(404, "tracking_code_not_found", "Kode pelacakan tidak ditemukan. Periksa kembali kode Anda.")
    return TrackingOut.model_validate(found)


@router.post(
    "/v1/track/{tracking_code}/feedback",
    status_code=202,
    response_model=FeedbackAccepted,
    responses={
        404: ERRORS[404],
        409: {
            "model": ErrorBody,
            "description": "Not open for an answer now (`feedback_not_open`), or answered "
            "already (`feedback_already_given`)",
        },
        422: ERRORS[422],
        **RATE_LIMITED_DOC,
    },
    dependencies=[Depends(per_address("feedback"))],
    summary="The complainant's answer after the response: resolved or not, and a rating 1-4 (public, once per closing)",
    description="By the tracking code, after the response letter reached the complainant (`feedback.open` in "
    '`GET /v1/track/{code}`). "Not resolved" (`satisfied: false`, with `comment` saying what) within the '
    "kabupaten's window reopens the complaint for the unit that handled it; later, or after a reopening, it is a "
    "keberatan for the Camat. The answer carries no personal data beyond what the complainant writes.",
)
def give_feedback(tracking_code: str, body: FeedbackIn, intake: IntakeDep) -> FeedbackAccepted:
    code = normalize_tracking_code(tracking_code)
    try:
        given = (
            feedback.give(intake, code, satisfied=body.satisfied, rating=body.rating, comment=body.comment)
            if code
            else None
        )
    except feedback.FeedbackNotOpen:
        raise ApiError(
            409,
            "feedback_not_open",
            "Penilaian tidak dapat diberikan sekarang: pengaduan ini belum selesai ditanggapi, sedang ditangani "
            "ulang, atau masa penilaiannya sudah berakhir.",
        ) from None
    except feedback.FeedbackAlreadyGiven:
        raise ApiError(
            409, "feedback_already_given", "Anda sudah memberi penilaian atas tanggapan ini. Terima kasih."
        ) from None
    if given is None:
        raise ApiError(404, "tracking_code_not_found", "Kode pelacakan tidak ditemukan. Periksa kembali kode Anda.")
    _, status = given
    if body.satisfied:
        message = "Terima kasih atas penilaian Anda."
    elif status.objection_state == "answered":  # the kecamatan's procedure has ended (docs/adr/0020)
        message = (
            "Terima kasih, penilaian Anda kami catat. Keberatan Anda sudah dijawab Camat; bila masih keberatan, "
            "Anda dapat menyampaikannya kepada Ombudsman Republik Indonesia."
        )
    else:
        message = (
            "Terima kasih. Tanggapan Anda kami teruskan: pengaduan akan ditinjau kembali. Ikuti perkembangannya "
            "dengan kode pelacakan yang sama."
        )
    return FeedbackAccepted(message=message)
