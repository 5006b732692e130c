"""Step 10 where the kecamatan signs through BSrE (docs/adr/0016): the workflow's API asks the letters service to
have the numbered letter signed, with the passphrase the signer typed and the signer's own token, before it records
the signature. An HTTP client of letters' internal route (``shared.contracts.letters.ESIGN_PATH``), straight to the
letters API (``PENGADUAN_LETTERS_URL``, as the gateway reaches it), never through the gateway; the body carries the
workflow's signature (HMAC under the deployment's secret key) and a deadline.

Whatever goes wrong is an ``EsignFailed`` with letters' code (``ESIGN_ERRORS``): the workflow's transaction is then
rolled back, so nothing is recorded and the letter's number is given back. The passphrase is in the request body
only: never in a URL, a log line or an exception (none is chained: httpx's errors hold the request)."""

from __future__ import annotations

import json
import logging

import httpx

from services.workflow.domain.model import EsignFailed
from shared.contracts.letters import ESIGN_ERRORS, ESIGN_PATH, ESIGN_SIGNATURE_HEADER, EsignLetter, esign_signature

log = logging.getLogger(__name__)

UNREACHABLE = "Layanan surat tidak dapat dihubungi, jadi surat belum ditandatangani. Coba lagi beberapa saat lagi."


class LettersEsign:
    """``sign(request, authorization)``: letters has BSrE sign the letter and keeps the PDF; raises ``EsignFailed``."""

    def __init__(
        self, base_url: str, *, timeout: float, secret_key: str, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.timeout = timeout
        self._secret = secret_key
        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport)

    def __repr__(self) -> str:
        return f"LettersEsign({self._client.base_url!s})"

    def sign(self, request: EsignLetter, authorization: str | None) -> None:
        answer = self._post(request, authorization)
        if isinstance(answer, EsignFailed):
            raise answer
        if answer.status_code == 201:
            return
        raise _failure(answer)

    def _post(self, request: EsignLetter, authorization: str | None) -> httpx.Response | EsignFailed:
        """The answer, or the failure to raise outside any ``except`` (so that nothing holding the body is chained)."""
        fault = None
        try:
            fields = request.model_dump(mode="json", exclude={"passphrase"})
            fields["passphrase"] = request.passphrase.get_secret_value()
            content = json.dumps(fields, ensure_ascii=True).encode()  # ASCII: never a lone surrogate on the wire
            headers = {
                ESIGN_SIGNATURE_HEADER: esign_signature(self._secret, content),
                "Content-Type": "application/json",
            }
            if authorization:
                headers["Authorization"] = authorization
            return self._client.post(ESIGN_PATH, content=content, headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL, UnicodeError) as exc:
            fault = type(exc).__name__
        log.warning("letters unreachable for a signature through BSrE: %s", fault)
        return EsignFailed("esign_unavailable", UNREACHABLE)

    def close(self) -> None:
        self._client.close()


def _failure(answer: httpx.Response) -> EsignFailed:
    """Letters' refusal as the workflow answers it: its code when it is one of ESIGN_ERRORS; otherwise by status (a
    5xx of letters itself, its database away: unavailable, try again; anything else: refused, an operator looks)."""
    status = answer.status_code
    try:
        error = answer.json()
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "", ""
    if code in ESIGN_ERRORS:
        return EsignFailed(code, message)
    log.warning("letters refused a signature through BSrE: HTTP %s %s", status, code or "-")
    if status >= 500:
        return EsignFailed("esign_unavailable", UNREACHABLE)
    return EsignFailed("esign_rejected", "Layanan surat menolak permintaan tanda tangan. Hubungi admin kabupaten.")
