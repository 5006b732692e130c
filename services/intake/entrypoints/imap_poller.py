"""Polls a complaint mailbox over IMAP: each unseen message goes to the same handler as the e-mail webhook,
and is marked seen only once that handler has committed (a crash in between means the message is read
again on the next poll; the Message-ID dedupe makes that harmless).

A message the handler refuses for good (no kecamatan claims the address, an unreadable sender) is marked
seen too and logged: polling it again would never change the answer. A transient failure (database away)
leaves it unseen for the next poll.

Run: ``run_imap_poller(IntakeSettings())`` (``pengaduan`` wires it as a command); settings
``PENGADUAN_IMAP_HOST``, ``_PORT``, ``_USERNAME``, ``_PASSWORD``, ``_FOLDER``, ``_SSL``, ``_POLL_SECONDS``.
"""

from __future__ import annotations

import imaplib
import logging
import signal
import socket
import ssl
import threading
from typing import Protocol

from imap_tools import AND, MailBox, MailBoxUnencrypted, MailMessageFlags
from imap_tools.errors import ImapToolsError
from sqlalchemy.exc import SQLAlchemyError

from services.intake.bootstrap import Intake, bootstrap
from services.intake.config import IntakeSettings
from services.intake.domain.inbound import InvalidInbound
from services.intake.handlers.channels import receive_email
from shared.tenancy import UnknownKecamatan

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0


class Mailbox(Protocol):
    """What the poller needs of a logged-in mailbox (imap_tools' ``BaseMailBox`` has it)."""

    def unseen(self) -> list[str]: ...

    def raw(self, uid: str) -> bytes | None: ...

    def mark_seen(self, uid: str) -> None: ...


class ImapToolsMailbox:
    def __init__(self, box) -> None:
        self.box = box

    def unseen(self) -> list[str]:
        return list(self.box.uids(AND(seen=False)))

    def raw(self, uid: str) -> bytes | None:
        # BODY.PEEK: reading does not set \\Seen; that waits for the handler's commit
        typ, data = self.box.client.uid("FETCH", uid, "(BODY.PEEK[])")
        if typ != "OK":
            return None
        for part in data or ():
            if isinstance(part, tuple) and len(part) >= 2 and isinstance(part[1], bytes):
                return part[1]
        return None

    def mark_seen(self, uid: str) -> None:
        self.box.flag(uid, MailMessageFlags.SEEN, True)


def poll_once(intake: Intake, mailbox: Mailbox, max_bytes: int | None = None) -> int:
    """Hands every unseen message to the e-mail handler; returns how many were handled (and marked seen)."""
    limit = max_bytes or intake.settings.max_inbound_bytes
    handled = 0
    for uid in mailbox.unseen():
        raw = mailbox.raw(uid)
        if raw is None:
            log.warning("imap message vanished before it was read", extra={"uid": uid})
            continue
        if len(raw) > limit:
            log.error("imap message over the inbound size limit left unread", extra={"uid": uid, "size": len(raw)})
            mailbox.mark_seen(uid)
            continue
        try:
            outcome = receive_email(intake, raw)
            log.info(
                "imap message handled", extra={"uid": uid, "result": outcome.result, "duplicate": outcome.duplicate}
            )
        except (InvalidInbound, UnknownKecamatan) as exc:
            log.error(
                "imap message refused",
                extra={"uid": uid, "reason": type(exc).__name__, "code": getattr(exc, "code", None)},
            )
        except Exception as exc:  # one bad message must not stop the mailbox: it stays unseen, the next is read
            log.exception(
                "imap message could not be handled; left unseen", extra={"uid": uid, "reason": type(exc).__name__}
            )
            continue
        mailbox.mark_seen(uid)
        handled += 1
    return handled


def _open(settings: IntakeSettings):
    if not settings.imap_host or not settings.imap_username or settings.imap_password is None:
        raise ValueError(
            "IMAP is not configured: set PENGADUAN_IMAP_HOST, PENGADUAN_IMAP_USERNAME and PENGADUAN_IMAP_PASSWORD"
        )
    box_class = MailBox if settings.imap_ssl else MailBoxUnencrypted
    box = box_class(settings.imap_host, port=settings.imap_port, timeout=30)
    return box.login(
        settings.imap_username, settings.imap_password.get_secret_value(), initial_folder=settings.imap_folder
    )


TRANSIENT = (ImapToolsError, imaplib.IMAP4.error, OSError, socket.timeout, ssl.SSLError, SQLAlchemyError)


def run_imap_poller(
    settings: IntakeSettings, stop: threading.Event | None = None, intake: Intake | None = None
) -> None:
    """Poll until ``stop`` is set (SIGTERM/SIGINT set it when run as a process's main thread)."""
    if not settings.imap_host or not settings.imap_username or settings.imap_password is None:
        raise SystemExit(
            "IMAP is not configured: set PENGADUAN_IMAP_HOST, PENGADUAN_IMAP_USERNAME, PENGADUAN_IMAP_PASSWORD"
        )
    intake = intake or bootstrap(settings)
    if stop is None:
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
    log.info("imap poller started", extra={"host": settings.imap_host, "folder": settings.imap_folder})
    failures = 0
    while not stop.is_set():
        try:
            with _open(settings) as box:
                poll_once(intake, ImapToolsMailbox(box))
            failures = 0
            wait = settings.imap_poll_seconds
        except TRANSIENT as exc:
            failures += 1
            wait = min(MAX_BACKOFF, settings.imap_poll_seconds * (2 ** min(failures - 1, 5)))
            log.warning("imap poll failed, retrying", extra={"error": type(exc).__name__, "retry_in_s": wait})
        stop.wait(wait)
    log.info("imap poller stopped")
