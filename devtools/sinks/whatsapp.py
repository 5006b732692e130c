"""The WhatsApp Cloud API fake: ``POST /whatsapp/{version}/{phone_number_id}/media`` and ``.../messages``,
checking message bodies as the Cloud API would, and posting signed status webhooks (sent, delivered) when
a webhook URL and app secret are configured."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from devtools.sinks.provider_api import bearer_ok, controlled
from devtools.sinks.store import Blob, Control, Outbox

if TYPE_CHECKING:
    from devtools.sinks.runner import Sinks

log = logging.getLogger(__name__)

WABA_ID = "102290129340398"  # a made-up WhatsApp Business Account id for the webhooks
DISPLAY_PHONE_NUMBER = "6281100000000"


def graph_error(
    status: int, code: int, message: str, type_: str = "OAuthException", subcode: int | None = None
) -> JSONResponse:
    error: dict[str, Any] = {"message": message, "type": type_, "code": code, "fbtrace_id": secrets.token_urlsafe(12)}
    if subcode is not None:
        error["error_subcode"] = subcode
    return JSONResponse({"error": error}, status_code=status)


def failure(mode: str) -> Response:
    """How the Cloud API says ``mode`` (control), in its own words."""
    return {
        "error500": lambda: graph_error(500, 131000, "Something went wrong", "OAuthException"),
        "error400": lambda: graph_error(400, 131026, "Message undeliverable"),
        "error429": lambda: graph_error(429, 130429, "Rate limit hit"),
        "tempfail": lambda: graph_error(503, 133004, "Server temporarily unavailable"),
        "reject": lambda: graph_error(400, 131047, "Re-engagement message"),
        "timeout": lambda: graph_error(504, 2, "Service temporarily unavailable"),
    }[mode]()


WA_TYPES = (
    "text",
    "template",
    "document",
    "image",
    "audio",
    "video",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "reaction",
)


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


def wamid_for(number: str) -> str:
    """A message id shaped as the Cloud API makes them: ``wamid.`` and the base64 of a small Thrift record holding the
    other party's number and a random id. Meta's ``wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA`` reads
    ``\x1c\x18\x0b16505076520\x15\x02\x00\x11\x18\x129A3CA5B3D4CD6E67E7\x00``: whoever keeps the id keeps the
    number (docs/adr/0017, decision 7). The number starts on a base64 boundary, so every id of one number carries
    ``base64(its first 9 digits)`` as it is."""
    digits = "".join(ch for ch in number if ch.isdigit()).encode()
    suffix = secrets.token_hex(9).upper().encode()
    record = (
        b"\x1c\x18" + bytes([len(digits)]) + digits + b"\x15\x02\x00\x11\x18" + bytes([len(suffix)]) + suffix + b"\x00"
    )
    return "wamid." + base64.b64encode(record).decode()


def status_payload(wamid: str, status: str, recipient: str, reference: str | None, phone_number_id: str) -> dict:
    """A Cloud API status webhook (``sent``, ``delivered``...) for one message."""
    entry: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(int(time.time())),
        "recipient_id": recipient,
    }
    if reference:
        entry["biz_opaque_callback_data"] = reference
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": DISPLAY_PHONE_NUMBER,
                                "phone_number_id": phone_number_id,
                            },
                            "statuses": [entry],
                        },
                    }
                ],
            }
        ],
    }


def sign(app_secret: str, raw: bytes) -> str:
    """``X-Hub-Signature-256``: ``sha256=`` and the hex HMAC-SHA256 of the raw body under the app secret."""
    return "sha256=" + hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()


def post_statuses(url: str, app_secret: str, payloads: list[dict]) -> None:
    """Post status webhooks one after another (from a background thread); failures are logged only."""
    for payload in payloads:
        raw = json.dumps(payload, separators=(",", ":")).encode()
        try:
            response = httpx.post(
                url,
                content=raw,
                timeout=5.0,
                headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(app_secret, raw)},
            )
            if response.status_code >= 300:
                log.warning("WhatsApp status webhook answered HTTP %s", response.status_code)
        except httpx.HTTPError as exc:
            log.warning("WhatsApp status webhook failed: %s", type(exc).__name__)
        time.sleep(0.05)


def router(sinks: Sinks) -> APIRouter:
    outbox = sinks.outbox
    media: dict[str, Blob] = {}
    routes = APIRouter()

    async def admitted(request: Request) -> tuple[Control, Response | None]:
        """Counted and controlled like every request, then the access token checked."""
        control, answer = await controlled(outbox, "whatsapp", failure)
        if answer is None and not bearer_ok(request, sinks.whatsapp_token):
            answer = graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        return control, answer

    @routes.post("/whatsapp/{version}/{phone_number_id}/media")
    async def whatsapp_media(version: str, phone_number_id: str, request: Request) -> Response:
        _, answer = await admitted(request)
        if answer is not None:
            return answer
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

    @routes.post("/whatsapp/{version}/{phone_number_id}/messages")
    async def whatsapp_messages(version: str, phone_number_id: str, request: Request) -> Response:
        control, answer = await admitted(request)
        if answer is not None:
            return answer
        try:
            body = await request.json()
        except ValueError:
            body = None
        problem = whatsapp_problem(body, media)
        if problem:
            return graph_error(400, 100, problem)
        subject, text, attachments = _content(body, media, outbox)
        wamid = wamid_for(body["to"])
        reference = body.get("biz_opaque_callback_data")
        outbox.record(
            channel="whatsapp",
            provider="whatsapp-cloud",
            to=body["to"],
            subject=subject,
            text=text,
            reference=reference,
            attachments=attachments,
            id=wamid,
        )
        if sinks.whatsapp_webhook_url and sinks.whatsapp_app_secret:
            echoed = reference if sinks.whatsapp_status_reference else None
            payloads = [status_payload(wamid, s, body["to"], echoed, phone_number_id) for s in ("sent", "delivered")]
            threading.Thread(
                target=post_statuses,
                args=(sinks.whatsapp_webhook_url, sinks.whatsapp_app_secret, payloads),
                name="devsinks-webhook",
                daemon=True,
            ).start()
        if control.delay:
            await outbox.pause(control.delay)
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                "messages": [{"id": wamid}],
            }
        )

    return routes


def _content(
    body: dict[str, Any], media: dict[str, Blob], outbox: Outbox
) -> tuple[str | None, str, list[dict[str, Any]]]:
    """What a (checked) ``/messages`` body says, as the outbox keeps it: subject, text and attachments (an
    uploaded document is stored; a linked one is kept as its link)."""
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
            attachments.append(
                {
                    "filename": part.get("filename"),
                    "content_type": None,
                    "size": None,
                    "sha256": None,
                    "url": part["link"],
                }
            )
    else:
        text = f"({kind})"
    return subject, text, attachments
