"""Step 10 through the national e-signature service (docs/adr/0016): the workflow's API asks, inside the Camat's
own request and with the Camat's own token, for the numbered letter to be signed by BSrE with the passphrase the
Camat just typed, before it records the signature. Internal: the gateway and nginx route nothing under
``/internal/``; not in the OpenAPI document either."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.letters import handlers
from services.letters.entrypoints.deps import LettersDep
from shared.auth import CurrentUser
from shared.contracts.letters import ESIGN_ERRORS, ESIGN_PATH, EsignLetter
from shared.http import ApiError

router = APIRouter()

RETRY_AFTER = "60"  # seconds, for a 503: BSrE's short outages pass within a minute or two


@router.post(ESIGN_PATH, status_code=201, include_in_schema=False)
def esign(body: EsignLetter, user: CurrentUser, letters: LettersDep) -> JSONResponse:
    try:
        row = handlers.esign_letter(letters, body, signer=user.username, signer_kecamatan=user.kecamatan)
    except handlers.EsignRefused as refused:
        status = ESIGN_ERRORS.get(refused.code, 502)
        headers = {"Retry-After": RETRY_AFTER} if status == 503 else None
        raise ApiError(status, refused.code, refused.message, headers=headers) from None
    return JSONResponse({"sha256": row["sha256"], "size": row["size"]}, status_code=201)
