"""Intake's inbound channels over a real database: WhatsApp (signed webhooks, media from a local Graph API
server, delivery statuses), SMS, e-mail, replies to complaints awaiting documents, complaints typed in by
staff, and who may download attachments."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from services.intake.adapters.tables import (
    attachments,
    channel_statuses,
    inbound_messages,
    outbox,
    submissions,
    tracking,
)
from services.intake.bootstrap import bootstrap
from services.intake.config import IntakeSettings
from services.intake.entrypoints.api import create_app
from services.intake.entrypoints.imap_poller import poll_once
from shared.auth import Principal
from shared.contracts import sop
from shared.privacy import provider_id_hashes
from shared.tenancy import Kecamatan, configure_kecamatan, upsert_kecamatan
from tests.support.auth import bearer_header
from tests.unit.test_attachments import EXE, as_stored, tiny_jpeg, tiny_png

SMS_TOKEN = "rahasia-sms-uji"
EMAIL_TOKEN = "rahasia-email-uji"
MAIL_SERVER = "mx.uji.example.id"  # the authserv-id of the receiving mail server
VERIFY_TOKEN = "verifikasi-uji"
APP_SECRET = "app-secret-uji"
GRAPH_TOKEN = "graph-token-uji"


# --- a local Graph API: GET /v21.0/{media_id} -> {"url"}, GET /files/{media_id} -> bytes ---------------


class GraphServer:
    def __init__(self) -> None:
        self.media: dict[str, bytes] = {}
        self.requests: list[str] = []
        media, requests = self.media, self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                if self.headers.get("Authorization") != f"Bearer {GRAPH_TOKEN}":
                    return self._answer(401, b'{"error": "unauthorized"}', "application/json")
                parts = self.path.strip("/").split("/")
                if len(parts) == 2 and parts[0] == "v21.0" and parts[1] in media:
                    url = f"http://127.0.0.1:{self.server.server_port}/files/{parts[1]}"
                    body = json.dumps({"url": url, "mime_type": "image/png", "id": parts[1]}).encode()
                    return self._answer(200, body, "application/json")
                if len(parts) == 2 and parts[0] == "files" and parts[1] in media:
                    return self._answer(200, media[parts[1]], "application/octet-stream")
                return self._answer(404, b'{"error": "not found"}', "application/json")

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> GraphServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def graph():
    with GraphServer() as server:
        yield server


# --- two kecamatan of our own, with their channels ------------------------------------------------


def mobile() -> str:
    """A fresh valid Indonesian mobile number in E.164."""
    return f"+62812{random.randint(10_000_000, 99_999_999)}"


@dataclasses.dataclass
class Place:
    slug: str
    sms: str
    wa_id: str
    email: str


@pytest.fixture(scope="module")
def places(engine) -> dict[str, Place]:
    suffix = uuid.uuid4().hex[:6]
    result = {}
    for key, kabupaten in (("a", "pamekasan"), ("b", "pamekasan"), ("c", "kabupaten-lain")):
        slug = f"uji-{key}-{suffix}"
        code = f"99.{random.randint(10, 99)}.{random.randint(1000, 9999)}.{suffix}"
        upsert_kecamatan(engine, [Kecamatan(slug, code, f"Uji {key.upper()}", kabupaten, f"Kabupaten {kabupaten}", {})])
        place = Place(
            slug, mobile(), str(random.randint(10**14, 10**15 - 1)), f"pengaduan-{key}-{suffix}@uji.example.id"
        )
        national = "0" + place.sms.removeprefix("+62")  # configured as people write it; stored normalised
        configure_kecamatan(
            engine,
            slug,
            {
                "channels": {
                    "sms_numbers": [f"{national[:4]}-{national[4:8]}-{national[8:]}"],
                    "whatsapp_phone_number_ids": [place.wa_id],
                    "emails": [place.email.upper()],
                }
            },
        )
        result[key] = place
    return result


@pytest.fixture(scope="module")
def intake(settings, engine, graph, tmp_path_factory):
    container = bootstrap(
        IntakeSettings(
            **settings.model_dump(),
        ).model_copy(
            update={
                "data_dir": str(tmp_path_factory.mktemp("intake-data")),
                "sms_webhook_token": SecretStr(SMS_TOKEN),
                "email_webhook_token": SecretStr(EMAIL_TOKEN),
                "email_authserv_ids": MAIL_SERVER,
                "whatsapp_verify_token": SecretStr(VERIFY_TOKEN),
                "whatsapp_app_secret": SecretStr(APP_SECRET),
                "whatsapp_token": SecretStr(GRAPH_TOKEN),
                "whatsapp_api_url": graph.url,
                "whatsapp_media_timeout": 5.0,
            }
        )
    )
    yield container
    container.engine.dispose()


@pytest.fixture(scope="module")
def client(intake):
    with TestClient(create_app(intake)) as c:
        yield c


def bearer(
    settings, role: str, kecamatan: str | None = None, kabupaten: str | None = None, username: str | None = None
) -> dict:
    principal = Principal(
        username=username or f"{role}.{kecamatan or kabupaten or 'x'}",
        full_name=f"Pengguna {role}",
        role=role,
        kecamatan=kecamatan,
        kabupaten=kabupaten or ("pamekasan" if role in ("staf", "kasi", "sekcam", "camat") else None),
    )
    return bearer_header(settings, principal)


def counts(engine) -> tuple[int, int, int, int]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (submissions, outbox, inbound_messages, attachments)
        )


def submission_of(engine, tracking_code: str) -> dict:
    with engine.connect() as conn:
        return dict(
            conn.execute(select(submissions).where(submissions.c.tracking_code == tracking_code)).mappings().one()
        )


def outbox_row(engine, row_id) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(select(outbox).where(outbox.c.id == row_id)).mappings().one())


# --- WhatsApp -------------------------------------------------------------------------------------


def wa_body(
    place: Place,
    *messages: dict,
    wa_id: str = "6281234567890",
    name: str = "Siti Aminah",
    statuses: list | None = None,
    phone_number_id: str | None = None,
) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "6281100000001", "phone_number_id": phone_number_id or place.wa_id},
        "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
    }
    if messages:
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = statuses
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(payload).encode()


def text_message(wa_id: str, text: str, ts: datetime | None = None) -> dict:
    return {
        "from": wa_id,
        "id": f"wamid.{uuid.uuid4().hex}",
        "timestamp": str(int((ts or datetime.now(UTC)).timestamp())),
        "type": "text",
        "text": {"body": text},
    }


def by_hash(intake, provider_message_id: str):
    """The inbound message a provider's id names: by the id's keyed hash, all ``inbound_messages`` keeps of it."""
    return inbound_messages.c.provider_message_hash == provider_id_hashes(intake.settings).hash(provider_message_id)


def sign(body: bytes, secret: str = APP_SECRET) -> dict:
    return {
        "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }


def test_whatsapp_verification_handshake(client):
    good = client.get(
        "/v1/channels/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
    )
    assert (
        good.status_code == 200 and good.text == "1158201444" and good.headers["content-type"].startswith("text/plain")
    )
    bad = client.get(
        "/v1/channels/whatsapp", params={"hub.mode": "subscribe", "hub.verify_token": "salah", "hub.challenge": "x"}
    )
    assert bad.status_code == 403 and bad.json()["code"] == "verification_failed"
    assert (
        client.get("/v1/channels/whatsapp", params={"hub.verify_token": VERIFY_TOKEN, "hub.challenge": "x"}).status_code
        == 403
    )


def test_a_signed_whatsapp_message_creates_a_complaint(client, engine, places):
    wa_id = mobile().removeprefix("+")
    sent = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    body = wa_body(
        places["a"],
        text_message(wa_id, "Jalan desa rusak parah\nSudah tiga bulan belum diperbaiki.", sent),
        wa_id=wa_id,
    )
    r = client.post("/v1/channels/whatsapp", content=body, headers=sign(body))
    assert r.status_code == 200, r.text
    [answer] = r.json()["messages"]
    assert answer["result"] == "complaint" and not answer["duplicate"]
    row = submission_of(engine, answer["tracking_code"])
    assert row["channel"] == "whatsapp" and row["kecamatan"] == places["a"].slug
    assert row["complainant"] == {
        "name": "Siti Aminah",
        "nik": None,
        "phone": "+" + wa_id,
        "email": None,
        "address": None,
        "confidential": False,  # not asked: the text does not begin with RAHASIA
        "anonymous": False,
    }
    assert row["subject"] == "Jalan desa rusak parah"
    assert row["description"] == "Jalan desa rusak parah\nSudah tiga bulan belum diperbaiki."
    assert row["received_at"] == sent  # the provider's time, plausible
    message = outbox_row(engine, row["id"])
    assert message["task"] == "workflow.record_complaint" and message["queue"] == "workflow"
    assert message["message_type"] == "intake.ComplaintReceived"
    assert message["payload"]["channel"] == "whatsapp" and message["payload"]["complainant"]["phone"] == "+" + wa_id
    assert message["payload"]["tracking_code"] == answer["tracking_code"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},  # unsigned
        {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + "0" * 64},  # forged
        "other-secret",  # signed with another secret
        {"Content-Type": "application/json", "X-Hub-Signature-256": "bukan tanda tangan"},
    ],
)
def test_an_unsigned_or_forged_whatsapp_webhook_is_401_and_stores_nothing(client, engine, places, headers):
    body = wa_body(places["a"], text_message(mobile().removeprefix("+"), "Pesan palsu yang tidak boleh tersimpan"))
    if headers == "other-secret":
        headers = sign(body, "rahasia-lain")
    before = counts(engine)
    r = client.post("/v1/channels/whatsapp", content=body, headers=headers)
    assert r.status_code == 401 and r.json()["code"] == "signature_invalid"
    assert counts(engine) == before


def test_the_same_whatsapp_webhook_twice_creates_one_complaint(client, engine, places):
    wa_id = mobile().removeprefix("+")
    body = wa_body(places["a"], text_message(wa_id, "Lampu jalan mati di Dusun Bunangka"), wa_id=wa_id)
    before = counts(engine)
    first = client.post("/v1/channels/whatsapp", content=body, headers=sign(body))
    second = client.post("/v1/channels/whatsapp", content=body, headers=sign(body))
    assert first.status_code == second.status_code == 200
    assert first.json()["messages"][0]["tracking_code"] == second.json()["messages"][0]["tracking_code"]
    assert second.json()["messages"][0]["duplicate"] is True
    after = counts(engine)
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (1, 1, 1)


def test_a_whatsapp_image_is_downloaded_and_stored(client, engine, intake, graph, places):
    wa_id, media_id = mobile().removeprefix("+"), f"MEDIA{uuid.uuid4().hex[:10]}"
    graph.media[media_id] = tiny_jpeg()
    photo = as_stored(tiny_jpeg())  # re-encoded: what intake keeps
    message = {
        "from": wa_id,
        "id": f"wamid.{uuid.uuid4().hex}",
        "timestamp": str(int(datetime.now(UTC).timestamp())),
        "type": "image",
        "image": {"id": media_id, "mime_type": "image/jpeg", "caption": "Foto KTP saya"},
    }
    body = wa_body(places["b"], message, wa_id=wa_id, name="Budi")
    r = client.post("/v1/channels/whatsapp", content=body, headers=sign(body))
    assert r.status_code == 200, r.text
    code = r.json()["messages"][0]["tracking_code"]
    row = submission_of(engine, code)
    assert row["kecamatan"] == places["b"].slug and row["complainant"]["name"] == "Budi"
    assert row["description"] == "Foto KTP saya"
    with engine.connect() as conn:
        stored = conn.execute(select(attachments).where(attachments.c.submission_id == row["id"])).mappings().one()
    digest = hashlib.sha256(photo).hexdigest()
    assert (stored["sha256"], stored["content_type"], stored["size"]) == (digest, "image/jpeg", len(photo))
    assert intake.documents.get(digest) == photo  # the bytes, in the document store
    payload = outbox_row(engine, row["id"])["payload"]
    assert payload["attachments"] == [
        {"sha256": digest, "content_type": "image/jpeg", "size": len(photo), "filename": None, "kind": None}
    ]
    assert f"/v21.0/{media_id}" in graph.requests and f"/files/{media_id}" in graph.requests


def test_whatsapp_media_that_cannot_be_fetched_keeps_the_text_and_notes_it(client, engine, places):
    wa_id = mobile().removeprefix("+")
    message = {
        "from": wa_id,
        "id": f"wamid.{uuid.uuid4().hex}",
        "type": "document",
        "document": {"id": "MEDIA-HILANG", "filename": "surat.pdf", "caption": "Surat keterangan terlampir"},
    }
    body = wa_body(places["a"], message, wa_id=wa_id)
    r = client.post("/v1/channels/whatsapp", content=body, headers=sign(body))
    assert r.status_code == 200
    row = submission_of(engine, r.json()["messages"][0]["tracking_code"])
    assert row["description"].startswith("Surat keterangan terlampir")
    assert "[Lampiran tidak disimpan: surat.pdf (tidak dapat diunduh)]" in row["description"]
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(attachments).where(attachments.c.submission_id == row["id"])
            ).scalar_one()
            == 0
        )


def test_whatsapp_for_a_number_no_kecamatan_claims_is_answered_200_and_ignored(client, engine, intake, places):
    message = text_message(mobile().removeprefix("+"), "Pesan ke nomor yang tidak terdaftar")
    body = wa_body(places["a"], message, phone_number_id="1")
    before = counts(engine)
    r = client.post("/v1/channels/whatsapp", content=body, headers=sign(body))
    assert r.status_code == 200 and r.json()["messages"][0]["result"] == "ignored"
    after = counts(engine)
    assert (after[0], after[1], after[2]) == (before[0], before[1], before[2] + 1)
    with engine.connect() as conn:
        row = conn.execute(select(inbound_messages).where(by_hash(intake, message["id"]))).mappings().one()
    assert row["result"] == "ignored" and row["kecamatan"] is None


def test_unsupported_whatsapp_messages_are_ignored(client, engine, places):
    message = {
        "from": mobile().removeprefix("+"),
        "id": f"wamid.{uuid.uuid4().hex}",
        "type": "sticker",
        "sticker": {"id": "S1"},
    }
    body = wa_body(places["a"], message)
    before = counts(engine)
    r = client.post("/v1/channels/whatsapp", content=body, headers=sign(body))
    assert r.status_code == 200 and r.json()["messages"][0]["result"] == "ignored"
    assert counts(engine)[0] == before[0]


def test_whatsapp_delivery_statuses_are_stored_once_and_handed_to_notify(client, engine, intake, places):
    out_id = f"wamid.OUT{uuid.uuid4().hex}"
    ts = int(datetime.now(UTC).timestamp())
    statuses = [
        {
            "id": out_id,
            "status": "sent",
            "timestamp": str(ts),
            "recipient_id": "6281234567890",
            "biz_opaque_callback_data": "d-1",
        },
        {
            "id": out_id,
            "status": "failed",
            "timestamp": str(ts + 5),
            "recipient_id": "6281234567890",
            "biz_opaque_callback_data": "d-1",
            "errors": [{"code": 131026, "title": "Message undeliverable"}],
        },
    ]
    body = wa_body(places["a"], statuses=statuses)
    for _ in range(2):
        r = client.post("/v1/channels/whatsapp", content=body, headers=sign(body))
        assert r.status_code == 200
    assert r.json()["statuses_recorded"] == 0  # the second delivery adds nothing
    with engine.connect() as conn:
        rows = (
            conn.execute(
                select(channel_statuses)
                .where(channel_statuses.c.provider_message_hash == provider_id_hashes(intake.settings).hash(out_id))
                .order_by(channel_statuses.c.timestamp)
            )
            .mappings()
            .all()
        )
        messages = conn.execute(select(outbox).where(outbox.c.id.in_([r["id"] for r in rows]))).mappings().all()
    assert [(r["provider"], r["status"]) for r in rows] == [("whatsapp-cloud", "sent"), ("whatsapp-cloud", "failed")]
    # neither the message's id (a WhatsApp id holds the recipient's number) nor the number is kept
    assert [(r["recipient_id"], "id" in r["raw"], "recipient_id" in r["raw"]) for r in rows] == [
        (None, False, False)
    ] * 2
    assert rows[1]["raw"]["errors"] == [{"code": 131026, "title": "Message undeliverable"}]
    assert {(m["task"], m["queue"]) for m in messages} == {("notify.record_status", "notify")}
    failed = next(m for m in messages if m["payload"]["status"] == "failed")
    assert failed["payload"] == {
        "message_id": str(failed["id"]),
        "provider": "whatsapp-cloud",
        "provider_message_hashes": provider_id_hashes(intake.settings).candidates(out_id),
        "status": "failed",
        "reference": "d-1",
        "at": datetime.fromtimestamp(ts + 5, UTC).isoformat(),
        "error": "Message undeliverable",
    }


def test_a_signed_webhook_that_is_not_json_is_still_200(client, engine):
    before = counts(engine)
    r = client.post("/v1/channels/whatsapp", content=b"{not json", headers=sign(b"{not json"))
    assert r.status_code == 200 and r.json()["messages"] == []
    assert counts(engine) == before


# --- SMS ------------------------------------------------------------------------------------------


def test_an_sms_with_the_right_token_creates_a_complaint(client, engine, places):
    sender = mobile()
    national = "0" + sender.removeprefix("+62")
    gateway_id = f"gw-{uuid.uuid4().hex}"
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    r = client.post(
        "/v1/channels/sms",
        headers={"X-Webhook-Token": SMS_TOKEN},
        data={
            "from": national,
            "to": places["b"].sms,
            "message": "Jembatan putus di Desa Tlonto",
            "id": gateway_id,
            "received_at": str(int(at.timestamp())),
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["result"] == "complaint"
    row = submission_of(engine, r.json()["tracking_code"])
    assert row["channel"] == "sms" and row["kecamatan"] == places["b"].slug and row["received_at"] == at
    assert row["complainant"]["phone"] == sender and row["complainant"]["name"] == "Pengadu via SMS"
    # JSON with ?token= works too, and the same gateway id is the same message
    again = client.post(
        f"/v1/channels/sms?token={SMS_TOKEN}",
        json={"from": sender, "to": places["b"].sms, "message": "Jembatan putus di Desa Tlonto", "id": gateway_id},
    )
    assert (
        again.status_code == 200
        and again.json()["tracking_code"] == r.json()["tracking_code"]
        and again.json()["duplicate"]
    )


@pytest.mark.parametrize("headers, query", [({}, ""), ({"X-Webhook-Token": "salah"}, ""), ({}, "?token=salah")])
def test_an_sms_with_a_wrong_or_missing_token_is_401_and_stores_nothing(client, engine, places, headers, query):
    before = counts(engine)
    r = client.post(
        f"/v1/channels/sms{query}",
        headers=headers,
        json={"from": mobile(), "to": places["a"].sms, "message": "Palsu", "id": uuid.uuid4().hex},
    )
    assert r.status_code == 401 and r.json()["code"] == "webhook_unauthorized"
    assert counts(engine) == before


@pytest.mark.parametrize(
    "body, status, code",
    [
        (
            {"from": "+6281234567890", "to": "+6281199999999", "message": "Ke nomor tak dikenal", "id": "x1"},
            422,
            "unknown_kecamatan",
        ),
        ({"from": "INFO-PROMO", "to": "+6281199999999", "message": "Promo", "id": "x2"}, 422, "sender_invalid"),
        ({"from": "+6281234567890", "message": "tanpa tujuan", "id": "x3"}, 422, "validation_error"),
    ],
)
def test_bad_sms_input_is_a_clear_422_and_stores_nothing(client, engine, body, status, code):
    body = {**body, "id": f"{body['id']}-{uuid.uuid4().hex}"}
    before = counts(engine)
    r = client.post("/v1/channels/sms", headers={"X-Webhook-Token": SMS_TOKEN}, json=body)
    assert r.status_code == status and r.json()["code"] == code, r.text
    assert counts(engine) == before


def test_a_channel_without_its_secret_is_503(intake):
    bare = dataclasses.replace(
        intake,
        settings=intake.settings.model_copy(
            update={
                "sms_webhook_token": None,
                "email_webhook_token": None,
                "whatsapp_app_secret": None,
                "whatsapp_verify_token": None,
            }
        ),
    )
    with TestClient(create_app(bare)) as c:
        assert (
            c.post("/v1/channels/sms", headers={"X-Webhook-Token": ""}, json={}).json()["code"]
            == "channel_not_configured"
        )
        assert c.post("/v1/channels/email", content=b"x").status_code == 503
        assert c.post("/v1/channels/whatsapp", content=b"{}").status_code == 503
        assert c.get("/v1/channels/whatsapp", params={"hub.mode": "subscribe"}).status_code == 503


# --- e-mail ---------------------------------------------------------------------------------------


def email_bytes(
    to: str,
    sender: str = "Budi Santoso <budi.santoso@example.id>",
    text: str | None = "Mohon bantuan, KTP saya terlampir.",
    subject: str = "Pengurusan KTP tertunda",
    files: tuple = (),
    message_id: str | None = None,
    authenticated: bool = False,
) -> bytes:
    msg = EmailMessage()
    if authenticated:  # as the receiving mail server writes it when the sender's domain passed DMARC
        domain = sender.rpartition("@")[2].rstrip(">").lower()
        msg["Authentication-Results"] = f"{MAIL_SERVER}; dkim=pass header.d={domain}; dmarc=pass header.from={domain}"
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@example.id>"
    if text is not None:
        msg.set_content(text)
    for data, maintype, subtype, name in files:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def post_email(client, raw: bytes, token: str = EMAIL_TOKEN):
    return client.post(
        "/v1/channels/email", content=raw, headers={"X-Webhook-Token": token, "Content-Type": "message/rfc822"}
    )


def test_an_email_with_a_ktp_scan_creates_a_complaint_and_skips_an_exe(client, engine, intake, places):
    scan = tiny_png(7)
    raw = email_bytes(
        places["a"].email.title(), files=((scan, "image", "png", "scan-ktp.png"), (EXE, "image", "jpeg", "foto.jpg"))
    )
    r = post_email(client, raw)
    assert r.status_code == 200, r.text
    row = submission_of(engine, r.json()["tracking_code"])
    assert row["channel"] == "email" and row["kecamatan"] == places["a"].slug
    assert row["complainant"]["email"] == "budi.santoso@example.id" and row["complainant"]["name"] == "Budi Santoso"
    assert row["subject"] == "Pengurusan KTP tertunda"
    assert row["description"].startswith("Mohon bantuan, KTP saya terlampir.")
    assert "foto.jpg (jenis berkas tidak diizinkan)" in row["description"]
    with engine.connect() as conn:
        rows = conn.execute(select(attachments).where(attachments.c.submission_id == row["id"])).mappings().all()
    assert [(a["filename"], a["content_type"], a["sha256"]) for a in rows] == [
        ("scan-ktp.png", "image/png", hashlib.sha256(as_stored(scan)).hexdigest())
    ]
    assert intake.documents.get(rows[0]["sha256"]) == as_stored(scan)
    assert outbox_row(engine, row["id"])["payload"]["attachments"][0]["filename"] == "scan-ktp.png"


def test_an_email_whose_only_attachment_is_refused_is_still_a_complaint_with_its_text(client, engine, places):
    r = post_email(
        client,
        email_bytes(
            places["a"].email,
            text="Pelayanan di kantor desa lambat.",
            files=((EXE, "application", "octet-stream", "ktp.jpg"),),
        ),
    )
    assert r.status_code == 200 and r.json()["result"] == "complaint"
    row = submission_of(engine, r.json()["tracking_code"])
    assert (
        row["description"]
        == "Pelayanan di kantor desa lambat.\n\n[Lampiran tidak disimpan: ktp.jpg (jenis berkas tidak diizinkan)]"
    )


def test_the_same_email_twice_is_one_complaint(client, engine, places):
    raw = email_bytes(places["b"].email)
    before = counts(engine)
    first, second = post_email(client, raw), post_email(client, raw)
    assert first.json()["tracking_code"] == second.json()["tracking_code"] and second.json()["duplicate"]
    assert counts(engine)[0] == before[0] + 1


def test_bad_email_requests_are_refused_and_store_nothing(client, engine, places):
    before = counts(engine)
    assert post_email(client, email_bytes(places["a"].email), token="salah").status_code == 401
    wrong_type = client.post(
        "/v1/channels/email",
        content=b"{}",
        headers={"X-Webhook-Token": EMAIL_TOKEN, "Content-Type": "application/json"},
    )
    assert wrong_type.status_code == 415 and wrong_type.json()["code"] == "unsupported_media_type"
    unknown = post_email(client, email_bytes("siapa@tidak-dikenal.example.id"))
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_kecamatan"
    no_sender = post_email(client, b"To: " + places["a"].email.encode() + b"\r\nSubject: x\r\n\r\nisi\r\n")
    assert no_sender.status_code == 422 and no_sender.json()["code"] == "sender_invalid"
    assert counts(engine) == before


def test_an_auto_reply_is_ignored(client, engine, places):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "warga@example.id", places["a"].email, "Out of office"
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content("Saya sedang cuti.")
    before = counts(engine)
    r = post_email(client, msg.as_bytes())
    assert r.status_code == 200 and r.json()["result"] == "ignored"
    assert counts(engine)[0] == before[0]


def test_channel_endpoints_take_large_bodies_and_complaints_keep_64_kib(client, places):
    big_pdf = b"%PDF-1.4\n" + b"0" * (3 * 1024 * 1024)
    r = post_email(client, email_bytes(places["a"].email, files=((big_pdf, "application", "pdf", "lampiran.pdf"),)))
    assert r.status_code == 200, r.text
    assert (
        client.post(
            "/v1/complaints", content=b"x" * (65 * 1024), headers={"Content-Type": "application/json"}
        ).status_code
        == 413
    )


# --- replies to complaints awaiting documents -----------------------------------------------------


def await_documents(engine, tracking_code: str) -> uuid.UUID:
    """What the tracking projection records when step 2 asks the complainant for a document."""
    row = submission_of(engine, tracking_code)
    with engine.begin() as conn:
        conn.execute(
            tracking.insert().values(
                complaint_id=row["complaint_id"],
                tracking_code=tracking_code,
                status="awaiting_documents",
                current_step=2,
                sop_version=sop.DEFAULT.version,
                steps=[],
                updated_at=datetime.now(UTC),
                position=0,
            )
        )
    return row["complaint_id"]


def test_a_message_from_a_complainant_awaiting_documents_joins_their_complaint(client, engine, intake, graph, places):
    sender = mobile()
    first = client.post(
        "/v1/channels/sms",
        headers={"X-Webhook-Token": SMS_TOKEN},
        json={"from": sender, "to": places["a"].sms, "message": "Bantuan sosial tidak sampai", "id": uuid.uuid4().hex},
    )
    complaint_id = await_documents(engine, first.json()["tracking_code"])
    media_id = f"MEDIA{uuid.uuid4().hex[:10]}"
    graph.media[media_id] = scan = tiny_png(99)
    message = {
        "from": sender.removeprefix("+"),
        "id": f"wamid.{uuid.uuid4().hex}",
        "type": "image",
        "image": {"id": media_id, "mime_type": "image/png", "caption": "Ini foto KTP saya"},
    }
    body = wa_body(places["a"], message, wa_id=sender.removeprefix("+"))
    before = counts(engine)
    r = client.post("/v1/channels/whatsapp", content=body, headers=sign(body))
    assert r.status_code == 200
    answer = r.json()["messages"][0]
    assert answer["result"] == "reply" and answer["tracking_code"] == first.json()["tracking_code"]
    after = counts(engine)
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2], after[3] - before[3]) == (0, 1, 1, 1)
    with engine.connect() as conn:
        inbound_row = conn.execute(select(inbound_messages).where(by_hash(intake, message["id"]))).mappings().one()
    assert inbound_row["result"] == "reply" and inbound_row["complaint_id"] == complaint_id
    reply = outbox_row(engine, inbound_row["id"])
    assert (reply["message_type"], reply["task"], reply["queue"]) == (
        "intake.ComplainantReplied",
        "workflow.record_reply",
        "workflow",
    )
    payload = reply["payload"]
    assert payload["complaint_id"] == str(complaint_id) and payload["message_id"] == str(inbound_row["id"])
    assert payload["sender"] == sender and payload["channel"] == "whatsapp" and payload["text"] == "Ini foto KTP saya"
    assert payload["attachments"][0]["sha256"] == hashlib.sha256(as_stored(scan)).hexdigest()
    # the same sender in another kecamatan opens a new complaint there
    other = client.post(
        "/v1/channels/sms",
        headers={"X-Webhook-Token": SMS_TOKEN},
        json={"from": sender, "to": places["b"].sms, "message": "Hal lain di kecamatan lain", "id": uuid.uuid4().hex},
    )
    assert other.json()["result"] == "complaint"


def test_an_email_reply_joins_the_complaint_by_address(client, engine, places):
    address = f"warga.{uuid.uuid4().hex[:8]}@example.id"
    first = post_email(
        client, email_bytes(places["b"].email, sender=f"Warga <{address}>", text="Izin usaha belum keluar")
    )
    complaint_id = await_documents(engine, first.json()["tracking_code"])
    r = post_email(
        client,
        email_bytes(
            places["b"].email,
            sender=address.upper(),
            subject="Re: KK",
            text="Terlampir KK saya",
            files=((tiny_jpeg(), "image", "jpeg", "kk.jpg"),),
            authenticated=True,
        ),
    )
    assert r.json()["result"] == "reply"
    with engine.connect() as conn:
        row = conn.execute(
            select(inbound_messages.c.complaint_id, inbound_messages.c.result).where(
                inbound_messages.c.complaint_id == complaint_id, inbound_messages.c.result == "reply"
            )
        ).one()
    assert row.complaint_id == complaint_id


def test_concurrent_deliveries_of_one_message_make_one_complaint(client, engine, places):
    body = {
        "from": mobile(),
        "to": places["b"].sms,
        "message": "Air PDAM mati tiga hari",
        "id": f"gw-{uuid.uuid4().hex}",
    }
    before = counts(engine)
    with ThreadPoolExecutor(6) as pool:
        answers = list(
            pool.map(
                lambda _: client.post("/v1/channels/sms", headers={"X-Webhook-Token": SMS_TOKEN}, json=body), range(6)
            )
        )
    assert {r.status_code for r in answers} == {200}
    assert len({r.json()["tracking_code"] for r in answers}) == 1
    after = counts(engine)
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (1, 1, 1)


def test_a_tracking_code_collision_rolls_back_and_draws_again(client, engine, intake, places):
    taken = os.urandom(7)  # the first message takes the code these bytes make; the second draws it again
    draws = iter([taken, taken, os.urandom(7)])
    rigged = dataclasses.replace(intake, random_bytes=lambda n: next(draws))
    with TestClient(create_app(rigged)) as c:
        one = c.post(
            "/v1/channels/sms",
            headers={"X-Webhook-Token": SMS_TOKEN},
            json={"from": mobile(), "to": places["a"].sms, "message": "Pesan pertama", "id": uuid.uuid4().hex},
        )
        gateway_id = uuid.uuid4().hex
        two = c.post(
            "/v1/channels/sms",
            headers={"X-Webhook-Token": SMS_TOKEN},
            json={"from": mobile(), "to": places["a"].sms, "message": "Pesan kedua", "id": gateway_id},
        )
    assert one.status_code == 200, one.text
    assert two.status_code == 200 and two.json()["tracking_code"] != one.json()["tracking_code"]
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count())
                .select_from(inbound_messages)
                .where(by_hash(intake, f"{places['a'].sms}:{gateway_id}"))
            ).scalar_one()
            == 1
        )


# --- staff: complaint box and phone ---------------------------------------------------------------


def staff_form(received_at: datetime, channel: str = "kotak", **overrides) -> dict:
    complaint = {
        "channel": channel,
        "complainant": {
            "name": "Ahmad Fauzi",
            "nik": "3528071505900001",
            "phone": "0812-3456-7890",
            "address": "Desa Bulangan",
        },
        "subject": "Saluran air tersumbat",
        "description": "Saluran air di depan pasar tersumbat sejak musim hujan.",
        "received_at": received_at.isoformat(),
        **overrides,
    }
    return {"complaint": json.dumps(complaint)}


def test_a_complaint_box_form_keeps_when_it_was_found_apart_from_when_it_was_typed(
    client, engine, intake, settings, places
):
    found_at = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)
    ktp = tiny_jpeg()
    user = f"staf.{places['a'].slug}"
    r = client.post(
        "/v1/staff/complaints",
        headers=bearer(settings, "staf", places["a"].slug, username=user),
        data=staff_form(found_at, scan_kinds=["ktp", "lainnya"]),
        files=[
            ("scan", ("ktp.jpg", ktp, "image/jpeg")),
            ("scan", ("formulir.pdf", b"%PDF-1.7\n%%EOF\n", "application/pdf")),
        ],
    )
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "received" and r.json()["track_url"].endswith(r.json()["tracking_code"])
    row = submission_of(engine, r.json()["tracking_code"])
    assert row["channel"] == "kotak" and row["kecamatan"] == places["a"].slug
    assert row["received_at"] == found_at and row["entered_by"] == user
    assert abs(row["entered_at"] - datetime.now(UTC)) < timedelta(minutes=1) and row["entered_at"] > row["received_at"]
    payload = outbox_row(engine, row["id"])["payload"]
    assert datetime.fromisoformat(payload["received_at"]) == found_at and payload["entered_by"] == user
    assert datetime.fromisoformat(payload["entered_at"]) == row["entered_at"]
    assert [(a["kind"], a["content_type"]) for a in payload["attachments"]] == [
        ("ktp", "image/jpeg"),
        ("lainnya", "application/pdf"),
    ]
    assert intake.documents.get(hashlib.sha256(as_stored(ktp)).hexdigest()) == as_stored(ktp)


def test_a_phone_call_without_scans_is_accepted(client, engine, settings, places):
    r = client.post(
        "/v1/staff/complaints",
        headers=bearer(settings, "kasi", places["b"].slug),
        data=staff_form(datetime.now(UTC) - timedelta(hours=1), channel="telepon"),
    )
    assert r.status_code == 202, r.text
    assert submission_of(engine, r.json()["tracking_code"])["channel"] == "telepon"


def test_an_exe_renamed_jpg_is_refused_by_the_staff_endpoint_and_nothing_is_stored(client, engine, settings, places):
    before = counts(engine)
    r = client.post(
        "/v1/staff/complaints",
        headers=bearer(settings, "staf", places["a"].slug),
        data=staff_form(datetime.now(UTC) - timedelta(days=1)),
        files=[("scan", ("ktp.jpg", tiny_jpeg(), "image/jpeg")), ("scan", ("ktp2.jpg", EXE, "image/jpeg"))],
    )
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "attachment_type_not_allowed" and "bukan jenis berkas yang diizinkan" in body["message"]
    assert body["errors"] == [{"field": "scan.1", "code": "attachment_type_not_allowed", "message": body["message"]}]
    assert counts(engine) == before


@pytest.mark.parametrize(
    "case, status, code, field",
    [
        ("future", 422, "validation_error", "complaint.received_at"),
        ("old", 422, "validation_error", "complaint.received_at"),
        ("web", 422, "validation_error", "complaint.channel"),
        ("no-nik", 422, "validation_error", "complaint.complainant.nik"),
        ("bad-json", 400, "malformed_json", None),
        ("other-kecamatan", 403, "other_kecamatan", None),
        ("six-files", 422, "too_many_attachments", "scan"),
        ("empty-file", 422, "attachment_empty", "scan.0"),
        ("no-complaint", 422, "validation_error", "complaint"),
        ("json-body", 415, "unsupported_media_type", None),
    ],
)
def test_bad_staff_input_is_a_clear_4xx_and_stores_nothing(client, engine, settings, places, case, status, code, field):
    now = datetime.now(UTC)
    headers = bearer(settings, "staf", places["a"].slug)
    data, files = staff_form(now - timedelta(days=1)), None
    if case == "future":
        data = staff_form(now + timedelta(hours=2))
    elif case == "old":
        data = staff_form(now - timedelta(days=31))
    elif case == "web":
        data = staff_form(now, channel="web")
    elif case == "no-nik":
        complaint = json.loads(data["complaint"])
        complaint["complainant"].pop("nik")
        data = {"complaint": json.dumps(complaint)}
    elif case == "bad-json":
        data = {"complaint": '{"channel": "kotak",'}
    elif case == "other-kecamatan":
        data = staff_form(now, kecamatan=places["b"].slug)
    elif case == "six-files":
        files = [("scan", (f"f{i}.png", tiny_png(i), "image/png")) for i in range(6)]
    elif case == "empty-file":
        files = [("scan", ("kosong.png", b"", "image/png"))]
    elif case == "no-complaint":
        data, files = {}, [("scan", ("ktp.png", tiny_png(), "image/png"))]
    before = counts(engine)
    if case == "json-body":
        r = client.post("/v1/staff/complaints", headers=headers, json={"channel": "kotak"})
    else:
        r = client.post("/v1/staff/complaints", headers=headers, data=data, files=files)
    assert r.status_code == status, r.text
    assert r.json()["code"] == code
    if field:
        assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert counts(engine) == before


def test_a_staff_entry_sent_twice_with_one_idempotency_key_is_stored_once(client, engine, settings, places):
    headers = {**bearer(settings, "staf", places["a"].slug), "Idempotency-Key": str(uuid.uuid4())}
    form = staff_form((datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0))
    scan = [("scan", ("ktp.png", tiny_png(31337), "image/png"))]
    before = counts(engine)
    first = client.post("/v1/staff/complaints", headers=headers, data=form, files=scan)
    second = client.post("/v1/staff/complaints", headers=headers, data=form, files=scan)
    assert first.status_code == second.status_code == 202
    assert first.json()["tracking_code"] == second.json()["tracking_code"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert counts(engine)[0] == before[0] + 1 and counts(engine)[3] == before[3] + 1
    other = client.post("/v1/staff/complaints", headers=headers, data=staff_form(datetime.now(UTC), channel="telepon"))
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"


def test_the_staff_endpoint_needs_a_kecamatan_staff_member(client, settings, places):
    form = staff_form(datetime.now(UTC))
    r = client.post("/v1/staff/complaints", data=form)
    assert (
        r.status_code == 401 and r.json()["code"] == "not_authenticated" and r.headers["www-authenticate"] == "Bearer"
    )
    assert client.post("/v1/staff/complaints", data=form, headers={"Authorization": "Bearer palsu"}).status_code == 401
    kabupaten = client.post(
        "/v1/staff/complaints", data=form, headers=bearer(settings, "kabupaten", kabupaten="pamekasan")
    )
    assert kabupaten.status_code == 403 and kabupaten.json()["code"] == "not_kecamatan_staff"


# --- downloading attachments ----------------------------------------------------------------------


def test_only_staff_of_the_kecamatan_may_download_an_attachment(client, engine, settings, places):
    scan = tiny_png(4242)
    r = client.post(
        "/v1/staff/complaints",
        headers=bearer(settings, "staf", places["a"].slug),
        data=staff_form(datetime.now(UTC) - timedelta(hours=5)),
        files=[("scan", ("ktp budi.png", scan, "image/png"))],
    )
    complaint_id = submission_of(engine, r.json()["tracking_code"])["complaint_id"]
    digest = hashlib.sha256(as_stored(scan)).hexdigest()
    url = f"/v1/attachments/{digest}"

    ok = client.get(url, params={"complaint_id": str(complaint_id)}, headers=bearer(settings, "kasi", places["a"].slug))
    assert ok.status_code == 200 and ok.content == as_stored(scan)
    assert ok.headers["content-type"] == "image/png" and ok.headers["x-content-type-options"] == "nosniff"
    assert ok.headers["content-disposition"] == "attachment; filename*=UTF-8''ktp%20budi.png"
    assert (
        client.get(url, headers=bearer(settings, "camat", places["a"].slug)).status_code == 200
    )  # without complaint_id
    for masked in (bearer(settings, "kabupaten", kabupaten="pamekasan"), bearer(settings, "admin")):  # shared.masking
        refused = client.get(url, headers=masked)
        assert refused.status_code == 403 and refused.json()["code"] == "personal_data_not_available"

    for headers in (
        bearer(settings, "staf", places["b"].slug),
        bearer(settings, "staf", places["c"].slug),
        bearer(settings, "kabupaten", kabupaten="kabupaten-lain"),
    ):
        denied = client.get(url, params={"complaint_id": str(complaint_id)}, headers=headers)
        assert denied.status_code == 404 and denied.json()["code"] == "attachment_not_found"
    other_complaint = client.get(
        url, params={"complaint_id": str(uuid.uuid4())}, headers=bearer(settings, "staf", places["a"].slug)
    )
    assert other_complaint.status_code == 404
    assert (
        client.get(f"/v1/attachments/{'0' * 64}", headers=bearer(settings, "staf", places["a"].slug)).status_code == 404
    )
    assert (
        client.get("/v1/attachments/../../etc/passwd", headers=bearer(settings, "staf", places["a"].slug)).status_code
        == 404
    )
    anonymous = client.get(url)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"


def test_an_attachment_that_came_with_a_reply_is_downloadable_for_that_complaint(client, engine, settings, places):
    address = f"warga.{uuid.uuid4().hex[:8]}@example.id"
    first = post_email(client, email_bytes(places["a"].email, sender=address, text="Akta kelahiran anak belum jadi"))
    complaint_id = await_documents(engine, first.json()["tracking_code"])
    kk = tiny_png(777)
    post_email(
        client,
        email_bytes(
            places["a"].email,
            sender=address,
            text="KK terlampir",
            files=((kk, "image", "png", "kk.png"),),
            authenticated=True,
        ),
    )
    r = client.get(
        f"/v1/attachments/{hashlib.sha256(as_stored(kk)).hexdigest()}",
        params={"complaint_id": str(complaint_id)},
        headers=bearer(settings, "staf", places["a"].slug),
    )
    assert r.status_code == 200 and r.content == as_stored(kk)


# --- the IMAP poller, with a mailbox of our own ---------------------------------------------------


class MemoryMailbox:
    """The poller's view of a mailbox (``imap_poller.Mailbox``), held in memory."""

    def __init__(self, messages: dict[str, bytes]) -> None:
        self.messages = messages
        self.seen: set[str] = set()

    def unseen(self) -> list[str]:
        return [uid for uid in self.messages if uid not in self.seen]

    def raw(self, uid: str) -> bytes | None:
        return self.messages.get(uid)

    def mark_seen(self, uid: str) -> None:
        self.seen.add(uid)


