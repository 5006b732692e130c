"""Reading what the channels deliver: WhatsApp Cloud API payloads, raw e-mail, and the rules that turn a message
into a complaint's subject, description and time; the kecamatan's channel settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from services.intake.domain import inbound as parse
from shared.tenancy import validate_settings
from tests.unit.test_attachments import EXE, tiny_png

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def wa_payload(*messages, statuses=(), contacts=(("6281234567890", "Siti Aminah"),), phone_number_id="1098765"):
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA-1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "6281100000001", "phone_number_id": phone_number_id},
                            "contacts": [{"profile": {"name": n}, "wa_id": w} for w, n in contacts],
                            **({"messages": list(messages)} if messages else {}),
                            **({"statuses": list(statuses)} if statuses else {}),
                        },
                    }
                ],
            }
        ],
    }


def test_whatsapp_text_image_and_document_messages_are_read():
    ts = str(int(NOW.timestamp()))
    messages, statuses = parse.parse_whatsapp(
        wa_payload(
            {
                "from": "6281234567890",
                "id": "wamid.A",
                "timestamp": ts,
                "type": "text",
                "text": {"body": "Jalan rusak"},
            },
            {
                "from": "6281234567890",
                "id": "wamid.B",
                "timestamp": ts,
                "type": "image",
                "image": {"id": "MEDIA1", "mime_type": "image/jpeg", "sha256": "x", "caption": "Foto KTP"},
            },
            {
                "from": "6289999999999",
                "id": "wamid.C",
                "timestamp": ts,
                "type": "document",
                "document": {"id": "MEDIA2", "filename": "surat.pdf", "mime_type": "application/pdf"},
            },
            {"from": "6281234567890", "id": "wamid.D", "timestamp": ts, "type": "audio", "audio": {"id": "MEDIA3"}},
        )
    )
    assert statuses == []
    a, b, c, d = messages
    assert (a.id, a.wa_id, a.phone_number_id, a.profile_name, a.text, a.timestamp) == (
        "wamid.A",
        "6281234567890",
        "1098765",
        "Siti Aminah",
        "Jalan rusak",
        NOW,
    )
    assert b.text == "Foto KTP" and b.media == (parse.MediaRef("MEDIA1", None, "image/jpeg"),)
    assert c.profile_name is None and c.media[0].filename == "surat.pdf"
    assert not d.supported and d.media == ()


def test_whatsapp_statuses_are_read_with_their_first_error():
    _, statuses = parse.parse_whatsapp(
        wa_payload(
            statuses=[
                {
                    "id": "wamid.OUT1",
                    "status": "delivered",
                    "timestamp": "1764558000",
                    "recipient_id": "6281234567890",
                    "biz_opaque_callback_data": "delivery-123",
                },
                {
                    "id": "wamid.OUT2",
                    "status": "failed",
                    "timestamp": "1764558001",
                    "recipient_id": "6281234567890",
                    "errors": [{"code": 131026, "title": "Message undeliverable"}, {"title": "second"}],
                },
            ]
        )
    )
    assert [(s.id, s.status, s.error, s.biz_opaque_callback_data) for s in statuses] == [
        ("wamid.OUT1", "delivered", None, "delivery-123"),
        ("wamid.OUT2", "failed", "Message undeliverable", None),
    ]
    assert statuses[0].timestamp == datetime.fromtimestamp(1764558000, UTC) and statuses[1].raw["errors"]


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        "x",
        {"entry": "x"},
        {"entry": [{"changes": [{"value": None}]}]},
        {"entry": [{"changes": [{"value": {"messages": [{"id": "x"}, 5]}}]}]},
    ],
)
def test_odd_whatsapp_payloads_yield_nothing_and_raise_nothing(payload):
    assert parse.parse_whatsapp(payload) == ([], [])


def test_a_status_is_kept_as_json_postgresql_can_store():
    _, statuses = parse.parse_whatsapp(
        wa_payload(statuses=[{"id": "wamid.X", "status": "read", "extra": ["a\x00b", {"k\x00": "\ud800v"}]}])
    )
    assert statuses[0].raw["extra"] == ["ab", {"k": "v"}]


def test_control_characters_are_removed_from_whatsapp_text():
    messages, _ = parse.parse_whatsapp(
        wa_payload(
            {"from": "6281234567890", "id": "wamid\x00X", "type": "text", "text": {"body": "baris 1\nbaris\x07 2"}}
        )
    )
    assert messages[0].id == "wamidX" and messages[0].text == "baris 1\nbaris 2"


def mail(**headers) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Budi Santoso <Budi@Example.ID>")
    msg["To"] = headers.pop("To", "Pengaduan Pegantenan <PENGADUAN@pegantenan.example.id>")
    msg["Subject"] = headers.pop("Subject", "Lampu jalan mati")
    msg["Message-ID"] = headers.pop("Message_ID", "<abc-123@example.id>")
    msg["Date"] = headers.pop("Date", "Tue, 01 Dec 2026 09:30:00 +0700")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    return msg


def test_an_email_with_text_and_attachments_is_read():
    msg = mail()
    msg.set_content("Lampu jalan di depan balai desa mati.\nMohon diperbaiki.")
    msg.add_attachment(tiny_png(), maintype="image", subtype="png", filename="ktp.png")
    msg.add_attachment(EXE, maintype="image", subtype="jpeg", filename="foto.jpg")
    parsed = parse.parse_email(msg.as_bytes())
    assert parsed.message_id == "<abc-123@example.id>"
    assert parsed.sender == "Budi@example.id" and parsed.sender_name == "Budi Santoso"
    assert parsed.subject == "Lampu jalan mati"
    assert parsed.text == "Lampu jalan di depan balai desa mati.\nMohon diperbaiki."
    assert parsed.recipients == ("pengaduan@pegantenan.example.id",)
    assert [name for _, name in parsed.files] == ["ktp.png", "foto.jpg"] and parsed.files[0][0] == tiny_png()
    assert parsed.date is None and not parsed.automatic  # the sender's Date header does not set the SOP clock


def test_from_not_reply_to_is_the_sender_and_delivered_to_comes_first():
    """Reply-To is whatever the sender wrote: it must not attach a message to someone else's complaint."""
    msg = mail(Reply_To="Siti <siti@example.id>", Delivered_To="pengaduan-galis@example.id", Cc="lain@example.id")
    msg.set_content("isi")
    parsed = parse.parse_email(msg.as_bytes())
    assert parsed.sender == "Budi@example.id"
    assert parsed.recipients == ("pengaduan-galis@example.id", "pengaduan@pegantenan.example.id", "lain@example.id")


