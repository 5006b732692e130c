"""Step 10 where the kecamatan signs through BSrE (docs/adr/0016): the workflow's API asks the letters service to
have the numbered letter signed, with the passphrase the signer typed and the signer's own token, before it records
the signature. An HTTP client of letters' internal route (``shared.contracts.letters.ESIGN_PATH``), straight to the
letters API (``PENGADUAN_LETTERS_URL``, as the gateway reaches it), never through the gateway.

Whatever goes wrong is an ``EsignFailed`` with letters' code (``ESIGN_ERRORS``): the workflow's transaction is then
rolled back, so nothing is recorded and the letter's number is given back. The passphrase is in the request body
only: never in a URL, a log line or an exception."""

from __future__ import annotations

import logging

import httpx

from services.workflow.domain.model import EsignFailed
from shared.contracts.letters import ESIGN_ERRORS, ESIGN_PATH, EsignLetter

log = logging.getLogger(__name__)


UNREACHABLE = "Layanan surat tidak dapat dihubungi, jadi surat belum ditandatangani. Coba lagi beberapa saat lagi."


class LettersEsign:
    """``sign(request, authorization)``: letters has BSrE sign the letter and keeps the PDF; raises ``EsignFailed``."""

    def __init__(self, base_url: str, *, timeout: float, transport: httpx.BaseTransport | None = None) -> None:
        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport)

    def sign(self, request: EsignLetter, authorization: str | None) -> None:
        body = request.model_dump(mode="json", exclude={"passphrase"})
        body["passphrase"] = request.passphrase.get_secret_value()
        headers = {"Authorization": authorization} if authorization else {}
        try:
            answer = self._client.post(ESIGN_PATH, json=body, headers=headers)
        except httpx.HTTPError as exc:  # the request (with the passphrase) is on the exception: not chained
            log.warning("letters unreachable for a signature through BSrE: %s", type(exc).__name__)
            raise EsignFailed("esign_unavailable", UNREACHABLE) from None
        if answer.status_code == 201:
            return
        try:
            error = answer.json()
            code, message = str(error["code"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            log.warning("letters answered a signature through BSrE with HTTP %s", answer.status_code)
            code = "esign_unavailable" if answer.status_code >= 500 else "esign_rejected"
            message = UNREACHABLE if code == "esign_unavailable" else "Layanan surat menolak permintaan tanda tangan."
        if code not in ESIGN_ERRORS:  # e.g. letters' own validation_error: a fault of ours, not the signer's
            log.warning("letters refused a signature through BSrE: HTTP %s %s", answer.status_code, code)
            code = "esign_rejected"
        raise EsignFailed(code, message)

    def close(self) -> None:
        self._client.close()