def test_the_imap_poller_hands_unseen_mail_to_the_email_handler_and_marks_it_seen(engine, intake, places):
    good = email_bytes(places["b"].email, text="Pengaduan lewat kotak surat elektronik")
    nobody = email_bytes("siapa@tidak-dikenal.example.id")
    box = MemoryMailbox({"1": good, "2": nobody})
    before = counts(engine)
    assert poll_once(intake, box) == 2
    assert box.seen == {"1", "2"}  # the unroutable one too: polling it again would not change the answer
    assert counts(engine)[0] == before[0] + 1
    box.seen.clear()
    poll_once(intake, box)  # read again (as after a crash before \Seen was stored): nothing new
    assert counts(engine)[0] == before[0] + 1


def test_the_imap_poller_retries_while_the_server_is_away_and_stops_when_asked(intake):
    import socket

    from services.intake.entrypoints.imap_poller import run_imap_poller

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = intake.settings.model_copy(
        update={
            "imap_host": "127.0.0.1",
            "imap_port": port,
            "imap_username": "pengaduan",
            "imap_password": SecretStr("x"),
            "imap_ssl": False,
            "imap_poll_seconds": 0.05,
        }
    )
    stop = threading.Event()
    poller = threading.Thread(target=run_imap_poller, args=(settings, stop, intake), daemon=True)
    poller.start()
    poller.join(timeout=0.5)
    assert poller.is_alive()  # connection refused is a transient failure: it keeps trying
    stop.set()
    poller.join(timeout=5)
    assert not poller.is_alive()
    with pytest.raises(SystemExit):
        run_imap_poller(intake.settings.model_copy(update={"imap_host": None}), stop, intake)


