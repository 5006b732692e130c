"""Local stand-ins for the providers (development and tests only): they speak the providers' protocols,
keep what they receive, and show it, so nothing leaves the machine and every send can be seen.

One process runs two servers, one fake per module:

- ``smtp``: SMTP (aiosmtpd), accepts any mail, optionally behind STARTTLS and AUTH;
- HTTP (FastAPI on uvicorn): ``sms`` (``POST /sms/send`` and ``GET /sms/status/{reference}``, the generic
  SMS gateway; ``POST /zenziva/reguler/api/sendsms/``, Zenziva), ``whatsapp``
  (``POST /whatsapp/{version}/{phone_number_id}/media`` and ``.../messages``, the WhatsApp Cloud API, with
  signed status webhooks when configured), and for people and tests ``outbox_page`` (``/dev/outbox``, an
  HTML page, ``/dev/outbox/messages``, ``/dev/outbox/attempts``, ``/dev/outbox/attachments/{sha256}`` and
  ``POST /dev/outbox/control``, which makes a sink fail on purpose: HTTP 500/400/429, SMTP 451/550/554,
  hanging, or answering late after accepting).

``store`` keeps what arrived and the controls; ``provider_api`` is what the HTTP fakes share;
``runner.Sinks`` runs both servers in threads of the calling process (tests); :func:`main` runs them until
SIGTERM/SIGINT (``pengaduan devsinks``). Not for production: no persistence, and anyone who reaches it can
read it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from devtools.sinks.runner import Sinks

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """``pengaduan devsinks``: the sinks until SIGTERM or SIGINT; 1 when a port is taken."""
    parser = argparse.ArgumentParser(
        prog="pengaduan devsinks",
        description="Local SMTP, SMS and WhatsApp servers that keep and show every message instead of sending it",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-port", type=int, default=8025)
    parser.add_argument("--whatsapp-webhook-url", help="where to post WhatsApp status webhooks (sent, delivered)")
    parser.add_argument("--whatsapp-app-secret", help="signs the status webhooks (X-Hub-Signature-256)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s devsinks %(message)s")
    for noisy in ("mail.log", "httpx"):  # aiosmtpd logs every SMTP line, addresses included
        logging.getLogger(noisy).setLevel(logging.WARNING)
    sinks = Sinks(
        args.host,
        args.smtp_port,
        args.http_port,
        whatsapp_app_secret=args.whatsapp_app_secret,
        whatsapp_webhook_url=args.whatsapp_webhook_url,
    )
    try:
        sinks.start()
    except OSError as exc:
        log.error("cannot start the sinks: %s", exc)
        return 1
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    log.info(
        "SMTP on %s:%s, HTTP on %s, messages at %s/dev/outbox",
        args.host,
        sinks.smtp_port,
        sinks.http_url,
        sinks.http_url,
    )
    for key, value in sinks.env().items():
        log.info("  %s=%s", key, value)
    try:
        while not done.wait(0.5):
            pass
    finally:
        sinks.stop()
    return 0
