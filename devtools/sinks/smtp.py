"""The SMTP sink (aiosmtpd): accepts any mail, optionally behind STARTTLS and AUTH, and keeps it in the
outbox, attachments included."""

from __future__ import annotations

import email
import email.policy
import hmac
import socket
import ssl
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from devtools.sinks.store import HOLD_SECONDS, Control, Outbox

SMTP_REPLIES = {
    "tempfail": "451 4.3.0 Mailbox temporarily unavailable, try again later",
    "error429": "451 4.7.0 Too many messages, slow down",
    "reject": "550 5.1.1 Mailbox unavailable",
    "error400": "550 5.7.1 Message refused",
    "error500": "554 5.0.0 Transaction failed",
}


class SmtpSink:
    """aiosmtpd handler. Each transaction (MAIL FROM) is one attempt and takes the control mode then:
    tempfail/error429 answer 451 and reject/error400 550 at RCPT, error500 554 and timeout hangs at DATA."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802 (aiosmtpd's name)
        envelope.sink_control = self.outbox.attempt("smtp")
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        mode = getattr(envelope, "sink_control", Control()).mode
        if mode in ("tempfail", "error429", "reject", "error400"):
            return SMTP_REPLIES[mode]
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        control = getattr(envelope, "sink_control", Control())
        if control.mode == "timeout":
            await self.outbox.pause(HOLD_SECONDS)
            return "451 4.4.2 Timeout"
        if control.mode == "error500":
            return SMTP_REPLIES["error500"]
        mail = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        body = mail.get_body(preferencelist=("plain",))
        attachments = [
            self.outbox.store_blob(
                part.get_payload(decode=True) or b"", part.get_content_type(), part.get_filename() or "lampiran"
            )
            for part in mail.iter_attachments()
        ]
        message_id = str(mail.get("Message-ID") or "").strip().strip("<>")
        text = body.get_content().replace("\r\n", "\n") if body is not None else ""
        entry = self.outbox.record(
            channel="email",
            provider="smtp",
            to=", ".join(envelope.rcpt_tos),
            subject=str(mail.get("Subject") or ""),
            text=text,
            reference=message_id.partition("@")[0] or None,
            attachments=attachments,
            id=message_id or None,
        )
        if control.delay:
            await self.outbox.pause(control.delay)
        return f"250 2.0.0 OK queued as {entry['id']}"


def tcp_listener(host: str, port: int) -> socket.socket:
    """A listening socket created with proto IPPROTO_TCP (``socket.create_server`` leaves it 0), so that
    asyncio turns Nagle's algorithm off on accepted connections: aiosmtpd writes its EHLO answer a line at
    a time, and with Nagle on every session stalls ~40 ms waiting for the client's delayed ACK."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


class BoundController(Controller):
    """aiosmtpd's Controller on a socket bound beforehand, so port 0 (any free port) works."""

    def __init__(self, handler: Any, sock: socket.socket, **kwargs: Any) -> None:
        self._sock = sock
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **kwargs)

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


def start_smtp_sink(
    outbox: Outbox,
    sock: socket.socket,
    *,
    tls_context: ssl.SSLContext | None = None,
    auth: tuple[str, str] | None = None,
) -> BoundController:
    """The SMTP sink serving on ``sock`` in a thread of its own: STARTTLS required when ``tls_context`` is
    given, AUTH (LOGIN/PLAIN with ``auth``'s user and password) when ``auth`` is, over TLS if both are."""
    kwargs: dict[str, Any] = {"server_hostname": "devsinks.localhost", "ready_timeout": 10.0}
    if tls_context is not None:
        kwargs.update(tls_context=tls_context, require_starttls=True)
    if auth is not None:
        kwargs.update(authenticator=_authenticator(*auth), auth_required=True, auth_require_tls=tls_context is not None)
    controller = BoundController(SmtpSink(outbox), sock, **kwargs)
    controller.start()
    return controller


def _authenticator(user: str, password: str):
    def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
        if (
            isinstance(auth_data, LoginPassword)
            and hmac.compare_digest(auth_data.login, user.encode())
            and (hmac.compare_digest(auth_data.password, password.encode()))
        ):
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    return authenticate