def test_two_sms_gateways_with_the_same_message_id_are_two_complaints(client, places):
    """Gateways number messages per device: the same id written to two numbers is two messages."""
    same = "123"
    one = client.post(
        "/v1/channels/sms",
        headers={"X-Webhook-Token": SMS_TOKEN},
        json={"from": mobile(), "to": places["a"].sms, "message": "Lampu jalan mati", "id": same},
    )
    two = client.post(
        "/v1/channels/sms",
        headers={"X-Webhook-Token": SMS_TOKEN},
        json={"from": mobile(), "to": places["b"].sms, "message": "Jalan berlubang", "id": same},
    )
    assert one.status_code == two.status_code == 200
    assert not two.json()["duplicate"] and two.json()["tracking_code"] != one.json()["tracking_code"]


def test_an_email_with_a_huge_message_id_is_accepted_once_not_a_500(client, places):
    """Message-IDs are the sender's: one of 4,000 bytes is kept as its digest (an index entry is small)."""
    long_id = "<" + "\U0001f600" * 900 + "@example.id>"  # 3,600 bytes of UTF-8, as a raw header
    raw = email_bytes(places["a"].email, message_id="<placeholder@example.id>").replace(
        b"<placeholder@example.id>", long_id.encode()
    )
    first = post_email(client, raw)
    assert first.status_code == 200, first.text
    again = post_email(client, raw)
    assert (
        again.status_code == 200
        and again.json()["duplicate"]
        and again.json()["tracking_code"] == first.json()["tracking_code"]
    )
