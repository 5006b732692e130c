"""Blank forms anyone may print: the Formulir Pengaduan of a kecamatan, for its complaint box (the SOP's main
channel). Public and the same for everyone, so browsers and proxies may keep it; like every PDF here it is a
download, never a page of ours."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.letters import handlers
from services.letters.entrypoints.deps import NOT_FOUND, PDF, LettersDep
from services.letters.entrypoints.documents import DOWNLOAD_HEADERS
from shared.http import ApiError

router = APIRouter()

FORM_MAX_AGE = 86400  # a day: a letterhead changes seldom, and an old one still serves to write a complaint on


@router.get(
    "/v1/letters/formulir/{kecamatan}.pdf",
    responses={**NOT_FOUND, 304: {"description": "Not modified (If-None-Match)"}},
    summary="The blank complaint form (Formulir Pengaduan) of a kecamatan, to print for its complaint box (public)",
    response_class=Response,
    openapi_extra={"responses": {"200": {"description": "The PDF, one A4 page", "content": PDF}}},
)
def complaint_form(kecamatan: str, request: Request, letters: LettersDep) -> Response:
    found = handlers.complaint_form(letters, kecamatan)
    if found is None:
        raise ApiError(404, "kecamatan_not_found", "Kecamatan tidak ditemukan.")
    pdf, sha256 = found
    headers = {
        "ETag": f'"{sha256}"',
        "Cache-Control": f"public, max-age={FORM_MAX_AGE}",
        "Content-Disposition": f'attachment; filename="formulir-pengaduan-{kecamatan}.pdf"',
        **DOWNLOAD_HEADERS,
    }
    if f'"{sha256}"' in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(pdf, media_type="application/pdf", headers=headers)
