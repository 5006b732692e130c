"""Webhooks of the inbound channels: an SMS gateway, the WhatsApp Cloud API, e-mail as raw MIME.

Each checks its provider's secret before it reads anything, then hands the message to ``handlers``. A
redelivered message is answered as the first time and creates nothing new.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import SecretStr, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.intake.domain.inbound import InvalidInbound
from services.intake.entrypoints.deps import IntakeDep, errors, json_errors
from services.intake.entrypoints.schemas import InboundAccepted, SmsIn, WhatsAppAck
from services.intake.handlers.channels import receive_email, receive_sms, receive_whatsapp
from shared.http import ApiError, FieldError, field_errors
from shared.tenancy import UnknownKecamatan

log = logging.getLogger(__name__)

router = APIRouter(tags=["channels"])

EMAIL_TYPES = ("message/rfc822", "application/octet-stream")


def _keyword(where: str) -> str:
    """How a complainant asks for confidentiality on a message channel (domain.inbound.confidential_keyword)."""
    return (
        f"A new complaint whose {where} begins with the word `RAHASIA` or `#RAHASIA` (any case; then a space, a line "
        "break, a colon or nothing) asks that the complainant's identity be kept confidential (pelapor rahasia, as "
        '`"confidential": true` on `POST /v1/complaints`); the word is taken off its subject and description. Only '
        "the first word counts; in a reply to a complaint awaiting documents it is ordinary text."
    )


def _configured(secret: SecretStr | None, channel: str) -> bytes:
    if secret is None or not secret.get_secret_value():
        raise ApiError(503, "channel_not_configured", f"Kanal {channel} belum dikonfigurasi di layanan ini.")
    return secret.get_secret_value().encode()


def _check_token(secret: SecretStr | None, channel: str, given: str | None) -> None:
    expected = _configured(secret, channel)
    if not given or not hmac.compare_digest(given.encode(), expected):
        raise ApiError(401, "webhook_unauthorized", "Token webhook tidak sah.")


def _unknown_kecamatan() -> ApiError:
    return ApiError(
        422,
        "unknown_kecamatan",
        "Tidak ada kecamatan yang menerima pesan di nomor atau alamat tujuan ini.",
        [
            FieldError(
                field="to",
                code="unknown_kecamatan",
                message="Nomor/alamat tujuan tidak terdaftar pada kecamatan mana pun.",
            )
        ],
    )


def _invalid(exc: InvalidInbound, field: str) -> ApiError:
    return ApiError(422, exc.code, exc.message, [FieldError(field=field, code=exc.code, message=exc.message)])


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@router.post(
    "/v1/channels/sms",
    response_model=InboundAccepted,
    responses=errors(400, 401, 413, 415, 422, 503),
    summary="Inbound SMS from a gateway (form or JSON: from, to, message, id, received_at?)",
    description=_keyword("text"),
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": SmsIn.model_json_schema(by_alias=True)},
                "application/x-www-form-urlencoded": {"schema": SmsIn.model_json_schema(by_alias=True)},
            },
            "required": True,
        }
    },
)
async def sms(
    request: Request,
    intake: IntakeDep,
    x_webhook_token: Annotated[str | None, Header(max_length=512)] = None,
    token: Annotated[str | None, Query(max_length=512)] = None,
) -> InboundAccepted:
    _check_token(intake.settings.sms_webhook_token, "SMS", x_webhook_token or token)
    kind = _media_type(request)
    if kind == "application/json":
        raw = await request.body()
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "malformed_json", "Isi permintaan bukan JSON yang sah.") from None
    elif kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.form(max_files=0, max_fields=20)
        except StarletteHTTPException:
            raise ApiError(400, "malformed_form", "Isi formulir tidak dapat dibaca.") from None
        data = {k: v for k, v in form.items() if isinstance(v, str)}
    else:
        raise ApiError(415, "unsupported_media_type", "Kirim sebagai JSON atau formulir (x-www-form-urlencoded).")
    try:
        body = SmsIn.model_validate(data)
    except ValidationError as exc:
        raise ApiError(
            422, "validation_error", "Ada isian yang belum benar. Periksa kembali.", field_errors(exc.errors())
        ) from None
    try:
        outcome = await run_in_threadpool(
            receive_sms,
            intake,
            sender=body.sender,
            to=body.to,
            text=body.message,
            provider_message_id=body.id,
            provider_time=body.received_at,
        )
    except InvalidInbound as exc:
        raise _invalid(exc, "from") from None
    except UnknownKecamatan:
        raise _unknown_kecamatan() from None
    return InboundAccepted(**outcome.as_json())


@router.get(
    "/v1/channels/whatsapp",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}, "description": "hub.challenge"}, **json_errors(403, 503)},
    summary="WhatsApp Cloud API webhook verification (hub.challenge)",
)
def whatsapp_verify(
    intake: IntakeDep,
    mode: Annotated[str | None, Query(alias="hub.mode", max_length=64)] = None,
    verify_token: Annotated[str | None, Query(alias="hub.verify_token", max_length=512)] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=512)] = None,
) -> PlainTextResponse:
    expected = _configured(intake.settings.whatsapp_verify_token, "WhatsApp")
    if mode != "subscribe" or not verify_token or not hmac.compare_digest(verify_token.encode(), expected):
        raise ApiError(403, "verification_failed", "Verifikasi webhook WhatsApp gagal.")
    return PlainTextResponse(challenge or "")


@router.post(
    "/v1/channels/whatsapp",
    response_model=WhatsAppAck,
    responses=errors(401, 413, 503),
    summary="WhatsApp Cloud API webhook (messages and delivery statuses), signed with X-Hub-Signature-256",
    description=_keyword("text"),
)
async def whatsapp(
    request: Request,
    intake: IntakeDep,
    x_hub_signature_256: Annotated[str | None, Header(max_length=200)] = None,
) -> WhatsAppAck:
    secret = _configured(intake.settings.whatsapp_app_secret, "WhatsApp")
    raw = await request.body()
    expected = "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()
    if not x_hub_signature_256 or not hmac.compare_digest(x_hub_signature_256.strip().encode(), expected.encode()):
        raise ApiError(401, "signature_invalid", "Tanda tangan webhook tidak sah.")
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        # signed, so from Meta (or whoever holds the app secret): answered 200, a retry would not help
        log.warning("signed whatsapp webhook that is not JSON ignored")
        return WhatsAppAck()
    summary = await run_in_threadpool(receive_whatsapp, intake, payload)
    return WhatsAppAck(**summary.as_json())


@router.post(
    "/v1/channels/email",
    response_model=InboundAccepted,
    responses=errors(401, 413, 415, 422, 503),
    summary="Inbound e-mail as raw MIME (Content-Type message/rfc822)",
    description=_keyword("Subject or body"),
    openapi_extra={
        "requestBody": {
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in EMAIL_TYPES},
            "required": True,
        }
    },
)
async def email(
    request: Request,
    intake: IntakeDep,
    x_webhook_token: Annotated[str | None, Header(max_length=512)] = None,
) -> InboundAccepted:
    _check_token(intake.settings.email_webhook_token, "e-mail", x_webhook_token)
    if _media_type(request) not in EMAIL_TYPES:
        raise ApiError(415, "unsupported_media_type", "Kirim e-mail mentah (MIME) dengan Content-Type message/rfc822.")
    raw = await request.body()
    try:
        outcome = await run_in_threadpool(receive_email, intake, raw)
    except InvalidInbound as exc:
        raise _invalid(exc, "from" if exc.code == "sender_invalid" else "body") from None
    except UnknownKecamatan:
        raise _unknown_kecamatan() from None
    return InboundAccepted(**outcome.as_json())