def test_an_html_only_email_is_read_as_text():
    msg = mail()
    msg.set_content(
        "<html><head><style>p{color:red}</style></head><body><p>Jalan&nbsp;rusak &amp; berlubang</p>"
        "<div>Desa <b>Bunangka</b></div><script>x()</script></body></html>",
        subtype="html",
    )
    assert parse.parse_email(msg.as_bytes()).text == "Jalan rusak & berlubang\n\nDesa Bunangka"


def test_an_email_without_a_readable_sender_is_refused():
    msg = EmailMessage()
    msg["To"] = "pengaduan@example.id"
    msg.set_content("isi")
    with pytest.raises(parse.InvalidInbound) as caught:
        parse.parse_email(msg.as_bytes())
    assert caught.value.code == "sender_invalid"
    with pytest.raises(parse.InvalidInbound) as empty:
        parse.parse_email(b"  ")
    assert empty.value.code == "email_empty"


def test_without_a_message_id_the_dedupe_key_is_the_digest_of_the_bytes():
    msg = mail()
    del msg["Message-ID"]
    msg.set_content("isi")
    raw = msg.as_bytes()
    assert parse.parse_email(raw).message_id == parse.parse_email(raw).message_id
    assert parse.parse_email(raw).message_id.startswith("sha256:")


@pytest.mark.parametrize("headers", [{"Auto_Submitted": "auto-replied"}, {"From": "MAILER-DAEMON@example.id"}])
def test_auto_replies_and_bounces_are_recognised(headers):
    msg = mail(**headers)
    msg.set_content("Saya sedang cuti")
    assert parse.parse_email(msg.as_bytes()).automatic


def test_wording_takes_the_first_line_as_subject_and_keeps_the_text():
    w = parse.wording("sms", "  \n" + "Lampu jalan mati " * 20 + "\nsudah seminggu")
    assert len(w.subject) <= 120 and w.subject.endswith("…") and w.subject.startswith("Lampu jalan mati")
    assert w.description.endswith("sudah seminggu")


def test_wording_without_text_and_with_notes():
    w = parse.wording("whatsapp", "", notes=["[Lampiran tidak disimpan: a.exe (jenis berkas tidak diizinkan)]"])
    assert w.subject == "Pengaduan via WhatsApp"
    assert w.description == "(tanpa teks)\n\n[Lampiran tidak disimpan: a.exe (jenis berkas tidak diizinkan)]"
    assert parse.wording("email", "Isi", subject="  Jalan rusak ").subject == "Jalan rusak"


@pytest.mark.parametrize(
    "given, expected",
    [
        (NOW - timedelta(hours=2), NOW - timedelta(hours=2)),
        (NOW + timedelta(minutes=2), NOW),  # a clock slightly ahead: now
        (NOW + timedelta(hours=1), NOW),  # in the future: now
        (NOW - timedelta(days=8), NOW),  # older than 7 days: now
        (None, NOW),
        (datetime(2026, 12, 1, 1, 0), NOW),  # no offset: not trusted
    ],
)
def test_the_providers_time_is_used_when_plausible(given, expected):
    assert parse.received_at(given, NOW) == expected


def test_senders_are_normalised():
    assert parse.phone_sender("0812-3456-7890") == "+6281234567890"
    assert parse.whatsapp_sender("6281234567890") == "+6281234567890"
    with pytest.raises(parse.InvalidInbound):
        parse.phone_sender("TELKOMSEL")
    with pytest.raises(parse.InvalidInbound):
        parse.whatsapp_sender("abc")


def test_kecamatan_channel_settings_are_validated_and_normalised():
    result = validate_settings(
        {
            "channels": {
                "sms_numbers": ["0811-2233-4455", "+62 811 2233 4455"],
                "whatsapp_phone_number_ids": [" 1098765 "],
                "emails": ["Pengaduan@Pegantenan.Example.ID"],
            }
        }
    )
    assert result["channels"] == {
        "sms_numbers": ["+6281122334455"],
        "whatsapp_phone_number_ids": ["1098765"],
        "emails": ["pengaduan@pegantenan.example.id"],
    }
    for bad, words in [
        ({"channels": {"sms_numbers": ["12"]}}, "not a valid phone number"),
        ({"channels": {"whatsapp_phone_number_ids": ["abc"]}}, "phone number id"),
        ({"channels": {"emails": ["bukan-email"]}}, "not a valid e-mail"),
        ({"channels": {"fax": []}}, "unknown keys"),
        ({"channels": {"emails": "a@b.id"}}, "list of strings"),
        ({"channels": []}, "must be an object"),
    ]:
        with pytest.raises(ValueError, match=words):
            validate_settings(bad)
