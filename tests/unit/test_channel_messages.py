"""What the channel adapters put on the wire and how they read failures, without any network:
masked recipients, Zenziva's local numbers, WhatsApp payloads and Graph errors, the MIME e-mail, the
generic gateway's fields, and which channels the settings build."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import smtplib
from datetime import UTC, datetime

import httpx
import pytest

from devtools.sinks.outbox_page import render_page
from devtools.sinks.whatsapp import sign, status_payload, whatsapp_problem
from services.notify.adapters.channels.base import (
    Attachment,
    OutboundMessage,
    PermanentSendError,
    TransientSendError,
)
from services.notify.adapters.channels.http_sms import dig, sms_fields
from services.notify.adapters.channels.registry import build_channels, mask_recipient
from services.notify.adapters.channels.settings import ChannelSettings
from services.notify.adapters.channels.smtp import build_email, message_id
from services.notify.adapters.channels.smtp import classify as smtp_classify
from services.notify.adapters.channels.whatsapp import classify as graph_classify
from services.notify.adapters.channels.whatsapp import message_payload, wa_number
from services.notify.adapters.channels.zenziva import local_number

REF = "5f0c6e1a9b7d4c3e8f2a1b0c9d8e7f6a"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SENDER = "Kecamatan Pegantenan <pengaduan@pegantenan.pamekasankab.go.id>"


class OnlyGiven(ChannelSettings):
    """ChannelSettings from keyword arguments only: the test runner's environment cannot leak in."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **others):
        return (init_settings,)


def msg(**kw) -> OutboundMessage:
    base = {
        "channel": "whatsapp",
        "to": "+6281234567890",
        "text": "Pengaduan 7KQ2-M9XD-4T sudah diterima.",
        "reference": REF,
    }
    return OutboundMessage(**{**base, **kw})


# recipients ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address, shown",
    [
        ("+6281234567890", "+62812****890"),
        ("081234567890", "08123****890"),
        ("budi.santoso@example.id", "b***@example.id"),
        ("s@example.id", "s***@example.id"),
    ],
)
def test_mask_recipient_keeps_enough_to_tell_apart_and_no_more(address, shown):
    assert mask_recipient(address) == shown


@pytest.mark.parametrize(
    "phone, local",
    [
        ("+6281234567890", "081234567890"),
        ("6281234567890", "081234567890"),
        ("081234567890", "081234567890"),
        ("+62 812-3456-7890", "081234567890"),
    ],
)
def test_zenziva_gets_local_numbers(phone, local):
    assert local_number(phone) == local


# WhatsApp ---------------------------------------------------------------------------------------


def test_whatsapp_text_payload():
    payload = message_payload(msg())
    assert payload == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "6281234567890",
        "biz_opaque_callback_data": REF,
        "type": "text",
        "text": {"body": "Pengaduan 7KQ2-M9XD-4T sudah diterima.", "preview_url": True},
    }
    assert whatsapp_problem(payload, {}) is None  # the sink, like the Cloud API, takes it


def test_whatsapp_template_payload_carries_the_parameters_in_order():
    payload = message_payload(msg(template="pengaduan_diterima", template_params=("Siti Aminah", "7KQ2-M9XD-4T")))
    assert payload["type"] == "template"
    assert payload["template"] == {
        "name": "pengaduan_diterima",
        "language": {"code": "id"},
        "components": [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Siti Aminah"}, {"type": "text", "text": "7KQ2-M9XD-4T"}],
            }
        ],
    }
    assert whatsapp_problem(payload, {}) is None


def test_whatsapp_document_by_uploaded_media_and_by_link():
    letter = Attachment("surat-tanggapan.pdf", "application/pdf", PDF)
    uploaded = message_payload(msg(attachment=letter), media_id="1234567890")
    assert uploaded["type"] == "document"
    assert uploaded["document"] == {
        "id": "1234567890",
        "filename": "surat-tanggapan.pdf",
        "caption": "Pengaduan 7KQ2-M9XD-4T sudah diterima.",
    }
    linked = message_payload(msg(attachment_url="https://pengaduan.example.id/v1/letters/abc/surat.pdf?t=1"))
    assert linked["document"]["link"] == "https://pengaduan.example.id/v1/letters/abc/surat.pdf?t=1"
    assert linked["document"]["filename"] == "surat.pdf"


