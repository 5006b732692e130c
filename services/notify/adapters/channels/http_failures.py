"""What a failed request to an HTTP provider (the generic SMS gateway, Zenziva, the WhatsApp Cloud API) means
for the send, decided in one place:

- the request went out but no answer came back (read timeout, connection reset, a broken answer): the
  provider may have taken it, so the outcome is unknown (``OutcomeUnknownError``), unless the caller says
  the request is harmless to repeat;
- it never got there (connect timeout, refused, DNS): worth trying again (``TransientSendError``);
- the configured URL cannot be used: no retry will help (``PermanentSendError``);
- an answer with HTTP 429 (slow down) or 5xx (the provider's trouble) is worth trying again; any other
  status outside 2xx is a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from services.notify.adapters.channels.base import (
    OutcomeUnknownError,
    PermanentSendError,
    SendError,
    TransientSendError,
)

# what ``transport_error`` classifies: catch these around a provider's request
TRANSPORT_ERRORS = (httpx.TransportError, httpx.InvalidURL)
_ANSWER_LOST = (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError)  # sent, answer lost
_UNUSABLE_URL = (httpx.UnsupportedProtocol, httpx.InvalidURL)


def transient_status(status: int) -> bool:
    """HTTP 429 and 5xx are worth trying again."""
    return status == 429 or status >= 500


@dataclass(frozen=True)
class HttpProvider:
    """One HTTP provider, as its send errors name it."""

    who: str  # in the error texts: "SMS gateway", "Zenziva", "WhatsApp Cloud API"
    provider: str  # the adapter's PROVIDER
    url_setting: str  # the setting that holds its URL, e.g. "PENGADUAN_SMS_URL"

    def transport_error(
        self,
        exc: httpx.TransportError | httpx.InvalidURL,
        *,
        sent: str = "the request",
        context: str = "",
        answer_lost_is_unknown: bool = True,
    ) -> SendError:
        """The send error for a request that failed without an answer (one of ``TRANSPORT_ERRORS``).
        ``sent``: what the provider may have taken; ``context``: added to the timeout's text;
        ``answer_lost_is_unknown=False``: the request is harmless to repeat, a lost answer is transient."""
        if isinstance(exc, _ANSWER_LOST):
            if answer_lost_is_unknown:
                return OutcomeUnknownError(f"{self.who} took {sent} but did not answer", provider=self.provider)
            return TransientSendError(f"{self.who} timeout{context}", provider=self.provider)
        if isinstance(exc, httpx.TimeoutException):
            return TransientSendError(f"{self.who} timeout{context}", provider=self.provider)
        if isinstance(exc, _UNUSABLE_URL):
            return PermanentSendError(f"{self.url_setting} is not a usable URL", provider=self.provider)
        return TransientSendError(f"{self.who} unreachable: {type(exc).__name__}", provider=self.provider)

    def status_error(self, status: int) -> SendError | None:
        """None for a 2xx answer; else the send error its status means (see ``transient_status``)."""
        if transient_status(status):
            return TransientSendError(f"{self.who} answered HTTP {status}", provider=self.provider, status=status)
        if not 200 <= status < 300:
            return PermanentSendError(f"{self.who} refused: HTTP {status}", provider=self.provider, status=status)
        return None
