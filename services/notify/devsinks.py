"""Local stand-ins for the providers (development and tests only): they speak the providers' protocols,
keep what they receive, and show it, so nothing leaves the machine and every send can be seen.

One process runs two servers:

- SMTP (aiosmtpd): accepts any mail, optionally behind STARTTLS and AUTH;
- HTTP (FastAPI on uvicorn):
  ``POST /sms/send`` and ``GET /sms/status/{reference}`` (the generic SMS gateway),
  ``POST /zenziva/reguler/api/sendsms/`` (Zenziva), ``POST /whatsapp/{version}/{phone_number_id}/media``
  and ``.../messages`` (the WhatsApp Cloud API, with signed status webhooks when configured), and for
  people and tests ``/dev/outbox`` (an HTML page), ``/dev/outbox/messages``, ``/dev/outbox/attempts``,
  ``/dev/outbox/attachments/{sha256}`` and ``POST /dev/outbox/control``, which makes a sink fail on
  purpose (HTTP 500/400/429, SMTP 451/550/554, hanging, or answering late after accepting).

``Sinks`` runs both in threads of the calling process (tests); ``main`` runs them until SIGTERM/SIGINT
(``pengaduan devsinks``). Not for production: no persistence, and anyone who reaches it can read it.
"""
from __future__ import annotations

import argparse
import asyncio
import copy
import email
import email.policy
import hashlib
import hmac
import html
import json
import logging
import re
import secrets
import signal
import socket
import ssl
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl

import httpx
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from services.notify.adapters.channels.registry import mask_recipient

log = logging.getLogger(__name__)

TARGETS: tuple[str, ...] = ("smtp", "sms", "zenziva", "whatsapp")
Mode = Literal["ok", "error500", "error400", "error429", "timeout", "tempfail", "reject"]
HOLD_SECONDS = 60.0  # "timeout": longer than any client waits
WABA_ID = "102290129340398"  # a made-up WhatsApp Business Account id for the webhooks
DISPLAY_PHONE_NUMBER = "6281100000000"


@dataclass
class Control:
    mode: str = "ok"
    times: int | None = None  # requests still to get this mode; None: until changed
    delay: float = 0.0


@dataclass
class Blob:
    data: bytes
    content_type: str
    filename: str


class Outbox:
    """What the sinks received and how they are told to behave; shared by both servers' threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[dict[str, Any]] = []
        self._blobs: dict[str, Blob] = {}
        self._attempts: Counter[str] = Counter()
        self._controls: dict[str, Control] = {}
        self.stopping = threading.Event()

    def attempt(self, target: str) -> Control:
        """Count one request reaching ``target`` and say how to answer it (consuming one of ``times``)."""
        with self._lock:
            self._attempts[target] += 1
            control = self._controls.get(target)
            if control is None:
                return Control()
            if control.times is not None:
                control.times -= 1
                if control.times <= 0:
                    del self._controls[target]
            return copy.copy(control)

    def set_control(self, target: str, mode: str, times: int | None = None, delay: float = 0.0) -> None:
        with self._lock:
            for t in TARGETS if target == "*" else (target,):
                if mode == "ok" and not delay:
                    self._controls.pop(t, None)
                else:
                    self._controls[t] = Control(mode, times, delay)

    def controls(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {t: {"mode": c.mode, "times": c.times, "delay": c.delay} for t, c in self._controls.items()}

    def store_blob(self, data: bytes, content_type: str, filename: str) -> dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            self._blobs[digest] = Blob(data, content_type, filename)
        return {"filename": filename, "content_type": content_type, "size": len(data), "sha256": digest}

    def blob(self, sha256: str) -> Blob | None:
        with self._lock:
            return self._blobs.get(sha256)

    def record(self, *, channel: str, provider: str, to: str, text: str, subject: str | None = None,
               reference: str | None = None, attachments: list[dict[str, Any]] | None = None,
               id: str | None = None) -> dict[str, Any]:
        entry = {
            "id": id or str(uuid.uuid4()), "channel": channel, "provider": provider, "to": to, "subject": subject,
            "text": text, "reference": reference, "attachments": attachments or [],
            "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        with self._lock:
            self._messages.append(entry)
        what = f"'{subject}'" if subject else f"{len(text)} karakter"
        files = f", {len(entry['attachments'])} lampiran" if entry["attachments"] else ""
        log.info("%s via %s untuk %s: %s%s", channel, provider, mask_recipient(to or "-"), what, files)
        return copy.deepcopy(entry)

    def messages(self, channel: str | None = None, to: str | None = None) -> list[dict[str, Any]]:
        """Accepted messages, newest first."""
        with self._lock:
            found = [m for m in reversed(self._messages)
                     if (channel is None or m["channel"] == channel) and (to is None or m["to"] == to)]
            return copy.deepcopy(found)

    def attempts(self) -> dict[str, int]:
        with self._lock:
            return {t: self._attempts[t] for t in TARGETS}

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._blobs.clear()
            self._attempts.clear()
            self._controls.clear()

    async def pause(self, seconds: float) -> None:
        """Wait ``seconds`` (or until the sinks stop) without blocking the server's event loop."""
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


