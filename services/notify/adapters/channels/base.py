"""The port every outbound channel adapter implements.

An adapter makes exactly one provider call per ``send`` and classifies its outcome:

- returns ``SendResult``: the provider accepted the message (SMTP 250, HTTP 2xx with a message id);
- raises ``TransientSendError``: worth trying again later (connection refused or reset, timeout, HTTP
  5xx or 429, SMTP 4xx, a provider's "try later" code). The caller decides when (backoff) and how often;
- raises ``OutcomeUnknownError``: the request went out but no answer came back (a read timeout, the
  connection dropped after the request was written): the provider may have taken it. The caller
  reconciles (``lookup``) instead of sending again;
- raises ``PermanentSendError``: trying again cannot help (bad number or address, HTTP 4xx other than
  429, SMTP 5xx, a provider's "invalid recipient" code, no credentials configured).

Adapters never retry by themselves and never sleep: the notify worker owns retries, so that a retried
or redelivered task can never send twice (see services/notify/handlers/sending.py).

``lookup(reference)`` answers "did the provider get a message with this reference of ours?" for the
reconciliation of a send whose outcome was lost (a crash between the provider call and the state
write). An adapter whose provider cannot be asked returns ``None`` (unknown), never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

ChannelName = Literal["email", "sms", "whatsapp"]


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class OutboundMessage:
    channel: ChannelName
    to: str  # an e-mail address, or a phone number in E.164 (+628...)
    text: str  # the plain-text body (the whole message for SMS and WhatsApp text)
    reference: str  # our idempotency key (32 hex chars): Message-ID, client reference, biz_opaque_callback_data
    subject: str | None = None  # e-mail only
    html: str | None = None  # e-mail only, optional alternative part
    attachment: Attachment | None = None  # e-mail: attached; WhatsApp: sent as a document message
    attachment_url: str | None = None  # WhatsApp document by link (when the bytes are not uploaded)
    # WhatsApp business-initiated messages outside the 24-hour window must be approved templates
    template: str | None = None
    template_language: str = "id"
    template_params: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class SendResult:
    provider: str  # "smtp", "http-sms", "zenziva", "whatsapp-cloud"
    provider_message_id: str | None  # what the provider calls it (Message-ID, messageId, wamid...)
    detail: str | None = None


class SendError(Exception):
    """Base of send failures. ``str(exc)`` must be safe to store: no credentials, no message body."""

    def __init__(self, message: str, *, provider: str, status: int | str | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status


class TransientSendError(SendError):
    pass


class PermanentSendError(SendError):
    pass


class OutcomeUnknownError(SendError):
    """The request was sent and its answer lost: sending again could send twice."""


FOUND = "found"  # SendResult.detail of a lookup: the provider has it
NOT_FOUND = "not_found"  # SendResult.detail of a lookup: the provider never got it (sending is safe)


@runtime_checkable
class Channel(Protocol):
    name: ChannelName
    provider: str

    def send(self, message: OutboundMessage) -> SendResult: ...

    def lookup(self, reference: str) -> SendResult | None: ...
