"""Running the sinks: :class:`Sinks` serves the SMTP sink and the HTTP fakes (one FastAPI app) in threads
of the calling process, on any free ports unless told which: ``with Sinks() as sinks: ...``."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI

from devtools.sinks import outbox_page, sms, whatsapp
from devtools.sinks.provider_api import ControlRequest
from devtools.sinks.smtp import BoundController, start_smtp_sink, tcp_listener
from devtools.sinks.store import Outbox


def build_app(sinks: Sinks) -> FastAPI:
    """The HTTP fakes, one app: the SMS gateway and Zenziva, the WhatsApp Cloud API, and /dev/outbox."""
    app = FastAPI(title="pengaduan devsinks", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(sms.router(sinks))
    app.include_router(whatsapp.router(sinks))
    app.include_router(outbox_page.router(sinks.outbox))
    return app


class Sinks:
    """The SMTP and HTTP sinks in threads of this process: ``with Sinks() as sinks: ...``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        smtp_port: int = 0,
        http_port: int = 0,
        *,
        smtp_tls_context: ssl.SSLContext | None = None,
        smtp_auth: tuple[str, str] | None = None,
        sms_token: str | None = None,
        zenziva_keys: tuple[str, str] | None = None,
        whatsapp_token: str | None = None,
        whatsapp_app_secret: str | None = None,
        whatsapp_webhook_url: str | None = None,
        whatsapp_status_reference: bool = True,
    ) -> None:
        """``whatsapp_status_reference`` False: the status webhooks leave out ``biz_opaque_callback_data`` (as Meta
        does for a message sent without one), so the receiver must find the message by its id alone."""
        self.host = host
        self._smtp_port, self._http_port = smtp_port, http_port
        self.smtp_tls_context = smtp_tls_context
        self.smtp_auth = smtp_auth
        self.sms_token = sms_token
        self.zenziva_keys = zenziva_keys
        self.whatsapp_token = whatsapp_token
        self.whatsapp_app_secret = whatsapp_app_secret
        self.whatsapp_webhook_url = whatsapp_webhook_url
        self.whatsapp_status_reference = whatsapp_status_reference
        self.outbox = Outbox()
        self._controller: BoundController | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> Sinks:
        self.outbox.stopping.clear()
        smtp_sock = tcp_listener(self.host, self._smtp_port)
        try:
            http_sock = socket.create_server((self.host, self._http_port))
        except OSError:
            smtp_sock.close()
            raise
        self._smtp_port, self._http_port = smtp_sock.getsockname()[1], http_sock.getsockname()[1]
        try:
            self._start_smtp(smtp_sock)
            self._start_http(http_sock)
        except BaseException:
            self.stop()
            smtp_sock.close()
            http_sock.close()
            raise
        return self

    def _start_smtp(self, sock: socket.socket) -> None:
        self._controller = start_smtp_sink(self.outbox, sock, tls_context=self.smtp_tls_context, auth=self.smtp_auth)

    def _start_http(self, sock: socket.socket) -> None:
        config = uvicorn.Config(
            build_app(self),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="devsinks-http", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the devsinks HTTP server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.outbox.stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._server = None
        if self._controller is not None:
            self._controller.stop(no_assert=True)
            self._controller = None

    def __enter__(self) -> Sinks:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # where
    @property
    def smtp_port(self) -> int:
        return self._smtp_port

    @property
    def http_port(self) -> int:
        return self._http_port

    @property
    def http_url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self._http_port}"

    def env(self, sms_provider: Literal["http", "zenziva"] = "http") -> dict[str, str]:
        """``PENGADUAN_*`` settings that point the channel adapters at these sinks."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        env = {
            "PENGADUAN_SMTP_HOST": host,
            "PENGADUAN_SMTP_PORT": str(self._smtp_port),
            "PENGADUAN_SMS_PROVIDER": sms_provider,
            "PENGADUAN_WHATSAPP_API_URL": f"{self.http_url}/whatsapp",
            "PENGADUAN_WHATSAPP_TOKEN": self.whatsapp_token or "devsinks",
            "PENGADUAN_WHATSAPP_PHONE_NUMBER_ID": "109876543210987",
        }
        if self.smtp_auth:
            env.update(PENGADUAN_SMTP_USERNAME=self.smtp_auth[0], PENGADUAN_SMTP_PASSWORD=self.smtp_auth[1])
        if sms_provider == "http":
            env.update(
                PENGADUAN_SMS_URL=f"{self.http_url}/sms/send",
                PENGADUAN_SMS_STATUS_URL=f"{self.http_url}/sms/status/{{reference}}",
            )
            if self.sms_token:
                env.update(PENGADUAN_SMS_AUTH="bearer", PENGADUAN_SMS_TOKEN=self.sms_token)
        else:
            userkey, passkey = self.zenziva_keys or ("devsinks", "devsinks")
            env.update(
                PENGADUAN_ZENZIVA_URL=f"{self.http_url}/zenziva/reguler/api/sendsms/",
                PENGADUAN_ZENZIVA_USERKEY=userkey,
                PENGADUAN_ZENZIVA_PASSKEY=passkey,
            )
        return env

    # what arrived
    def messages(self, channel: str | None = None, to: str | None = None) -> list[dict[str, Any]]:
        """Accepted messages, newest first (the shape of ``GET /dev/outbox/messages``)."""
        return self.outbox.messages(channel=channel, to=to)

    def attachment_bytes(self, sha256: str) -> bytes | None:
        blob = self.outbox.blob(sha256)
        return blob.data if blob else None

    def attempts(self, target: str) -> int:
        """Requests that reached ``target`` (smtp, sms, zenziva, whatsapp), failed ones included."""
        return self.outbox.attempts()[target]

    def control(self, target: str, mode: str, times: int | None = None, delay: float = 0.0) -> None:
        """Make ``target`` (or ``"*"``) answer with ``mode`` for ``times`` requests (None: until changed)."""
        ControlRequest(target=target, mode=mode, times=times, delay=delay)  # validates
        self.outbox.set_control(target, mode, times, delay)

    def clear(self) -> None:
        """Forget messages, attachments, attempts and controls."""
        self.outbox.clear()

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], Any], timeout: float = 5.0) -> Any:
        """Poll the messages (newest first) until ``predicate(messages)`` is truthy; return that value."""
        deadline = time.monotonic() + timeout
        while True:
            found = predicate(self.messages())
            if found:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"no matching message within {timeout} s")
            time.sleep(0.02)
