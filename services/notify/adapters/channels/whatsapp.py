"""WhatsApp through Meta's Cloud API (Graph API).

A send is ``POST {api_url}/{version}/{phone_number_id}/messages`` with ``Authorization: Bearer <token>``
and JSON ``{"messaging_product": "whatsapp", "recipient_type": "individual", "to": <digits, no +>,
"type": ..., "biz_opaque_callback_data": <our reference>}``, where the type is

- ``template`` when the message names an approved template (required outside the 24-hour window):
  ``{"name", "language": {"code"}, "components": [{"type": "body", "parameters": [{"type": "text", ...}]}]}``;
  an attachment is then not sent (it would need a template with a document header);
- ``document`` when there is an attachment: its bytes are uploaded first
  (``POST .../{phone_number_id}/media``, multipart ``messaging_product``, ``type``, ``file`` -> ``{"id"}``)
  and sent as ``{"id", "filename", "caption"}``, or, with only a URL, as ``{"link", "filename", "caption"}``;
- ``text`` otherwise: ``{"body", "preview_url": true}``.

It answers ``{"messages": [{"id": "wamid..."}]}``. Errors are Graph error JSON
``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``; HTTP 429/5xx and the codes in
``TRANSIENT_CODES`` (throttling, temporary service errors) are worth trying again, all else is not.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any

import httpx

from services.notify.adapters.channels.base import (
    OutboundMessage,
    PermanentSendError,
    SendError,
    SendResult,
    TransientSendError,
)
from services.notify.adapters.channels.http_failures import TRANSPORT_ERRORS, HttpProvider, transient_status
from services.notify.adapters.channels.settings import ChannelSettings

PROVIDER = "whatsapp-cloud"
CLOUD_API = HttpProvider("WhatsApp Cloud API", PROVIDER, "PENGADUAN_WHATSAPP_API_URL")

# 1 unknown API error, 2 service unavailable, 4 app request limit, 80007 WABA rate limit,
# 130429 throughput limit, 131000 something went wrong, 131016 service unavailable,
# 131048 spam rate limit, 131056 pair rate limit, 133004 server temporarily unavailable
TRANSIENT_CODES = frozenset({1, 2, 4, 80007, 130429, 131000, 131016, 131048, 131056, 133004})


def wa_number(phone: str) -> str:
    """The Cloud API's ``to``: the E.164 number's digits, without ``+`` or separators."""
    return "".join(ch for ch in phone if ch.isdigit())


def message_payload(message: OutboundMessage, *, media_id: str | None = None) -> dict[str, Any]:
    """The JSON body of ``/messages`` for ``message`` (``media_id``: its attachment, uploaded already)."""
    payload: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": wa_number(message.to),
        "biz_opaque_callback_data": message.reference,
    }
    if message.template:
        payload["type"] = "template"
        template: dict[str, Any] = {"name": message.template, "language": {"code": message.template_language}}
        if message.template_params:
            template["components"] = [
                {"type": "body", "parameters": [{"type": "text", "text": p} for p in message.template_params]}
            ]
        payload["template"] = template
    elif media_id or message.attachment_url:
        document: dict[str, Any] = {"id": media_id} if media_id else {"link": message.attachment_url}
        filename = message.attachment.filename if message.attachment else _filename_of(message.attachment_url or "")
        if filename:
            document["filename"] = filename
        if message.text:
            document["caption"] = message.text
        payload["type"] = "document"
        payload["document"] = document
    else:
        payload["type"] = "text"
        payload["text"] = {"body": message.text, "preview_url": True}
    return payload


def classify(response: httpx.Response) -> SendError:
    """A Graph error answer as a send error: code, subcode, type and Graph's message; never our data."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    code = error.get("code")
    parts = [f"HTTP {response.status_code}"]
    if code is not None:
        parts.append(f"code {code}" + (f"/{error['error_subcode']}" if error.get("error_subcode") else ""))
    if error.get("message"):
        parts.append(str(error["message"])[:200])
    if error.get("fbtrace_id"):
        parts.append(f"fbtrace_id {error['fbtrace_id']}")
    text = "WhatsApp Cloud API: " + ", ".join(parts)
    transient = transient_status(response.status_code) or code in TRANSIENT_CODES
    return (TransientSendError if transient else PermanentSendError)(
        text, provider=PROVIDER, status=code if code is not None else response.status_code
    )


class WhatsAppCloudChannel:
    name = "whatsapp"
    provider = PROVIDER

    def __init__(self, settings: ChannelSettings) -> None:
        if not (settings.whatsapp_token and settings.whatsapp_phone_number_id):
            raise ValueError("WhatsApp needs PENGADUAN_WHATSAPP_TOKEN and PENGADUAN_WHATSAPP_PHONE_NUMBER_ID")
        self.settings = settings
        s = settings
        self.base = f"{s.whatsapp_api_url.rstrip('/')}/{s.whatsapp_api_version}/{s.whatsapp_phone_number_id}"

    @functools.cached_property
    def _client(self) -> httpx.Client:
        """One per process, without keep-alive (see http_sms.py)."""
        s = self.settings
        token = s.whatsapp_token.get_secret_value() if s.whatsapp_token else ""
        return httpx.Client(
            headers={"Authorization": f"Bearer {token}"},
            timeout=s.whatsapp_timeout,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def send(self, message: OutboundMessage) -> SendResult:
        with contextlib.nullcontext(self._client) as client:
            media_id = None
            if message.attachment and not message.template:
                a = message.attachment
                answer = self._call(
                    client,
                    "media",
                    data={"messaging_product": "whatsapp", "type": a.content_type},
                    files={"file": (a.filename, a.data, a.content_type)},
                )
                media_id = answer.get("id")
                if not media_id:
                    raise TransientSendError(
                        "WhatsApp Cloud API: media upload answered without an id", provider=PROVIDER
                    )
            answer = self._call(client, "messages", json=message_payload(message, media_id=media_id))
        messages = answer.get("messages") or [{}]
        return SendResult(provider=PROVIDER, provider_message_id=messages[0].get("id"))

    def _call(self, client: httpx.Client, path: str, **request: Any) -> dict:
        try:
            response = client.post(f"{self.base}/{path}", **request)
        except TRANSPORT_ERRORS as exc:
            # the message may have gone out; a media upload is harmless to redo
            raise CLOUD_API.transport_error(
                exc, sent="the message", context=f" ({path})", answer_lost_is_unknown=path == "messages"
            ) from None
        if not 200 <= response.status_code < 300:
            raise classify(response)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        return answer if isinstance(answer, dict) else {}

    def lookup(self, reference: str) -> SendResult | None:
        """The Cloud API has no query by our reference: always unknown. (Its status webhooks carry
        ``biz_opaque_callback_data``, our reference, back to us instead; intake receives them.)"""
        return None


def _filename_of(url: str) -> str | None:
    name = url.split("?", 1)[0].rstrip("/").rpartition("/")[2]
    return name or None