# SMTP ------------------------------------------------------------------------------------------

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
            self.outbox.store_blob(part.get_payload(decode=True) or b"", part.get_content_type(),
                                   part.get_filename() or "lampiran")
            for part in mail.iter_attachments()
        ]
        message_id = str(mail.get("Message-ID") or "").strip().strip("<>")
        text = body.get_content().replace("\r\n", "\n") if body is not None else ""
        entry = self.outbox.record(
            channel="email", provider="smtp", to=", ".join(envelope.rcpt_tos), subject=str(mail.get("Subject") or ""),
            text=text, reference=message_id.partition("@")[0] or None, attachments=attachments, id=message_id or None,
        )
        if control.delay:
            await self.outbox.pause(control.delay)
        return f"250 2.0.0 OK queued as {entry['id']}"


def _tcp_listener(host: str, port: int) -> socket.socket:
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


class _BoundController(Controller):
    """aiosmtpd's Controller on a socket bound beforehand, so port 0 (any free port) works."""

    def __init__(self, handler: Any, sock: socket.socket, **kwargs: Any) -> None:
        self._sock = sock
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **kwargs)

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


# HTTP ------------------------------------------------------------------------------------------


class ControlRequest(BaseModel):
    target: Literal["smtp", "sms", "zenziva", "whatsapp", "*"]
    mode: Mode = "ok"
    times: int | None = Field(
        None, ge=1, description="Requests that get this mode, then back to ok; null: until changed"
    )
    delay: float = Field(0.0, ge=0, le=600, description="Seconds between accepting a message and answering")


def graph_error(status: int, code: int, message: str, type_: str = "OAuthException",
                subcode: int | None = None) -> JSONResponse:
    error: dict[str, Any] = {"message": message, "type": type_, "code": code, "fbtrace_id": secrets.token_urlsafe(12)}
    if subcode is not None:
        error["error_subcode"] = subcode
    return JSONResponse({"error": error}, status_code=status)


def failure(target: str, mode: str) -> Response:
    """How each provider says ``mode`` (control), in its own words."""
    if target == "whatsapp":
        return {
            "error500": lambda: graph_error(500, 131000, "Something went wrong", "OAuthException"),
            "error400": lambda: graph_error(400, 131026, "Message undeliverable"),
            "error429": lambda: graph_error(429, 130429, "Rate limit hit"),
            "tempfail": lambda: graph_error(503, 133004, "Server temporarily unavailable"),
            "reject": lambda: graph_error(400, 131047, "Re-engagement message"),
            "timeout": lambda: graph_error(504, 2, "Service temporarily unavailable"),
        }[mode]()
    if target == "zenziva" and mode in ("tempfail", "reject"):
        text = "Server sedang sibuk, silakan coba lagi" if mode == "tempfail" else "Nomor tujuan tidak valid"
        return JSONResponse({"status": "0", "text": text})
    status = {"error500": 500, "error400": 400, "error429": 429, "tempfail": 503, "reject": 400, "timeout": 504}[mode]
    return JSONResponse({"error": mode, "status": status}, status_code=status)


async def form_or_json(request: Request) -> dict[str, Any]:
    """The request's fields: a JSON object, a urlencoded or multipart form, or the query string."""
    if request.method == "GET":
        return dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            data = await request.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    if content_type.startswith("multipart/form-data"):
        return {k: v for k, v in (await request.form()).items()}
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))


def bearer_ok(request: Request, token: str | None) -> bool:
    if not token:
        return True
    given = request.headers.get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


WA_TYPES = ("text", "template", "document", "image", "audio", "video", "sticker", "location", "contacts",
            "interactive", "reaction")


TEMPLATE_PARAMETER_TYPES = ("text", "currency", "date_time", "document", "image", "video", "payload")