def test_the_whatsapp_sink_objects_like_the_cloud_api():
    assert "to" in whatsapp_problem({**message_payload(msg()), "to": "+6281234567890"}, {})
    assert "messaging_product" in whatsapp_problem({**message_payload(msg()), "messaging_product": "sms"}, {})
    assert "media id" in whatsapp_problem(message_payload(msg(attachment=None), media_id="404"), {})


@pytest.mark.parametrize(
    "status, error, transient",
    [
        (500, {"code": 131000, "message": "Something went wrong"}, True),
        (400, {"code": 131000, "message": "Something went wrong"}, True),
        (400, {"code": 130429, "message": "Rate limit hit"}, True),
        (400, {"code": 131056, "message": "Pair rate limit hit"}, True),
        (429, {"code": 80007, "message": "Rate limit issues"}, True),
        (503, {}, True),
        (400, {"code": 131026, "message": "Message undeliverable"}, False),
        (400, {"code": 131047, "message": "Re-engagement message"}, False),
        (400, {"code": 100, "message": "Invalid parameter"}, False),
        (401, {"code": 190, "message": "Invalid OAuth access token"}, False),
    ],
)
def test_graph_errors_are_sorted_into_transient_and_permanent(status, error, transient):
    response = httpx.Response(status, json={"error": {**error, "type": "OAuthException", "fbtrace_id": "AbC"}})
    exc = graph_classify(response)
    assert isinstance(exc, TransientSendError if transient else PermanentSendError)
    assert exc.provider == "whatsapp-cloud"
    if error:
        assert exc.status == error["code"] and str(error["code"]) in str(exc)


def test_status_webhook_payload_and_signature():
    payload = status_payload("wamid.X", "delivered", "6281234567890", REF, "109876543210987")
    status = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert status["biz_opaque_callback_data"] == REF and status["recipient_id"] == "6281234567890"
    # what a receiver recomputes from the app secret and the raw body
    assert sign("app-secret", b'{"a":1}') == "sha256=" + hmac.new(b"app-secret", b'{"a":1}', hashlib.sha256).hexdigest()


def test_wa_number_is_digits_only():
    assert wa_number("+62 812-3456-7890") == "6281234567890"


# e-mail -----------------------------------------------------------------------------------------


def test_email_has_a_deterministic_message_id_and_the_pdf_attached():
    message = msg(
        channel="email",
        to="siti@example.id",
        subject="Surat tanggapan pengaduan 7KQ2-M9XD-4T",
        html="<p>Terlampir surat tanggapan.</p>",
        attachment=Attachment("surat-tanggapan-7KQ2.pdf", "application/pdf", PDF),
    )
    date = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    first, again = build_email(message, SENDER, date=date), build_email(message, SENDER, date=date)
    assert first["Message-ID"] == again["Message-ID"] == f"<{REF}@pegantenan.pamekasankab.go.id>"
    assert first.as_bytes() == again.as_bytes()

    parsed = email.message_from_bytes(first.as_bytes(), policy=email.policy.default)
    assert parsed["To"] == "siti@example.id" and parsed["Subject"] == message.subject
    assert parsed["Date"].datetime == date
    assert parsed.get_body(("plain",)).get_content().strip() == message.text
    assert "Terlampir" in parsed.get_body(("html",)).get_content()
    [pdf] = list(parsed.iter_attachments())
    assert pdf.get_filename() == "surat-tanggapan-7KQ2.pdf" and pdf.get_content_type() == "application/pdf"
    assert pdf.get_payload(decode=True) == PDF


def test_message_id_domain_comes_from_the_sender():
    assert message_id(REF, "pengaduan@localhost") == f"<{REF}@localhost>"
    assert message_id(REF, "Layanan <noreply@kab.go.id>") == f"<{REF}@kab.go.id>"


