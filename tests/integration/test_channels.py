"""Each outbound channel adapter against the development sinks over real sockets: what arrives (the PDF
byte for byte), and how every kind of provider failure is classified. No database needed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import ssl
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from devtools.sinks.runner import Sinks
from services.notify.adapters.channels.base import (
    Attachment,
    OutboundMessage,
    OutcomeUnknownError,
    PermanentSendError,
    TransientSendError,
)
from services.notify.adapters.channels.http_sms import HttpSmsChannel
from services.notify.adapters.channels.settings import ChannelSettings
from services.notify.adapters.channels.smtp import SmtpChannel
from services.notify.adapters.channels.whatsapp import WhatsAppCloudChannel
from services.notify.adapters.channels.zenziva import ZenzivaSmsChannel

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 64 + b"\n%%EOF\n"  # every byte value: nothing may be mangled
PHONE = "+6281234567890"
SMTP_USER, SMTP_PASSWORD = "petugas-pegantenan", "sandi-smtp-rahasia"
SMS_TOKEN = "token-sms-rahasia"
ZENZIVA_KEYS = ("a1b2c3d4e5f6", "kunci-zenziva-rahasia")
WA_TOKEN, WA_SECRET = "EAAG-token-rahasia", "app-secret-rahasia"


class OnlyGiven(ChannelSettings):
    """Settings from keyword arguments only: the runner's PENGADUAN_* environment cannot leak in."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **others):
        return (init_settings,)


def message(
    channel: str, text: str = "Yth. Siti Aminah, pengaduan 7KQ2-M9XD-4T sudah diterima.", **kw
) -> OutboundMessage:
    to = "siti.aminah@example.id" if channel == "email" else PHONE
    return OutboundMessage(channel=channel, to=to, text=text, reference=uuid.uuid4().hex, **kw)


def letter() -> Attachment:
    return Attachment("surat-tanggapan-7KQ2-M9XD-4T.pdf", "application/pdf", PDF)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# servers -------------------------------------------------------------------------------------------


class Tls:
    """A private CA and a certificate for 127.0.0.1 signed by it, as PEM files."""

    def __init__(self, folder: Path) -> None:
        now = datetime.now(UTC)
        ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Pengaduan Test CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        self.ca_file = folder / "ca.pem"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        cert_file, key_file = folder / "server.pem", folder / "server.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_context.load_cert_chain(cert_file, key_file)


