"""Which channels this process has (only the configured ones), and how a recipient may be shown."""

from __future__ import annotations

from services.notify.adapters.channels.base import Channel
from services.notify.adapters.channels.http_sms import HttpSmsChannel
from services.notify.adapters.channels.settings import ChannelSettings
from services.notify.adapters.channels.smtp import SmtpChannel
from services.notify.adapters.channels.whatsapp import WhatsAppCloudChannel
from services.notify.adapters.channels.zenziva import ZenzivaSmsChannel


def build_channels(settings: ChannelSettings) -> dict[str, Channel]:
    """``{"email": ..., "sms": ..., "whatsapp": ...}`` for the channels whose settings are given.
    A channel chosen but missing what it needs (an SMS URL, Zenziva keys) fails here, at start."""
    channels: dict[str, Channel] = {}
    if settings.smtp_host:
        channels["email"] = SmtpChannel(settings)
    if settings.sms_provider == "http":
        channels["sms"] = HttpSmsChannel(settings)
    elif settings.sms_provider == "zenziva":
        channels["sms"] = ZenzivaSmsChannel(settings)
    if settings.whatsapp_token and settings.whatsapp_phone_number_id:
        channels["whatsapp"] = WhatsAppCloudChannel(settings)
    return channels


def mask_recipient(address: str) -> str:
    """Enough to tell recipients apart, not enough to reach them:
    ``+6281234567890`` -> ``+62812****890``, ``budi.santoso@example.id`` -> ``b***@example.id``."""
    address = address.strip()
    if "@" in address:
        local, _, domain = address.rpartition("@")
        return f"{local[:1]}***@{domain}"
    head = 6 if address.startswith("+") else 5  # +62812 / 08123: country and operator prefix
    if len(address) <= head + 3:
        return "****" + address[-2:]
    return address[:head] + "****" + address[-3:]  # always four stars: the length is not told either
