"""SMS through a generic HTTP gateway, described entirely by settings (``PENGADUAN_SMS_*``).

A send is one request to ``sms_url``: POST with a form or JSON body, or GET with query parameters.
Its fields are ``to`` (E.164, as we hold it), ``message`` and ``reference`` (our idempotency key), each
renamed by ``sms_params`` (an empty name leaves it out), plus the constants ``sms_extra_params``.
Authentication: a bearer token, HTTP basic, or a token in a header of the provider's choosing.

The answer: 2xx is accepted, the provider's id read from the JSON at ``sms_id_field`` (a dotted path,
``messages.0.id``; none when absent or not JSON); 429 and 5xx, timeouts and connection failures are
worth trying again; any other 4xx is not.

``lookup`` asks ``sms_status_url`` (``{reference}`` filled in) when the gateway has such a query:
200 found, 404 "never got it" (``detail="not_found"``: safe to send now). Only configure a URL that
really answers 404 for unknown references, since a wrong URL answering 404 would cause double sends.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any

import httpx

from services.notify.adapters.channels.base import OutboundMessage, SendResult
from services.notify.adapters.channels.http_failures import TRANSPORT_ERRORS, HttpProvider
from services.notify.adapters.channels.settings import ChannelSettings

PROVIDER = "http-sms"
GATEWAY = HttpProvider("SMS gateway", PROVIDER, "PENGADUAN_SMS_URL")


def dig(data: Any, path: str) -> str | None:
    """The value at a dotted path (``messages.0.id``) as a string, or None when any step is missing."""
    for step in path.split(".") if path else []:
        if isinstance(data, dict):
            data = data.get(step)
        elif isinstance(data, list) and step.isdigit() and int(step) < len(data):
            data = data[int(step)]
        else:
            return None
    if data is None or isinstance(data, (dict, list)):
        return None
    return str(data)


def sms_fields(message: OutboundMessage, params: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """The request's fields: ours renamed by ``params`` (empty name: left out), then the constants."""
    ours = {"to": message.to, "message": message.text, "reference": message.reference}
    fields = {params[key]: value for key, value in ours.items() if params.get(key)}
    return {**extra, **fields}


NO_KEEPALIVE = httpx.Limits(max_keepalive_connections=0)


class HttpSmsChannel:
    name = "sms"
    provider = PROVIDER

    def __init__(self, settings: ChannelSettings) -> None:
        if not settings.sms_url:
            raise ValueError("the http SMS provider needs PENGADUAN_SMS_URL")
        self.settings = settings

    @functools.cached_property
    def _shared(self) -> httpx.Client:
        """One client per process (making one loads the TLS trust store: most of a send's CPU). No
        keep-alive: a pooled connection the gateway closed would make a send look unanswered."""
        return self._make_client()

    def _client(self) -> contextlib.AbstractContextManager[httpx.Client]:
        return contextlib.nullcontext(self._shared)

    def _make_client(self) -> httpx.Client:
        s = self.settings
        headers: dict[str, str] = {"Accept": "application/json"}
        auth: httpx.BasicAuth | None = None
        token = s.sms_token.get_secret_value() if s.sms_token else ""
        if s.sms_auth == "bearer":
            headers["Authorization"] = f"Bearer {token}"
        elif s.sms_auth == "header":
            headers[s.sms_auth_header] = token
        elif s.sms_auth == "basic":
            auth = httpx.BasicAuth(s.sms_username or "", s.sms_password.get_secret_value() if s.sms_password else "")
        return httpx.Client(headers=headers, auth=auth, timeout=s.sms_timeout, limits=NO_KEEPALIVE)

    def send(self, message: OutboundMessage) -> SendResult:
        s = self.settings
        fields = sms_fields(message, s.sms_params, s.sms_extra_params)
        try:
            with self._client() as client:
                if s.sms_method == "GET":
                    response = client.get(s.sms_url, params=fields)
                elif s.sms_body == "json":
                    response = client.post(s.sms_url, json=fields)
                else:
                    response = client.post(s.sms_url, data=fields)
        except TRANSPORT_ERRORS as exc:
            raise GATEWAY.transport_error(exc) from None
        failure = GATEWAY.status_error(response.status_code)
        if failure is not None:
            raise failure
        return SendResult(provider=PROVIDER, provider_message_id=dig(_json(response), s.sms_id_field))

    def lookup(self, reference: str) -> SendResult | None:
        """Found: a result; the gateway says 404: ``detail="not_found"``; cannot tell: None."""
        if not self.settings.sms_status_url:
            return None
        try:
            with self._client() as client:
                response = client.get(self.settings.sms_status_url.replace("{reference}", reference))
        except httpx.HTTPError:
            return None
        if response.status_code == 404:
            return SendResult(provider=PROVIDER, provider_message_id=None, detail="not_found")
        if response.status_code != 200:
            return None
        return SendResult(
            provider=PROVIDER, provider_message_id=dig(_json(response), self.settings.sms_id_field), detail="found"
        )


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
