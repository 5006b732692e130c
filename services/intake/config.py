from pathlib import Path

from pydantic import Field, SecretStr

from shared.config import Settings

MIB = 1024 * 1024


class IntakeSettings(Settings):
    """Intake's settings: the base ones plus the inbound channels (SMS, WhatsApp, e-mail, IMAP).

    A channel whose secret is unset is switched off: its webhook answers 503 ``channel_not_configured``.
    """

    feedback_open_days: int = Field(
        60,
        ge=1,
        le=365,
        description="How many days after a closing with a response the complainant may still answer whether the "
        "complaint is resolved (docs/adr/0020); after it, the question is closed",
    )
    default_kecamatan: str | None = Field(
        None, description="Kecamatan for inbound messages whose number/address no kecamatan claims (None: refuse)"
    )
    intake_write_retry_seconds: float = Field(
        3.0,
        ge=0,
        description="How long a submission, a channel's message or its delivery statuses keep being "
        "written again while PostgreSQL is unreachable (a restart: 0.5 s in the chaos suite, 2 s on a busy test "
        "machine), before the request is answered 503 with Retry-After; 0: no retry (services/intake/adapters/retry.py)",
    )
    # attachments (photos, KTP/SIM/KK scans)
    max_attachment_bytes: int = Field(5 * MIB, description="Largest attachment accepted")
    max_attachments: int = Field(5, description="Most attachments kept per message")
    max_image_pixels: int = Field(
        40_000_000,
        ge=1,
        description="Most pixels of an image (width x height) that is decoded and re-encoded; a "
        "larger one (or a decompression bomb) is refused with attachment_image_too_large",
    )
    max_inbound_bytes: int = Field(
        25 * MIB, description="Largest request body on /v1/channels/* and /v1/staff/* (raw e-mail, uploads)"
    )
    # SMS gateway
    sms_webhook_token: SecretStr | None = Field(None, description="Shared secret of POST /v1/channels/sms")
    # SP4N-LAPOR! (services/lapor hands LAPOR!'s reports over on POST /v1/channels/lapor)
    lapor_webhook_token: SecretStr | None = Field(
        None,
        min_length=32,
        description="Shared secret of POST /v1/channels/lapor (the LAPOR! bridge sends it; at least 32 characters); "
        "unset: the channel is off",
    )
    lapor_instansi: dict[str, str] = Field(
        default_factory=dict,
        description="The bridge's map of kecamatan to LAPOR! instansi (the same PENGADUAN_LAPOR_INSTANSI): a report "
        "for a kecamatan not in it is refused; empty: any kecamatan served (development)",
    )
    # WhatsApp Cloud API
    whatsapp_verify_token: SecretStr | None = Field(None, description="hub.verify_token of the webhook handshake")
    whatsapp_app_secret: SecretStr | None = Field(None, description="App secret: X-Hub-Signature-256 of webhooks")
    whatsapp_token: SecretStr | None = Field(None, description="Access token to download media from the Graph API")
    whatsapp_api_url: str = Field("https://graph.facebook.com", description="Graph API base URL")
    whatsapp_api_version: str = Field("v21.0", description="Graph API version")
    whatsapp_media_timeout: float = Field(10.0, description="Seconds per Graph API media request")
    # e-mail: a webhook (raw MIME) and/or an IMAP mailbox polled by `run_imap_poller`
    email_webhook_token: SecretStr | None = Field(None, description="Shared secret of POST /v1/channels/email")
    email_authserv_ids: str = Field(
        "",
        description="Comma-separated authserv-ids of the receiving mail server(s) (the first word of the "
        "Authentication-Results headers they add, RFC 8601). Only an e-mail that one of them found DMARC-pass (or "
        "DKIM-pass aligned with From) may join a complaint awaiting documents; empty: none may (each e-mail is a "
        "new complaint)",
    )
    imap_host: str | None = Field(None, description="IMAP server of the complaint mailbox")
    imap_port: int = Field(993, description="IMAP port")
    imap_username: str | None = None
    imap_password: SecretStr | None = None
    imap_folder: str = Field("INBOX", description="Folder polled for unseen messages")
    imap_ssl: bool = Field(True, description="IMAP over TLS (port 993); false: plain IMAP")
    imap_poll_seconds: float = Field(60.0, description="Seconds between polls")
    # Open311 GeoReport v2 (entrypoints/open311.py)
    open311_api_keys: str = Field(
        "",
        description="Comma-separated keys of the applications allowed to POST Open311 requests; when set, a POST "
        "without a listed api_key is refused (403); empty: anyone may POST",
    )

    @property
    def authserv_ids(self) -> frozenset[str]:
        """``email_authserv_ids`` as a set, lower case (an authserv-id is a domain name)."""
        return frozenset(i.strip().lower() for i in self.email_authserv_ids.split(",") if i.strip())

    @property
    def documents_url(self) -> str:
        return self.document_store_url or (Path(self.data_dir).resolve() / "documents").as_uri()