@pytest.mark.parametrize(
    "exc, transient",
    [
        (smtplib.SMTPRecipientsRefused({"siti@example.id": (451, b"greylisted")}), True),
        (smtplib.SMTPRecipientsRefused({"siti@example.id": (550, b"no such user")}), False),
        (smtplib.SMTPSenderRefused(553, b"sender not allowed", "pengaduan@localhost"), False),
        (smtplib.SMTPDataError(452, b"insufficient storage"), True),
        (smtplib.SMTPDataError(554, b"spam"), False),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), False),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), True),
        (smtplib.SMTPConnectError(421, b"too busy"), True),
        (ConnectionRefusedError(111, "Connection refused"), True),
        (ConnectionResetError(104, "reset"), True),
        (TimeoutError("timed out"), True),
    ],
)
def test_smtp_failures_are_sorted(exc, transient):
    error = smtp_classify(exc)
    assert isinstance(error, TransientSendError if transient else PermanentSendError)
    assert "siti@example.id" not in str(error)  # codes, not data


# generic SMS gateway --------------------------------------------------------------------------------


def test_sms_fields_are_renamed_and_can_be_left_out():
    fields = sms_fields(msg(channel="sms"), {"to": "msisdn", "message": "text", "reference": ""}, {"sender": "PEMKAB"})
    assert fields == {"msisdn": "+6281234567890", "text": "Pengaduan 7KQ2-M9XD-4T sudah diterima.", "sender": "PEMKAB"}


def test_dig_reads_dotted_paths():
    answer = {"messages": [{"id": "m-1", "status": 0}], "id": 42}
    assert dig(answer, "messages.0.id") == "m-1"
    assert dig(answer, "id") == "42"
    assert dig(answer, "messages.1.id") is None and dig(answer, "messages") is None and dig(None, "id") is None


# settings and registry ------------------------------------------------------------------------------


def test_only_configured_channels_are_built():
    assert build_channels(OnlyGiven()) == {}
    built = build_channels(
        OnlyGiven(
            smtp_host="mail.example.id",
            sms_provider="zenziva",
            zenziva_userkey="u",
            zenziva_passkey="p",
            whatsapp_token="t",
            whatsapp_phone_number_id="1",
        )
    )
    assert {name: ch.provider for name, ch in built.items()} == {
        "email": "smtp",
        "sms": "zenziva",
        "whatsapp": "whatsapp-cloud",
    }
    assert (
        build_channels(OnlyGiven(sms_provider="http", sms_url="http://sms.example.id/send"))["sms"].provider
        == "http-sms"
    )


def test_a_chosen_channel_missing_its_settings_fails_at_start():
    with pytest.raises(ValueError, match="PENGADUAN_SMS_URL"):
        build_channels(OnlyGiven(sms_provider="http"))
    with pytest.raises(ValueError, match="ZENZIVA"):
        build_channels(OnlyGiven(sms_provider="zenziva"))


def test_settings_come_from_pengaduan_environment_variables(monkeypatch):
    monkeypatch.setenv("PENGADUAN_SMS_PARAMS", '{"to": "msisdn", "message": "text", "reference": ""}')
    monkeypatch.setenv("PENGADUAN_SMTP_PASSWORD", "rahasia")
    monkeypatch.setenv("PENGADUAN_SMTP_SECURITY", "starttls")
    s = ChannelSettings()
    assert s.sms_params == {"to": "msisdn", "message": "text", "reference": ""}
    assert s.smtp_security == "starttls"
    assert s.smtp_password.get_secret_value() == "rahasia" and "rahasia" not in repr(s)


# the outbox page ---------------------------------------------------------------------------------


def test_outbox_page_escapes_everything():
    page = render_page(
        [
            {
                "id": "1",
                "channel": "sms",
                "provider": "http-sms",
                "to": "+62<b>",
                "subject": None,
                "text": "<script>alert(1)</script>",
                "reference": None,
                "attachments": [],
                "received_at": "2025-03-04T05:06:07.000+00:00",
            }
        ],
        {"sms": 1},
    )
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "+62&lt;b&gt;" in page and "Pesan yang akan terkirim" in page
