"""The SMS fakes: the generic HTTP SMS gateway (``POST /sms/send``, ``GET /sms/status/{reference}``) and
Zenziva (``POST /zenziva/reguler/api/sendsms/``)."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from devtools.sinks.provider_api import bearer_ok, controlled, form_or_json

if TYPE_CHECKING:
    from devtools.sinks.runner import Sinks

STATUSES = {"error500": 500, "error400": 400, "error429": 429, "tempfail": 503, "reject": 400, "timeout": 504}


def gateway_failure(mode: str) -> Response:
    """How the generic gateway says ``mode`` (control): an HTTP error status."""
    status = STATUSES[mode]
    return JSONResponse({"error": mode, "status": status}, status_code=status)


def zenziva_failure(mode: str) -> Response:
    """How Zenziva says ``mode``: busy or refused in its own words (HTTP 200, status "0"), else an HTTP error."""
    if mode in ("tempfail", "reject"):
        text = "Server sedang sibuk, silakan coba lagi" if mode == "tempfail" else "Nomor tujuan tidak valid"
        return JSONResponse({"status": "0", "text": text})
    return gateway_failure(mode)


def router(sinks: Sinks) -> APIRouter:
    outbox = sinks.outbox
    routes = APIRouter()

    @routes.api_route("/sms/send", methods=["GET", "POST"])
    async def sms_send(request: Request) -> Response:
        control, answer = await controlled(outbox, "sms", gateway_failure)
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

    @routes.get("/sms/status/{reference}")
    async def sms_status(reference: str, request: Request) -> Response:
        if not bearer_ok(request, sinks.sms_token):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        for m in outbox.messages(channel="sms"):
            if m["provider"] == "http-sms" and m["reference"] == reference:
                return JSONResponse({"id": m["id"], "status": "accepted"})
        return JSONResponse({"error": "not found"}, status_code=404)

    @routes.post("/zenziva/reguler/api/sendsms/")
    async def zenziva_send(request: Request) -> Response:
        control, answer = await controlled(outbox, "zenziva", zenziva_failure)
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

    return routes
