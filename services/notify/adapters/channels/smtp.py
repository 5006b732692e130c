"""E-mail over SMTP (smtplib): one message per ``send``, over a session kept open for the next one.

A session (TCP, EHLO, STARTTLS, AUTH) costs several round trips and, with TLS, a handshake: more than the message.
So a session that delivered a message stays open, per thread and process, for the next message that comes within
``smtp_reuse_seconds`` (RFC 5321 allows many mail transactions in one session), for ``smtp_reuse_messages`` at
most; then QUIT. A kept session the server has closed in the meantime fails before DATA (MAIL FROM, or a 421
"closing"): nothing was handed over, so the message goes once more over a new session, once. After DATA nothing is
ever tried again here: a lost answer is an unknown outcome, as before (ADR 0013). ``smtp_reuse_seconds=0``: one
session per message.

The message is a real MIME message: From, To, Subject, Date, a Message-ID made from our reference
(``<reference@domain-of-From>``, so a resent message is recognisably the same one), text/plain with an
optional text/html alternative, and the attachment (the PDF letter) with its filename.

SMTP servers answer with reply codes: 2xx accepted, 4xx try later, 5xx never. An SMTP server cannot be
asked afterwards whether it got a message, so ``lookup`` always answers ``None``.
"""

from __future__ import annotations

import functools
import os
import smtplib
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from services.notify.adapters.channels.base import (
    OutboundMessage,
    OutcomeUnknownError,
    PermanentSendError,
    SendError,
    SendResult,
    TransientSendError,
)
from services.notify.adapters.channels.settings import ChannelSettings

PROVIDER = "smtp"


def message_id(reference: str, sender: str) -> str:
    """``<reference@domain>``, the domain taken from the From address (``localhost`` when it has none)."""
    _, address = parseaddr(sender)
    domain = address.rpartition("@")[2] or "localhost"
    return f"<{reference}@{domain}>"


def build_email(message: OutboundMessage, sender: str, *, date: datetime) -> EmailMessage:
    """The MIME message for ``message``; pure, so the same input always makes the same message."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.to
    mail["Subject"] = message.subject or ""
    mail["Date"] = format_datetime(date)
    mail["Message-ID"] = message_id(message.reference, sender)
    mail.set_content(message.text)
    if message.html:
        mail.add_alternative(message.html, subtype="html")
    if message.attachment:
        maintype, _, subtype = message.attachment.content_type.partition("/")
        mail.add_attachment(
            message.attachment.data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=message.attachment.filename,
        )
    for number, part in enumerate(p for p in mail.walk() if p.is_multipart()):  # instead of random boundaries
        part.set_boundary(f"=_{message.reference}.{number}")
    return mail


def classify(exc: BaseException) -> SendError:
    """What an smtplib or socket failure means for a retry. Messages carry codes, never data."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(400 <= code < 500 for code in codes):
            return TransientSendError(f"recipient deferred ({codes[0]})", provider=PROVIDER, status=codes[0])
        code = next((c for c in codes if c >= 500), codes[0] if codes else None)
        return PermanentSendError(f"recipient refused ({code})", provider=PROVIDER, status=code)
    if isinstance(exc, smtplib.SMTPServerDisconnected) and "timed out" in str(exc):  # smtplib wraps the timeout
        return TransientSendError("SMTP timeout", provider=PROVIDER)
    if isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)):
        return TransientSendError(f"SMTP connection lost: {type(exc).__name__}", provider=PROVIDER)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentSendError(
            "the SMTP server does not support what is configured (STARTTLS or AUTH)", provider=PROVIDER
        )
    if isinstance(exc, smtplib.SMTPResponseException):  # sender refused, data error, auth, helo...
        code = exc.smtp_code
        what = type(exc).__name__
        if 400 <= code < 500:
            return TransientSendError(f"SMTP {what} {code}: try later", provider=PROVIDER, status=code)
        return PermanentSendError(f"SMTP {what} {code}", provider=PROVIDER, status=code)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentSendError(f"SMTP server certificate not trusted: {exc.verify_message}", provider=PROVIDER)
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return TransientSendError("SMTP timeout", provider=PROVIDER)
    if isinstance(exc, OSError):  # refused, reset, DNS, TLS handshake...
        return TransientSendError(f"SMTP connection failed: {type(exc).__name__}", provider=PROVIDER)
    # e.g. no AUTH mechanism in common with the server: a setting to change, not a moment to wait
    return PermanentSendError(f"SMTP failure: {type(exc).__name__}", provider=PROVIDER)


@dataclass
class _Session:
    smtp: smtplib.SMTP
    pid: int  # a session opened before a fork is the parent's: never used by the child
    sent: int = 0
    idle_since: float = 0.0