def whatsapp_problem(body: Any, media: dict[str, Blob]) -> str | None:
    """What the Cloud API would object to in a ``/messages`` body (enough to catch adapter bugs), or None."""
    if not isinstance(body, dict):
        return "(#100) The request body must be a JSON object"
    if body.get("messaging_product") != "whatsapp":
        return "(#100) The parameter messaging_product is required."
    if body.get("recipient_type", "individual") not in ("individual", "group"):
        return "(#100) Invalid parameter: recipient_type"
    if not isinstance(body.get("to"), str) or not re.fullmatch(r"\d{8,15}", body["to"]):
        return "(#100) Invalid parameter: to must be the number's digits, e.g. 6281234567890"
    kind = body.get("type", "text")
    if kind not in WA_TYPES:
        return f"(#100) Param type must be one of {{{', '.join(WA_TYPES)}}}"
    part = body.get(kind)
    if not isinstance(part, dict):
        return f"(#100) The parameter {kind} is required."
    opaque = body.get("biz_opaque_callback_data")
    if opaque is not None and (not isinstance(opaque, str) or len(opaque) > 512):
        return "(#100) biz_opaque_callback_data must be a string of at most 512 characters"
    if kind == "text":
        if not isinstance(part.get("body"), str) or not part["body"].strip():
            return "(#100) The parameter text['body'] is required."
        if len(part["body"]) > 4096:
            return "(#100) text['body'] is longer than 4096 characters"
    elif kind == "template":
        if not isinstance(part.get("name"), str) or not part["name"]:
            return "(#100) The parameter template['name'] is required."
        if not isinstance(part.get("language"), dict) or not isinstance(part["language"].get("code"), str):
            return "(#100) The parameter template['language']['code'] is required."
        for component in part.get("components", []):
            if not isinstance(component, dict) or component.get("type") not in ("header", "body", "button"):
                return "(#100) Invalid parameter: template component type"
            for p in component.get("parameters", []):
                if not isinstance(p, dict) or p.get("type") not in TEMPLATE_PARAMETER_TYPES:
                    return "(#100) Invalid parameter: template parameter"
                if p.get("type") == "text" and not isinstance(p.get("text"), str):
                    return "(#100) The parameter text is required for a text parameter"
    elif kind == "document":
        if ("id" in part) == ("link" in part):
            return "(#100) document needs exactly one of id or link"
        if "id" in part and part["id"] not in media:
            return "(#100) Invalid parameter: unknown media id"
        if "link" in part and not str(part["link"]).startswith(("http://", "https://")):
            return "(#100) Invalid parameter: document['link'] must be an http(s) URL"
        if "caption" in part and len(str(part["caption"])) > 1024:
            return "(#100) document['caption'] is longer than 1024 characters"
    return None


def status_payload(wamid: str, status: str, recipient: str, reference: str | None, phone_number_id: str) -> dict:
    """A Cloud API status webhook (``sent``, ``delivered``...) for one message."""
    entry: dict[str, Any] = {
        "id": wamid, "status": status, "timestamp": str(int(time.time())), "recipient_id": recipient,
    }
    if reference:
        entry["biz_opaque_callback_data"] = reference
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": DISPLAY_PHONE_NUMBER, "phone_number_id": phone_number_id},
            "statuses": [entry],
        }}]}],
    }


def sign(app_secret: str, raw: bytes) -> str:
    """``X-Hub-Signature-256``: ``sha256=`` and the hex HMAC-SHA256 of the raw body under the app secret."""
    return "sha256=" + hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()


def post_statuses(url: str, app_secret: str, payloads: list[dict]) -> None:
    """Post status webhooks one after another (from a background thread); failures are logged only."""
    for payload in payloads:
        raw = json.dumps(payload, separators=(",", ":")).encode()
        try:
            response = httpx.post(url, content=raw, timeout=5.0, headers={
                "Content-Type": "application/json", "X-Hub-Signature-256": sign(app_secret, raw)})
            if response.status_code >= 300:
                log.warning("WhatsApp status webhook answered HTTP %s", response.status_code)
        except httpx.HTTPError as exc:
            log.warning("WhatsApp status webhook failed: %s", type(exc).__name__)
        time.sleep(0.05)