class WebhookReceiver:
    """A tiny HTTP server keeping every POST (headers and raw body), as our webhook endpoint would see it."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, raw))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/channels/whatsapp/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} webhooks arrived"
            time.sleep(0.02)
        return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> Tls:
    return Tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def webhook() -> WebhookReceiver:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def _open_sinks() -> Sinks:
    with Sinks() as sinks:
        yield sinks


@pytest.fixture(scope="module")
def _secured_sinks(tls, webhook) -> Sinks:
    with Sinks(
        smtp_tls_context=tls.server_context,
        smtp_auth=(SMTP_USER, SMTP_PASSWORD),
        sms_token=SMS_TOKEN,
        zenziva_keys=ZENZIVA_KEYS,
        whatsapp_token=WA_TOKEN,
        whatsapp_app_secret=WA_SECRET,
        whatsapp_webhook_url=webhook.url,
    ) as sinks:
        yield sinks


@pytest.fixture
def sinks(_open_sinks) -> Sinks:
    """Sinks without TLS or credentials, emptied and answering normally."""
    _open_sinks.clear()
    return _open_sinks


@pytest.fixture
def secured(_secured_sinks, webhook) -> Sinks:
    """Sinks with STARTTLS, SMTP AUTH, tokens, Zenziva keys and a signed WhatsApp status webhook."""
    _secured_sinks.clear()
    webhook.received.clear()
    return _secured_sinks


def settings(sinks: Sinks, **overrides) -> OnlyGiven:
    values = {
        "smtp_host": "127.0.0.1",
        "smtp_port": sinks.smtp_port,
        "smtp_from": "Kecamatan Pegantenan <pengaduan@example.id>",
        "smtp_timeout": 5.0,
        "sms_provider": "http",
        "sms_url": f"{sinks.http_url}/sms/send",
        "sms_status_url": f"{sinks.http_url}/sms/status/{{reference}}",
        "sms_timeout": 5.0,
        "zenziva_url": f"{sinks.http_url}/zenziva/reguler/api/sendsms/",
        "zenziva_userkey": "u",
        "zenziva_passkey": "p",
        "whatsapp_api_url": f"{sinks.http_url}/whatsapp",
        "whatsapp_token": "t",
        "whatsapp_phone_number_id": "109876543210987",
        "whatsapp_timeout": 5.0,
    }
    return OnlyGiven(**{**values, **overrides})


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# e-mail ----------------------------------------------------------------------------------------------


def test_email_arrives_with_the_pdf_byte_identical(sinks):
    m = message(
        "email", subject="Surat tanggapan pengaduan 7KQ2-M9XD-4T", html="<p>Terlampir.</p>", attachment=letter()
    )
    result = SmtpChannel(settings(sinks)).send(m)

    assert result.provider == "smtp" and result.provider_message_id == f"<{m.reference}@example.id>"
    [got] = sinks.messages("email")
    assert (got["to"], got["subject"], got["reference"]) == (m.to, m.subject, m.reference)
    assert got["text"].strip() == m.text
    [pdf] = got["attachments"]
    assert pdf["filename"] == "surat-tanggapan-7KQ2-M9XD-4T.pdf" and pdf["content_type"] == "application/pdf"
    assert pdf["sha256"] == sha(PDF) and sinks.attachment_bytes(pdf["sha256"]) == PDF
    assert httpx.get(f"{sinks.http_url}/dev/outbox/attachments/{pdf['sha256']}").content == PDF


def test_email_over_starttls_with_login_to_a_private_ca(secured, tls):
    channel = SmtpChannel(
        settings(
            secured,
            smtp_security="starttls",
            smtp_ca_file=str(tls.ca_file),
            smtp_username=SMTP_USER,
            smtp_password=SMTP_PASSWORD,
        )
    )
    m = message("email", subject="Tanda terima", attachment=letter())
    channel.send(m)
    [got] = secured.messages("email")
    assert got["reference"] == m.reference and got["attachments"][0]["sha256"] == sha(PDF)


def test_wrong_smtp_password_is_permanent_and_not_in_the_error(secured, tls):
    channel = SmtpChannel(
        settings(
            secured,
            smtp_security="starttls",
            smtp_ca_file=str(tls.ca_file),
            smtp_username=SMTP_USER,
            smtp_password="salah-sekali",
        )
    )
    with pytest.raises(PermanentSendError) as caught:
        channel.send(message("email", subject="x"))
    assert caught.value.status == 535 and "salah-sekali" not in str(caught.value)
    assert secured.messages() == []


def test_an_untrusted_smtp_certificate_is_permanent(secured):
    channel = SmtpChannel(
        settings(secured, smtp_security="starttls", smtp_username=SMTP_USER, smtp_password=SMTP_PASSWORD)
    )  # no smtp_ca_file: the private CA is unknown
    with pytest.raises(PermanentSendError, match="certificate"):
        channel.send(message("email", subject="x"))


@pytest.mark.parametrize(
    "mode, error, code",
    [
        ("tempfail", TransientSendError, 451),
        ("reject", PermanentSendError, 550),
        ("error500", PermanentSendError, 554),
    ],
)
def test_smtp_replies_are_classified(sinks, mode, error, code):
    sinks.control("smtp", mode, times=1)
    m = message("email", subject="Uji", text="rahasia isi pesan")
    with pytest.raises(error) as caught:
        SmtpChannel(settings(sinks)).send(m)
    assert caught.value.status == code and "rahasia isi pesan" not in str(caught.value)
    assert sinks.messages() == [] and sinks.attempts("smtp") == 1
    SmtpChannel(settings(sinks)).send(m)  # times=1: the next one goes through
    assert len(sinks.messages("email")) == 1 and sinks.attempts("smtp") == 2


def test_a_subject_no_server_would_take_is_permanent_and_not_sent(sinks):
    with pytest.raises(PermanentSendError):
        SmtpChannel(settings(sinks)).send(message("email", subject="Surat\r\nBcc: semua@example.id"))
    assert sinks.attempts("smtp") == 0


def test_smtp_server_down_is_transient_and_a_lost_answer_to_data_is_an_unknown_outcome(sinks):
    """Once DATA is sent the server may have the message: a hang there must not become a plain retry."""
    with pytest.raises(TransientSendError):
        SmtpChannel(settings(sinks, smtp_port=closed_port())).send(message("email", subject="x"))
    sinks.control("smtp", "timeout", times=1)
    with pytest.raises(OutcomeUnknownError, match="DATA"):
        SmtpChannel(settings(sinks, smtp_timeout=1.0)).send(message("email", subject="x"))
    assert sinks.messages() == [] and sinks.attempts("smtp") == 1
    sinks.control("smtp", "ok", times=1, delay=3)  # the server takes the mail and answers too late
    with pytest.raises(OutcomeUnknownError):
        SmtpChannel(settings(sinks, smtp_timeout=1.0)).send(message("email", subject="x"))
    assert len(sinks.messages("email")) == 1


# generic SMS gateway ---------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["form", "json"])
def test_generic_sms_form_and_json(sinks, body):
    m = message("sms")
    result = HttpSmsChannel(settings(sinks, sms_body=body, sms_extra_params={"sender": "PEMKAB"})).send(m)
    [got] = sinks.messages("sms")
    assert (got["provider"], got["to"], got["text"], got["reference"]) == ("http-sms", PHONE, m.text, m.reference)
    assert result.provider == "http-sms" and result.provider_message_id == got["id"]


def test_generic_sms_with_a_bearer_token(secured):
    m = message("sms")
    result = HttpSmsChannel(settings(secured, sms_auth="bearer", sms_token=SMS_TOKEN)).send(m)
    assert result.provider_message_id == secured.messages("sms")[0]["id"]
    with pytest.raises(PermanentSendError) as caught:
        HttpSmsChannel(settings(secured, sms_auth="bearer", sms_token="salah")).send(message("sms"))
    assert caught.value.status == 401 and "salah" not in str(caught.value)


def test_generic_sms_id_from_a_missing_field_is_none(sinks):
    assert (
        HttpSmsChannel(settings(sinks, sms_id_field="data.message_id")).send(message("sms")).provider_message_id is None
    )


@pytest.mark.parametrize(
    "mode, error, status",
    [
        ("error500", TransientSendError, 500),
        ("error429", TransientSendError, 429),
        ("tempfail", TransientSendError, 503),
        ("error400", PermanentSendError, 400),
    ],
)
def test_generic_sms_failures(sinks, mode, error, status):
    sinks.control("sms", mode)
    with pytest.raises(error) as caught:
        HttpSmsChannel(settings(sinks)).send(message("sms"))
    assert caught.value.status == status
    assert sinks.messages() == []


def test_generic_sms_unanswered_is_an_unknown_outcome_and_unreachable_is_transient(sinks):
    """A request that went out and got no answer may have been taken: not a plain retry (notify
    reconciles it with the provider first)."""
    sinks.control("sms", "timeout", times=1)
    started = time.monotonic()
    with pytest.raises(OutcomeUnknownError, match="did not answer"):
        HttpSmsChannel(settings(sinks, sms_timeout=1.0)).send(message("sms"))
    assert time.monotonic() - started < 5 and sinks.messages() == []
    with pytest.raises(TransientSendError):
        HttpSmsChannel(settings(sinks, sms_url=f"http://127.0.0.1:{closed_port()}/sms/send")).send(message("sms"))


def test_generic_sms_lookup(sinks):
    channel = HttpSmsChannel(settings(sinks))
    m = message("sms")
    sent = channel.send(m)
    found = channel.lookup(m.reference)
    assert found is not None and found.detail == "found" and found.provider_message_id == sent.provider_message_id
    never = channel.lookup(uuid.uuid4().hex)
    assert never is not None and never.detail == "not_found" and never.provider_message_id is None
    # cannot tell: no status URL, or the status query itself fails
    assert HttpSmsChannel(settings(sinks, sms_status_url=None)).lookup(m.reference) is None
    down = f"http://127.0.0.1:{closed_port()}/sms/status/{{reference}}"
    assert HttpSmsChannel(settings(sinks, sms_status_url=down)).lookup(m.reference) is None


def test_delay_records_before_answering_so_a_lost_answer_can_be_reconciled(sinks):
    """The provider took the message, but its answer came too late for us: lookup tells the truth."""
    sinks.control("sms", "ok", times=1, delay=3)
    channel = HttpSmsChannel(settings(sinks, sms_timeout=1.0))
    m = message("sms")
    with pytest.raises(OutcomeUnknownError):
        channel.send(m)
    assert [x["reference"] for x in sinks.messages("sms")] == [m.reference]
    assert channel.lookup(m.reference).detail == "found"


# Zenziva -----------------------------------------------------------------------------------------------


def zenziva(sinks: Sinks, keys=ZENZIVA_KEYS) -> ZenzivaSmsChannel:
    return ZenzivaSmsChannel(settings(sinks, sms_provider="zenziva", zenziva_userkey=keys[0], zenziva_passkey=keys[1]))


def test_zenziva_sends_in_local_number_format(secured):
    m = message("sms")
    result = zenziva(secured).send(m)
    [got] = secured.messages("sms")
    assert (got["provider"], got["to"], got["text"]) == ("zenziva", "081234567890", m.text)
    assert result.provider == "zenziva" and result.provider_message_id == got["id"]
    assert zenziva(secured).lookup(m.reference) is None


def test_zenziva_wrong_keys_are_permanent_with_the_providers_text(secured):
    with pytest.raises(PermanentSendError, match="Userkey atau Passkey salah") as caught:
        zenziva(secured, keys=("a1b2c3d4e5f6", "kunci-keliru")).send(message("sms"))
    assert "kunci-keliru" not in str(caught.value) and secured.messages() == []


@pytest.mark.parametrize(
    "mode, error",
    [
        ("tempfail", TransientSendError),  # status 0, "Server sedang sibuk"
        ("reject", PermanentSendError),  # status 0, "Nomor tujuan tidak valid"
        ("error500", TransientSendError),
        ("error429", TransientSendError),
    ],
)
def test_zenziva_failures(secured, mode, error):
    secured.control("zenziva", mode)
    with pytest.raises(error):
        zenziva(secured).send(message("sms"))
    assert secured.attempts("zenziva") == 1 and secured.messages() == []


# WhatsApp Cloud API ------------------------------------------------------------------------------------


def whatsapp(sinks: Sinks, token: str = WA_TOKEN) -> WhatsAppCloudChannel:
    return WhatsAppCloudChannel(settings(sinks, whatsapp_token=token))


def test_whatsapp_text(sinks):
    m = message("whatsapp")
    result = whatsapp(sinks).send(m)
    [got] = sinks.messages("whatsapp")
    assert (got["to"], got["text"], got["reference"]) == ("6281234567890", m.text, m.reference)
    assert result.provider == "whatsapp-cloud" and result.provider_message_id == got["id"]
    assert result.provider_message_id.startswith("wamid.")
    # shaped as the Cloud API's: base64 of a record holding the recipient's number (why no table keeps the id:
    # docs/adr/0017, decision 7)
    assert b"6281234567890" in base64.b64decode(result.provider_message_id.removeprefix("wamid."))
    assert whatsapp(sinks).lookup(m.reference) is None


def test_whatsapp_template(sinks):
    whatsapp(sinks).send(message("whatsapp", template="pengaduan_diterima", template_params=("Siti", "7KQ2-M9XD-4T")))
    [got] = sinks.messages("whatsapp")
    assert got["subject"] == "template pengaduan_diterima (id)" and got["text"] == "Siti\n7KQ2-M9XD-4T"


def test_whatsapp_document_by_upload_arrives_intact(sinks):
    m = message("whatsapp", attachment=letter())
    whatsapp(sinks).send(m)
    [got] = sinks.messages("whatsapp")
    [pdf] = got["attachments"]
    assert pdf["filename"] == "surat-tanggapan-7KQ2-M9XD-4T.pdf" and pdf["sha256"] == sha(PDF)
    assert sinks.attachment_bytes(pdf["sha256"]) == PDF and got["text"] == m.text
    assert sinks.attempts("whatsapp") == 2  # the upload, then the message


def test_whatsapp_document_by_link(sinks):
    url = "https://pengaduan.example.id/v1/letters/7KQ2/surat-tanggapan.pdf"
    whatsapp(sinks).send(message("whatsapp", attachment_url=url))
    [got] = sinks.messages("whatsapp")
    assert got["attachments"] == [
        {"filename": "surat-tanggapan.pdf", "content_type": None, "size": None, "sha256": None, "url": url}
    ]


@pytest.mark.parametrize(
    "mode, error, code",
    [
        ("error500", TransientSendError, 131000),
        ("error429", TransientSendError, 130429),
        ("tempfail", TransientSendError, 133004),
        ("error400", PermanentSendError, 131026),
        ("reject", PermanentSendError, 131047),
    ],
)
def test_whatsapp_graph_errors(sinks, mode, error, code):
    sinks.control("whatsapp", mode)
    with pytest.raises(error) as caught:
        whatsapp(sinks).send(message("whatsapp"))
    assert caught.value.status == code and "fbtrace_id" in str(caught.value)
    assert sinks.messages() == []


def test_whatsapp_bad_token_is_permanent(secured):
    with pytest.raises(PermanentSendError) as caught:
        whatsapp(secured, token="token-keliru").send(message("whatsapp"))
    assert caught.value.status == 190 and "token-keliru" not in str(caught.value)


def test_whatsapp_unreachable_or_slow_is_transient(sinks):
    with pytest.raises(TransientSendError):
        WhatsAppCloudChannel(settings(sinks, whatsapp_api_url=f"http://127.0.0.1:{closed_port()}")).send(
            message("whatsapp")
        )
    sinks.control("whatsapp", "timeout", times=1)
    with pytest.raises(OutcomeUnknownError, match="did not answer"):
        WhatsAppCloudChannel(settings(sinks, whatsapp_timeout=1.0)).send(message("whatsapp"))


def test_whatsapp_status_webhooks_arrive_signed(secured, webhook):
    m = message("whatsapp")
    wamid = whatsapp(secured).send(m).provider_message_id
    received = webhook.wait_for(2)
    statuses = []
    for headers, raw in received:
        expected = "sha256=" + hmac.new(WA_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-hub-signature-256"], expected)
        payload = json.loads(raw)
        assert payload["object"] == "whatsapp_business_account"
        change = payload["entry"][0]["changes"][0]
        assert change["field"] == "messages"
        assert change["value"]["metadata"]["phone_number_id"] == "109876543210987"
        [status] = change["value"]["statuses"]
        assert (status["id"], status["recipient_id"], status["biz_opaque_callback_data"]) == (
            wamid,
            "6281234567890",
            m.reference,
        )
        statuses.append(status["status"])
    assert statuses == ["sent", "delivered"]


# the outbox, for people and tests ----------------------------------------------------------------------


def test_outbox_page_lists_messages_escaped(sinks):
    HttpSmsChannel(settings(sinks)).send(message("sms", text="Balasan <script>alert('x')</script> & salam"))
    page = httpx.get(f"{sinks.http_url}/dev/outbox")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Pesan yang akan terkirim" in page.text and '<meta http-equiv="refresh" content="5">' in page.text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; salam" in page.text
    assert "<script>" not in page.text and PHONE in page.text


def test_outbox_http_api(sinks):
    base = f"{sinks.http_url}/dev/outbox"
    assert httpx.post(f"{base}/control", json={"target": "*", "mode": "error500", "times": 1}).status_code == 200
    with pytest.raises(TransientSendError):
        HttpSmsChannel(settings(sinks)).send(message("sms"))
    with pytest.raises(TransientSendError):
        whatsapp(sinks).send(message("whatsapp"))
    with pytest.raises(PermanentSendError):  # 554
        SmtpChannel(settings(sinks)).send(message("email", subject="Uji"))
    HttpSmsChannel(settings(sinks)).send(message("sms"))  # times=1: each target failed once, then back to ok
    SmtpChannel(settings(sinks)).send(message("email", subject="Uji"))

    assert httpx.get(f"{base}/attempts").json() == {"smtp": 2, "sms": 2, "zenziva": 0, "whatsapp": 1}
    listed = httpx.get(f"{base}/messages").json()
    assert [m["channel"] for m in listed] == ["email", "sms"]  # newest first
    assert [m["channel"] for m in httpx.get(f"{base}/messages", params={"channel": "sms"}).json()] == ["sms"]
    assert httpx.get(f"{base}/messages", params={"to": PHONE}).json() == [listed[1]]
    assert httpx.post(f"{base}/control", json={"target": "fax", "mode": "ok"}).status_code == 422
    assert httpx.delete(f"{base}/messages").status_code == 200
    assert httpx.get(f"{base}/messages").json() == [] and sinks.messages() == []


def test_wait_for_returns_what_the_predicate_found(sinks):
    m = message("sms")
    threading.Timer(0.2, HttpSmsChannel(settings(sinks)).send, args=(m,)).start()
    found = sinks.wait_for(lambda msgs: [x for x in msgs if x["reference"] == m.reference], timeout=5)
    assert found[0]["to"] == PHONE
    with pytest.raises(TimeoutError):
        sinks.wait_for(lambda msgs: [x for x in msgs if x["reference"] == "none"], timeout=0.1)
