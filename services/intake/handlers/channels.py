"""Each channel's way in: a generic SMS gateway's message, a raw e-mail (webhook or IMAP), a WhatsApp Cloud API
webhook (its messages, with their media fetched, and its delivery statuses). Each is read and checked here,
then takes the common path of ``inbound.py``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from services.intake.adapters.whatsapp import MediaTooLarge, MediaUnavailable
from services.intake.domain import inbound as parse
from services.intake.domain.attachments import AttachmentRejected, screen
from services.intake.handlers.context import Context, write_retry
from services.intake.handlers.inbound import (
    InboundMessage,
    InboundOutcome,
    already_received,
    ignore_inbound,
    receive_inbound,
    route_inbound,
)
from services.intake.handlers.statuses import record_statuses

log = logging.getLogger(__name__)


def receive_sms(
    intake: Context, *, sender: str, to: str, text: str, provider_message_id: str, provider_time: datetime | None
) -> InboundOutcome:
    """A generic SMS gateway's inbound message. Raises ``parse.InvalidInbound`` for an unusable sender and
    ``UnknownKecamatan``."""
    try:
        to_number = parse.phone_sender(to)
    except parse.InvalidInbound:
        to_number = to.strip()
    # gateways number their messages per device: the id is unique only with the number written to
    provider_message_id = f"{to_number}:{provider_message_id}"[:300]
    retry = write_retry(intake, "an SMS")
    prior = retry.run(lambda: already_received(intake, "sms", provider_message_id))
    if prior is not None:
        return prior
    return receive_inbound(
        intake,
        InboundMessage(
            channel="sms",
            provider_message_id=provider_message_id,
            sender=parse.phone_sender(sender),
            text=parse.clean_text(text),
            to=(to_number,),
            provider_time=provider_time,
        ),
        retry=retry,
    )


def receive_email(intake: Context, raw: bytes) -> InboundOutcome:
    """A raw e-mail (webhook or IMAP). Raises ``parse.InvalidInbound`` and ``UnknownKecamatan``."""
    mail = parse.parse_email(raw, intake.settings.authserv_ids)
    retry = write_retry(intake, "an e-mail")
    prior = retry.run(lambda: already_received(intake, "email", mail.message_id))
    if prior is not None:
        return prior
    if mail.automatic:
        return ignore_inbound(
            intake,
            "email",
            mail.message_id,
            "automatic reply or bounce",
            sender=mail.sender,
            kecamatan=retry.run(lambda: route_inbound(intake, "email", mail.recipients)),
            provider_time=mail.date,
            retry=retry,
        )
    screened = screen(
        list(mail.files),
        max_bytes=intake.settings.max_attachment_bytes,
        max_count=intake.settings.max_attachments,
        max_pixels=intake.settings.max_image_pixels,
    )
    return receive_inbound(
        intake,
        InboundMessage(
            channel="email",
            provider_message_id=mail.message_id,
            sender=mail.sender,
            sender_name=mail.sender_name,
            subject=mail.subject,
            text=mail.text,
            to=mail.recipients,
            provider_time=mail.date,
            files=screened.kept,
            refused=screened.refused,
            sender_verified=mail.authenticated,
        ),
        retry=retry,
    )


@dataclass
class WhatsAppSummary:
    outcomes: list[InboundOutcome] = field(default_factory=list)
    statuses_recorded: int = 0

    def as_json(self) -> dict:
        return {
            "status": "ok",
            "messages": [o.as_json() for o in self.outcomes],
            "statuses_recorded": self.statuses_recorded,
        }


def receive_whatsapp(intake: Context, payload: object) -> WhatsAppSummary:
    """A Cloud API webhook (signature already checked): each message, then each delivery status."""
    messages, statuses = parse.parse_whatsapp(payload)
    summary = WhatsAppSummary()
    retry = write_retry(intake, "a WhatsApp webhook")  # one budget for the whole payload
    for m in messages:
        prior = retry.run(lambda: already_received(intake, "whatsapp", m.id))  # noqa: B023
        if prior is not None:
            summary.outcomes.append(prior)
            continue
        try:
            sender = parse.whatsapp_sender(m.wa_id)
        except parse.InvalidInbound:
            summary.outcomes.append(
                ignore_inbound(intake, "whatsapp", m.id, "unreadable sender", provider_time=m.timestamp, retry=retry)
            )
            continue
        if not m.supported:
            summary.outcomes.append(
                ignore_inbound(
                    intake,
                    "whatsapp",
                    m.id,
                    f"message type {m.type} not supported",
                    sender=sender,
                    kecamatan=retry.run(lambda: route_inbound(intake, "whatsapp", (m.phone_number_id or "",))),  # noqa: B023
                    provider_time=m.timestamp,
                    retry=retry,
                )
            )
            continue
        files, refused = _fetch_media(intake, m)
        screened = screen(
            files,
            max_bytes=intake.settings.max_attachment_bytes,
            max_count=intake.settings.max_attachments,
            max_pixels=intake.settings.max_image_pixels,
        )
        summary.outcomes.append(
            receive_inbound(
                intake,
                InboundMessage(
                    channel="whatsapp",
                    provider_message_id=m.id,
                    sender=sender,
                    sender_name=m.profile_name,
                    text=parse.clean_text(m.text),
                    to=(m.phone_number_id or "",),
                    provider_time=m.timestamp,
                    files=screened.kept,
                    refused=tuple(refused) + screened.refused,
                ),
                ignore_unrouted=True,
                retry=retry,
            )
        )
    if statuses:
        summary.statuses_recorded = record_statuses(intake, statuses, retry=retry)
    return summary


def _fetch_media(
    intake: Context, m: parse.WhatsAppMessage
) -> tuple[list[tuple[bytes, str | None]], list[AttachmentRejected]]:
    files: list[tuple[bytes, str | None]] = []
    refused: list[AttachmentRejected] = []
    for ref in m.media:
        if intake.whatsapp_media is None:
            refused.append(AttachmentRejected("attachment_unavailable", "Lampiran tidak dapat diunduh.", ref.filename))
            log.warning("whatsapp media not fetched: no whatsapp_token set", extra={"inbound_message": m.id})
            continue
        try:
            files.append(
                (intake.whatsapp_media.fetch(ref.media_id, intake.settings.max_attachment_bytes), ref.filename)
            )
        except MediaTooLarge:
            refused.append(AttachmentRejected("attachment_too_large", "Lampiran terlalu besar.", ref.filename))
        except MediaUnavailable as exc:
            # the text still makes a complaint; staff see the note and can ask for the file again
            log.warning("whatsapp media not fetched", extra={"inbound_message": m.id, "error": str(exc)})
            refused.append(AttachmentRejected("attachment_unavailable", "Lampiran tidak dapat diunduh.", ref.filename))
    return files, refused