class _Stale(Exception):
    """A kept session that failed before DATA: the server closed it while it waited."""


class SmtpChannel:
    name = "email"
    provider = PROVIDER

    def __init__(self, settings: ChannelSettings) -> None:
        if not settings.smtp_host:
            raise ValueError("SmtpChannel needs PENGADUAN_SMTP_HOST")
        self.settings = settings
        self._kept = threading.local()  # this thread's open session, if any

    def _take_session(self) -> _Session | None:
        """This thread's kept session if it may carry another message, else None (it is closed)."""
        session: _Session | None = getattr(self._kept, "session", None)
        self._kept.session = None
        if session is None:
            return None
        if session.pid != os.getpid():
            return None  # the parent's socket: left alone (closing it would send the parent's QUIT)
        if time.monotonic() - session.idle_since > self.settings.smtp_reuse_seconds:
            _quit(session.smtp)
            return None
        return session

    def _keep_session(self, session: _Session) -> None:
        session.sent += 1
        if self.settings.smtp_reuse_seconds <= 0 or session.sent >= self.settings.smtp_reuse_messages:
            _quit(session.smtp)
            return
        session.idle_since = time.monotonic()
        self._kept.session = session

    def close(self) -> None:
        """QUIT this thread's kept session, if any."""
        session = self._take_session()
        if session is not None:
            _quit(session.smtp)

    @functools.cached_property
    def _tls(self) -> ssl.SSLContext:
        """Made once: loading the trust store costs more than sending a message."""
        return ssl.create_default_context(cafile=self.settings.smtp_ca_file)

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = self._tls if s.smtp_security != "none" else None
        if s.smtp_security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
        try:
            smtp.ehlo()
            if s.smtp_security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.smtp_username:
                password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                smtp.login(s.smtp_username, password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: OutboundMessage) -> SendResult:
        try:
            mail = build_email(message, self.settings.smtp_from, date=datetime.now(UTC))
        except (ValueError, TypeError) as exc:  # e.g. a line break in the subject: no server would take it
            raise PermanentSendError(
                f"cannot make an e-mail of this message: {type(exc).__name__}", provider=PROVIDER
            ) from None
        envelope_from = parseaddr(self.settings.smtp_from)[1] or "pengaduan@localhost"
        kept = self._take_session()
        try:
            if kept is not None:
                self._transaction(kept, mail, envelope_from, message.to, kept=True)
                return SendResult(provider=PROVIDER, provider_message_id=mail["Message-ID"])
        except _Stale:
            pass  # closed by the server while it waited: nothing was handed over, so over a new session
        try:
            session = _Session(self._connect(), os.getpid())
        except (smtplib.SMTPException, OSError) as exc:
            raise classify(exc) from None
        self._transaction(session, mail, envelope_from, message.to, kept=False)
        return SendResult(provider=PROVIDER, provider_message_id=mail["Message-ID"])

    def _transaction(self, session: _Session, mail: EmailMessage, envelope_from: str, to: str, *, kept: bool) -> None:
        """One mail transaction (MAIL, RCPT, DATA) on ``session``, kept open for the next one if it went well.
        ``kept``: a failure before DATA that says the session is gone raises ``_Stale`` (send again on a new one)."""
        smtp = session.smtp
        data = smtp.data
        in_data = False

        def watched_data(msg):  # past this point the server may have the message
            nonlocal in_data
            in_data = True
            return data(msg)

        smtp.data = watched_data
        try:
            try:
                smtp.send_message(mail, from_addr=envelope_from, to_addrs=[to])
            finally:
                smtp.data = data
        except (smtplib.SMTPException, OSError) as exc:
            smtp.close()  # not QUIT: a server that stopped answering would make us wait again
            if in_data and not isinstance(exc, smtplib.SMTPResponseException):
                # the message went out and the server's answer was lost: it may have taken it
                raise OutcomeUnknownError(
                    f"SMTP answer to DATA lost: {type(exc).__name__}", provider=PROVIDER
                ) from None
            if kept and not in_data and _session_gone(exc):
                raise _Stale from None
            raise classify(exc) from None
        except BaseException:
            smtp.close()
            raise
        self._keep_session(session)

    def lookup(self, reference: str) -> SendResult | None:
        """SMTP has no way to ask a server about a message afterwards: always unknown."""
        return None


def _session_gone(exc: BaseException) -> bool:
    """A failure before DATA that says the session itself is gone: closed, reset, or the server's 421."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    if "timed out" in str(exc):  # a server that hangs: not one that closed an idle session (no second wait)
        return False
    return isinstance(exc, (smtplib.SMTPServerDisconnected, ConnectionError))


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):  # the messages are accepted already
        smtp.close()
