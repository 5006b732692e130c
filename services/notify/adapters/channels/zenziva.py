"""SMS through Zenziva (Indonesia), its "reguler" API as public clients use it.

A send is ``POST zenziva_url`` with the form fields ``userkey``, ``passkey``, ``to`` and ``message``.
Zenziva takes numbers in the local format (``08...``), so ``+628...`` becomes ``08...``. It answers
HTTP 200 with JSON ``{"messageId": "...", "to": "...", "status": "1", "text": "Success"}``; any other
``status`` is a refusal explained by ``text`` (wrong keys, invalid number, no credit), permanent unless
the text says the service is busy or down for a while. HTTP 429/5xx and network failures are transient.
"""

from __future__ import annotations

import contextlib
import functools
import re

import httpx

from services.notify.adapters.channels.base import (
    OutboundMessage,
    PermanentSendError,
    SendResult,
    TransientSendError,
)
from services.notify.adapters.channels.http_failures import TRANSPORT_ERRORS, HttpProvider
from services.notify.adapters.channels.settings import ChannelSettings

PROVIDER = "zenziva"
ZENZIVA = HttpProvider("Zenziva", PROVIDER, "PENGADUAN_ZENZIVA_URL")

# words in Zenziva's "text" that say "not now" rather than "never"
TEMPORARY = re.compile(
    r"busy|sibuk|coba (lagi|kembali)|try again|maintenance|pemeliharaan|gangguan|timeout|unavailable", re.IGNORECASE
)


def local_number(phone: str) -> str:
    """``+6281234567890`` or ``6281234567890`` -> ``081234567890``; other forms unchanged but for spaces."""
    digits = re.sub(r"[\s\-().]", "", phone)
    if digits.startswith("+62"):
        return "0" + digits[3:]
    if digits.startswith("62") and len(digits) > 9:
        return "0" + digits[2:]
    return digits


class ZenzivaSmsChannel:
    name = "sms"
    provider = PROVIDER

    def __init__(self, settings: ChannelSettings) -> None:
        if not (settings.zenziva_userkey and settings.zenziva_passkey):
            raise ValueError("the zenziva SMS provider needs PENGADUAN_ZENZIVA_USERKEY and PENGADUAN_ZENZIVA_PASSKEY")
        self.settings = settings

    @functools.cached_property
    def _client(self) -> httpx.Client:
        """One per process, without keep-alive (see http_sms.py)."""
        return httpx.Client(timeout=self.settings.sms_timeout, limits=httpx.Limits(max_keepalive_connections=0))

    def send(self, message: OutboundMessage) -> SendResult:
        s = self.settings
        form = {
            "userkey": s.zenziva_userkey or "",
            "passkey": s.zenziva_passkey.get_secret_value() if s.zenziva_passkey else "",
            "to": local_number(message.to),
            "message": message.text,
        }
        try:
            with contextlib.nullcontext(self._client) as client:
                response = client.post(s.zenziva_url, data=form, headers={"Accept": "application/json"})
        except TRANSPORT_ERRORS as exc:
            raise ZENZIVA.transport_error(exc) from None
        code = response.status_code
        failure = ZENZIVA.status_error(code)
        if failure is not None:
            raise failure
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise TransientSendError("Zenziva answered without JSON", provider=PROVIDER, status=code)
        status, text = str(answer.get("status", "")), str(answer.get("text", ""))[:200]
        if status == "1":
            message_id = answer.get("messageId")
            return SendResult(provider=PROVIDER, provider_message_id=str(message_id) if message_id else None)
        error = TransientSendError if TEMPORARY.search(text) else PermanentSendError
        raise error(f"Zenziva status {status or '-'}: {text or 'no reason given'}", provider=PROVIDER, status=status)

    def lookup(self, reference: str) -> SendResult | None:
        """Zenziva's reguler API takes no reference of ours and offers no query by one: always unknown."""
        return None