def build_app(sinks: Sinks) -> FastAPI:
    outbox = sinks.outbox
    app = FastAPI(title="pengaduan devsinks", docs_url=None, redoc_url=None, openapi_url=None)

    async def controlled(target: str) -> tuple[Control, Response | None]:
        control = outbox.attempt(target)
        if control.mode == "timeout":
            await outbox.pause(HOLD_SECONDS)
            return control, failure(target, "timeout")
        if control.mode != "ok":
            return control, failure(target, control.mode)
        return control, None

    # generic SMS gateway -----------------------------------------------------------------------
    @app.api_route("/sms/send", methods=["GET", "POST"])
    async def sms_send(request: Request) -> Response:
        control, answer = await controlled("sms")
        if answer is not None:
            return answer
        if not bearer_ok(request, sinks.sms_token):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        fields = await form_or_json(request)
        to, text = fields.get("to"), fields.get("message")
        if not isinstance(to, str) or not to or not isinstance(text, str) or not text:
            return JSONResponse({"error": "to and message are required"}, status_code=400)
        reference = fields.get("reference") if isinstance(fields.get("reference"), str) else None
        entry = outbox.record(channel="sms", provider="http-sms", to=to, text=text, reference=reference or None)
        if control.delay:
            await outbox.pause(control.delay)
        return JSONResponse({"id": entry["id"], "status": "accepted"})

    @app.get("/sms/status/{reference}")
    async def sms_status(reference: str, request: Request) -> Response:
        if not bearer_ok(request, sinks.sms_token):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        for m in outbox.messages(channel="sms"):
            if m["provider"] == "http-sms" and m["reference"] == reference:
                return JSONResponse({"id": m["id"], "status": "accepted"})
        return JSONResponse({"error": "not found"}, status_code=404)

    # Zenziva -----------------------------------------------------------------------------------
    @app.post("/zenziva/reguler/api/sendsms/")
    async def zenziva_send(request: Request) -> Response:
        control, answer = await controlled("zenziva")
        if answer is not None:
            return answer
        fields = await form_or_json(request)
        if sinks.zenziva_keys and (fields.get("userkey"), fields.get("passkey")) != tuple(sinks.zenziva_keys):
            return JSONResponse({"status": "0", "text": "Userkey atau Passkey salah"})
        to, text = str(fields.get("to") or ""), str(fields.get("message") or "")
        if not re.fullmatch(r"(0|62)\d{8,13}", to):
            return JSONResponse({"status": "0", "to": to, "text": "Nomor tujuan tidak valid"})
        if not text:
            return JSONResponse({"status": "0", "to": to, "text": "Pesan tidak boleh kosong"})
        message_id = str(10**11 + secrets.randbelow(9 * 10**11))  # Zenziva's ids are numbers
        entry = outbox.record(channel="sms", provider="zenziva", to=to, text=text, id=message_id)
        if control.delay:
            await outbox.pause(control.delay)
        return JSONResponse({"messageId": entry["id"], "to": to, "status": "1", "text": "Success"})

    # WhatsApp Cloud API ------------------------------------------------------------------------
    media: dict[str, Blob] = {}

    @app.post("/whatsapp/{version}/{phone_number_id}/media")
    async def whatsapp_media(version: str, phone_number_id: str, request: Request) -> Response:
        _, answer = await controlled("whatsapp")
        if answer is not None:
            return answer
        if not bearer_ok(request, sinks.whatsapp_token):
            return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return graph_error(400, 100, "(#100) The media upload must be multipart/form-data")
        form = await request.form()
        if form.get("messaging_product") != "whatsapp":
            return graph_error(400, 100, "(#100) The parameter messaging_product is required.")
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            return graph_error(400, 100, "(#100) The parameter file is required.")
        content_type = str(form.get("type") or upload.content_type or "")
        if "/" not in content_type:
            return graph_error(400, 100, "(#100) The parameter type is required.")
        data = await upload.read()
        if not data:
            return graph_error(400, 131053, "Media upload error: the file is empty")
        media_id = str(10**15 + secrets.randbelow(9 * 10**15))
        media[media_id] = Blob(data, content_type, upload.filename or "lampiran")
        return JSONResponse({"id": media_id})

    @app.post("/whatsapp/{version}/{phone_number_id}/messages")
    async def whatsapp_messages(version: str, phone_number_id: str, request: Request) -> Response:
        control, answer = await controlled("whatsapp")
        if answer is not None:
            return answer
        if not bearer_ok(request, sinks.whatsapp_token):
            return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        try:
            body = await request.json()
        except ValueError:
            body = None
        problem = whatsapp_problem(body, media)
        if problem:
            return graph_error(400, 100, problem)
        kind = body.get("type", "text")
        part = body[kind]
        subject, text, attachments = None, "", []
        if kind == "text":
            text = part["body"]
        elif kind == "template":
            subject = f"template {part['name']} ({part['language']['code']})"
            text = "\n".join(p.get("text", "") for c in part.get("components", []) for p in c.get("parameters", []))
        elif kind == "document":
            text = part.get("caption", "")
            if "id" in part:
                blob = media[part["id"]]
                filename = part.get("filename") or blob.filename
                attachments.append(outbox.store_blob(blob.data, blob.content_type, filename))
            else:
                attachments.append({"filename": part.get("filename"), "content_type": None, "size": None,
                                    "sha256": None, "url": part["link"]})
        else:
            text = f"({kind})"
        wamid = "wamid." + secrets.token_urlsafe(24)
        reference = body.get("biz_opaque_callback_data")
        outbox.record(channel="whatsapp", provider="whatsapp-cloud", to=body["to"], subject=subject, text=text,
                      reference=reference, attachments=attachments, id=wamid)
        if sinks.whatsapp_webhook_url and sinks.whatsapp_app_secret:
            payloads = [status_payload(wamid, s, body["to"], reference, phone_number_id) for s in ("sent", "delivered")]
            threading.Thread(
                target=post_statuses, args=(sinks.whatsapp_webhook_url, sinks.whatsapp_app_secret, payloads),
                name="devsinks-webhook", daemon=True,
            ).start()
        if control.delay:
            await outbox.pause(control.delay)
        return JSONResponse({"messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                             "messages": [{"id": wamid}]})

    # for people and tests ----------------------------------------------------------------------
    @app.get("/dev/outbox", response_class=HTMLResponse)
    async def outbox_page() -> HTMLResponse:
        return HTMLResponse(render_page(outbox.messages(), outbox.attempts()))

    @app.get("/dev/outbox/messages")
    async def list_messages(channel: str | None = None, to: str | None = None) -> list[dict[str, Any]]:
        return outbox.messages(channel=channel, to=to)

    @app.delete("/dev/outbox/messages")
    async def clear_messages() -> dict[str, str]:
        outbox.clear()
        return {"status": "cleared"}

    @app.get("/dev/outbox/attempts")
    async def attempts() -> dict[str, int]:
        return outbox.attempts()

    @app.get("/dev/outbox/attachments/{sha256}")
    async def attachment(sha256: str) -> Response:
        blob = outbox.blob(sha256)
        if blob is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        safe_name = re.sub(r'[^\w.\- ]', "_", blob.filename)
        return Response(blob.data, media_type=blob.content_type,
                        headers={"Content-Disposition": f'inline; filename="{safe_name}"'})

    @app.get("/dev/outbox/control")
    async def get_controls() -> dict[str, dict[str, Any]]:
        return outbox.controls()

    @app.post("/dev/outbox/control")
    async def set_control(request: ControlRequest) -> ControlRequest:
        outbox.set_control(request.target, request.mode, request.times, request.delay)
        return request

    return app


CHANNEL_NAMES = {"email": "E-mail", "sms": "SMS", "whatsapp": "WhatsApp"}


def render_page(messages: list[dict[str, Any]], attempts: dict[str, int]) -> str:
    """The outbox as a page for people: every value escaped, no outside assets, refreshed every 5 s."""
    e = html.escape
    rows = []
    for m in messages:
        files = "<br>".join(
            f'<a href="/dev/outbox/attachments/{e(a["sha256"])}">{e(a["filename"] or "lampiran")}</a> '
            f'({e(str(a["size"]))} byte)' if a.get("sha256")
            else f'<a href="{e(a.get("url") or "")}">{e(a.get("filename") or "tautan")}</a>'
            for a in m["attachments"]
        ) or "-"
        subject = f"<strong>{e(m['subject'])}</strong><br>" if m["subject"] else ""
        rows.append(
            f"<tr><td>{e(m['received_at'][:19].replace('T', ' '))}</td>"
            f"<td>{e(CHANNEL_NAMES.get(m['channel'], m['channel']))}<br><small>{e(m['provider'])}</small></td>"
            f"<td>{e(m['to'])}</td><td>{subject}<pre>{e(m['text'])}</pre></td><td>{files}</td></tr>"
        )
    body = "\n".join(rows) or '<tr><td colspan="5">Belum ada pesan.</td></tr>'
    tried = ", ".join(f"{e(t)}: {n}" for t, n in attempts.items())
    return f"""<!doctype html>
<html lang="id"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>Pesan yang akan terkirim</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #ccc; padding: .4rem .6rem; vertical-align: top; text-align: left; }}
th {{ background: #f2f2f2; }}
pre {{ white-space: pre-wrap; margin: 0; font-family: inherit; }}
</style></head>
<body>
<h1>Pesan yang akan terkirim</h1>
<p>Semua pesan e-mail, SMS dan WhatsApp yang diterima server tiruan ini (pengembangan saja; tidak ada yang
benar-benar dikirim). Halaman ini diperbarui setiap 5 detik. Percobaan per penyedia: {tried}.</p>
<table>
<thead><tr><th>Waktu (UTC)</th><th>Saluran</th><th>Penerima</th><th>Subjek / isi</th><th>Lampiran</th></tr></thead>
<tbody>
{body}
</tbody></table>
</body></html>
"""


# running them ----------------------------------------------------------------------------------


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
    ) -> None:
        self.host = host
        self._smtp_port, self._http_port = smtp_port, http_port
        self.smtp_tls_context = smtp_tls_context
        self.smtp_auth = smtp_auth
        self.sms_token = sms_token
        self.zenziva_keys = zenziva_keys
        self.whatsapp_token = whatsapp_token
        self.whatsapp_app_secret = whatsapp_app_secret
        self.whatsapp_webhook_url = whatsapp_webhook_url
        self.outbox = Outbox()
        self._controller: _BoundController | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> Sinks:
        self.outbox.stopping.clear()
        smtp_sock = _tcp_listener(self.host, self._smtp_port)
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
        kwargs: dict[str, Any] = {"server_hostname": "devsinks.localhost", "ready_timeout": 10.0}
        if self.smtp_tls_context is not None:
            kwargs.update(tls_context=self.smtp_tls_context, require_starttls=True)
        if self.smtp_auth is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=self.smtp_tls_context is not None)
        self._controller = _BoundController(SmtpSink(self.outbox), sock, **kwargs)
        self._controller.start()

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and self.smtp_auth is not None:
            user, password = self.smtp_auth
            if hmac.compare_digest(auth_data.login, user.encode()) and hmac.compare_digest(
                auth_data.password, password.encode()
            ):
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def _start_http(self, sock: socket.socket) -> None:
        config = uvicorn.Config(build_app(self), log_config=None, log_level="warning", access_log=False,
                                lifespan="off", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="devsinks-http", daemon=True)
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
            "PENGADUAN_SMTP_HOST": host, "PENGADUAN_SMTP_PORT": str(self._smtp_port),
            "PENGADUAN_SMS_PROVIDER": sms_provider,
            "PENGADUAN_WHATSAPP_API_URL": f"{self.http_url}/whatsapp",
            "PENGADUAN_WHATSAPP_TOKEN": self.whatsapp_token or "devsinks",
            "PENGADUAN_WHATSAPP_PHONE_NUMBER_ID": "109876543210987",
        }
        if self.smtp_auth:
            env.update(PENGADUAN_SMTP_USERNAME=self.smtp_auth[0], PENGADUAN_SMTP_PASSWORD=self.smtp_auth[1])
        if sms_provider == "http":
            env.update(PENGADUAN_SMS_URL=f"{self.http_url}/sms/send",
                       PENGADUAN_SMS_STATUS_URL=f"{self.http_url}/sms/status/{{reference}}")
            if self.sms_token:
                env.update(PENGADUAN_SMS_AUTH="bearer", PENGADUAN_SMS_TOKEN=self.sms_token)
        else:
            userkey, passkey = self.zenziva_keys or ("devsinks", "devsinks")
            env.update(PENGADUAN_ZENZIVA_URL=f"{self.http_url}/zenziva/reguler/api/sendsms/",
                       PENGADUAN_ZENZIVA_USERKEY=userkey, PENGADUAN_ZENZIVA_PASSKEY=passkey)
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


def main(argv: list[str] | None = None) -> int:
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
    sinks = Sinks(args.host, args.smtp_port, args.http_port, whatsapp_app_secret=args.whatsapp_app_secret,
                  whatsapp_webhook_url=args.whatsapp_webhook_url)
    try:
        sinks.start()
    except OSError as exc:
        log.error("cannot start the sinks: %s", exc)
        return 1
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    log.info("SMTP on %s:%s, HTTP on %s, messages at %s/dev/outbox",
             args.host, sinks.smtp_port, sinks.http_url, sinks.http_url)
    for key, value in sinks.env().items():
        log.info("  %s=%s", key, value)
    try:
        while not done.wait(0.5):
            pass
    finally:
        sinks.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
