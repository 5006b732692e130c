"""Settings of the outbound channels (``PENGADUAN_SMTP_*``, ``PENGADUAN_SMS_*``, ``PENGADUAN_ZENZIVA_*``,
``PENGADUAN_WHATSAPP_*``). A channel whose settings are missing is simply not built (see ``registry``).

Dictionaries are given as JSON in the environment, e.g.
``PENGADUAN_SMS_PARAMS='{"to": "msisdn", "message": "text", "reference": ""}'``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ChannelSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PENGADUAN_", extra="ignore")

    # e-mail ------------------------------------------------------------------------------------
    smtp_host: str | None = Field(None, description="SMTP server; unset: no e-mail is sent")
    smtp_port: int = Field(25, description="SMTP port (587 with starttls, 465 with ssl are usual)")
    smtp_security: Literal["none", "starttls", "ssl"] = Field(
        "none", description="none: plain SMTP; starttls: upgrade after EHLO; ssl: TLS from the first byte"
    )
    smtp_username: str | None = Field(None, description="SMTP AUTH user; unset: no login")
    smtp_password: SecretStr | None = Field(None, description="SMTP AUTH password")
    smtp_from: str = Field(
        "Layanan Pengaduan <pengaduan@localhost>",
        description="The From header; its domain also ends every Message-ID we make",
    )
    smtp_timeout: float = Field(20.0, gt=0, description="Seconds per SMTP network operation")
    smtp_ca_file: str | None = Field(None, description="PEM file of a private CA to trust for the server's certificate")
    smtp_reuse_seconds: float = Field(
        10.0,
        ge=0,
        description="A session kept open after a message for the next one, if it comes within these seconds "
        "(servers close idle sessions after minutes); 0: one session per message, QUIT after each",
    )
    smtp_reuse_messages: int = Field(100, ge=1, description="Messages sent in one SMTP session at most, then QUIT")

    # SMS ---------------------------------------------------------------------------------------
    sms_provider: Literal["none", "http", "zenziva"] = Field(
        "none", description="none: no SMS; http: a generic HTTP gateway (sms_*); zenziva: Zenziva's reguler API"
    )
    sms_url: str | None = Field(None, description="Generic gateway: the send URL")
    sms_method: Literal["POST", "GET"] = Field("POST", description="Generic gateway: HTTP method of a send")
    sms_auth: Literal["none", "bearer", "basic", "header"] = Field(
        "none",
        description="Generic gateway: bearer (sms_token), basic (sms_username/sms_password), "
        "header (sms_token in the header sms_auth_header)",
    )
    sms_token: SecretStr | None = Field(None, description="Generic gateway: token for bearer or header auth")
    sms_username: str | None = Field(None, description="Generic gateway: user for basic auth")
    sms_password: SecretStr | None = Field(None, description="Generic gateway: password for basic auth")
    sms_auth_header: str = Field("X-Api-Key", description="Generic gateway: header carrying the token (auth=header)")
    sms_body: Literal["form", "json"] = Field("form", description="Generic gateway: how a POST carries its fields")
    sms_params: dict[str, str] = Field(
        default_factory=lambda: {"to": "to", "message": "message", "reference": "reference"},
        description="Generic gateway: our field (to, message, reference) -> the provider's parameter name; "
        "an empty name leaves the field out",
    )
    sms_extra_params: dict[str, str] = Field(
        default_factory=dict, description="Generic gateway: constant parameters sent with every message (sender id...)"
    )
    sms_id_field: str = Field(
        "id", description="Generic gateway: dotted path of the provider's message id in its JSON answer (messages.0.id)"
    )
    sms_status_url: str | None = Field(
        None,
        description="Generic gateway: URL with {reference} asked whether a message of ours arrived (GET; 404: never)",
    )
    sms_timeout: float = Field(15.0, gt=0, description="Generic gateway: seconds per request")

    zenziva_url: str = Field("https://console.zenziva.net/reguler/api/sendsms/", description="Zenziva: the send URL")
    zenziva_userkey: str | None = Field(None, description="Zenziva: userkey (from the console's API settings)")
    zenziva_passkey: SecretStr | None = Field(None, description="Zenziva: passkey")

    # WhatsApp ----------------------------------------------------------------------------------
    whatsapp_api_url: str = Field("https://graph.facebook.com", description="WhatsApp Cloud API: Graph API base URL")
    whatsapp_api_version: str = Field("v21.0", description="WhatsApp Cloud API: Graph API version")
    whatsapp_token: SecretStr | None = Field(None, description="WhatsApp Cloud API: access token (system user)")
    whatsapp_phone_number_id: str | None = Field(
        None, description="WhatsApp Cloud API: the sending number's id; unset: no WhatsApp"
    )
    whatsapp_timeout: float = Field(15.0, gt=0, description="WhatsApp Cloud API: seconds per request")
