"""Step 10 through the national e-signature service (docs/adr/0016): the workflow's API asks, inside the Camat's
own request and with the Camat's own token, for the numbered letter to be signed by BSrE with the passphrase the
Camat just typed, before it records the signature. Internal: the gateway and nginx route nothing under
``/internal/``; not in the OpenAPI document either. The body must carry the workflow's signature
(``X-Pengaduan-Esign``: HMAC under the deployment's secret key), so a signed-in user cannot compose one."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from services.letters import handlers
from services.letters.entrypoints.deps import LettersDep
from shared.auth import CurrentUser
from shared.contracts.letters import ESIGN_ERRORS, ESIGN_PATH, ESIGN_SIGNATURE_HEADER, EsignLetter, esign_signature
from shared.http import ApiError

router = APIRouter()

RETRY_AFTER = "60"  # seconds, for a 503: BSrE's short outages pass within a minute or two
MAX_BODY = 16 * 1024


@router.post(ESIGN_PATH, status_code=201, include_in_schema=False)
async def esign(request: Request, user: CurrentUser, letters: LettersDep) -> JSONResponse:
    body = await request.body()
    given = request.headers.get(ESIGN_SIGNATURE_HEADER, "")
    if len(body) > MAX_BODY or not hmac.compare_digest(given, esign_signature(letters.settings.secret_key, body)):
        raise ApiError(403, "forbidden", "Permintaan ini hanya diterima dari layanan alur kerja.")
    try:
        asked = EsignLetter.model_validate_json(body)
    except ValidationError:
        raise ApiError(422, "esign_rejected", "Permintaan tanda tangan tidak terbaca.") from None
    try:
        row = await run_in_threadpool(
            handlers.esign_letter, letters, asked, signer=user.username, signer_kecamatan=user.kecamatan
        )
    except handlers.EsignRefused as refused:
        status = ESIGN_ERRORS.get(refused.code, 502)
        headers = {"Retry-After": RETRY_AFTER} if status == 503 else None
        raise ApiError(status, refused.code, refused.message, headers=headers) from None
    return JSONResponse({"sha256": row["sha256"], "size": row["size"]}, status_code=201)
