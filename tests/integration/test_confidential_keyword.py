"""Pelapor rahasia on the message channels (issue #17 item 5): an SMS, a WhatsApp message or an e-mail whose text (or,
for an e-mail, whose Subject) begins with the word RAHASIA asks that the complainant's identity be kept confidential,
as the web form's checkbox does. The complaint intake publishes (intake.ComplaintReceived) carries
``complainant.confidential`` and no longer the word; the word anywhere but first, or in a reply to a documents
request, changes nothing; a Staf reading the complaint does not see who sent it; the acknowledgment says so; the
privacy notice and the channels' OpenAPI say how to ask.

Intake's real webhooks take the messages (routed to Pegantenan as the default kecamatan), the workflow records them
from intake's outbox as its worker would, notify plans the acknowledgment, over the shared PostgreSQL (the helpers
of tests/integration/test_confidential.py). The rule itself: tests/unit/test_confidential_keyword_rule.py."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import random
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from services.intake.adapters.tables import outbox
from services.intake.entrypoints.api import create_app as intake_app
from services.notify.adapters.tables import deliveries
from services.notify.handlers.planning import plan_event
from services.workflow import handlers
from services.workflow.entrypoints.api import create_app as workflow_app
from shared.contracts.intake import ComplainantReplied, ComplaintSubmitted
from shared.contracts.workflow import ComplaintReceived
from shared.masking import CONFIDENTIAL_NAME
from tests.integration.test_confidential import act, user
from tests.integration.test_privacy_erasure import catch_up, published, submitted, world  # noqa: F401
from tests.support.auth import bearer_header
from tests.support.web import web_client
from tests.web.test_web_public import words_of

SMS_TOKEN, EMAIL_TOKEN, APP_SECRET = "rahasia-sms-kata", "rahasia-email-kata", "app-secret-kata"
NAME = "Nurul Hidayati Ramadhani"
ABOUT = "Pungutan liar di kantor desa"
DETAILS = "Setiap surat pengantar dipungut Rp50.000 tanpa kuitansi."


@pytest.fixture(scope="module")
def channels(world):
    """Intake's API with its channels' secrets, every message routed to Pegantenan (no kecamatan claims the
    numbers and addresses written to here)."""
    intake = world["intake"]
    settings = intake.settings.model_copy(
        update={
            "sms_webhook_token": SecretStr(SMS_TOKEN),
            "email_webhook_token": SecretStr(EMAIL_TOKEN),
            "whatsapp_app_secret": SecretStr(APP_SECRET),
            "default_kecamatan": "pegantenan",
        }
    )
    with TestClient(intake_app(dataclasses.replace(intake, settings=settings))) as client:
        yield client


def mobile() -> str:
    return f"+62813{random.randint(10_000_000, 99_999_999)}"


def send(client: TestClient, channel: str, text: str, *, subject: str = ABOUT, sender: str | None = None) -> dict:
    """One message on ``channel`` (``subject`` only for an e-mail); intake's answer for it."""
    if channel == "sms":
        r = client.post(
            "/v1/channels/sms",
            headers={"X-Webhook-Token": SMS_TOKEN},
            json={"from": sender or mobile(), "to": mobile(), "message": text, "id": uuid.uuid4().hex},
        )
        assert r.status_code == 200, r.text
        return r.json()
    if channel == "whatsapp":
        wa_id = (sender or mobile()).removeprefix("+")
        value = {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": "6281100000009",
                "phone_number_id": str(random.randint(10**14, 10**15)),
            },
            "contacts": [{"profile": {"name": NAME}, "wa_id": wa_id}],
            "messages": [
                {
                    "from": wa_id,
                    "id": f"wamid.{uuid.uuid4().hex}",
                    "timestamp": str(int(datetime.now(UTC).timestamp())),
                    "type": "text",
                    "text": {"body": text},
                }
            ],
        }
        body = json.dumps(
            {"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [{"value": value}]}]}
        )
        signature = "sha256=" + hmac.new(APP_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
        r = client.post(
            "/v1/channels/whatsapp",
            content=body,
            headers={"X-Hub-Signature-256": signature, "Content-Type": "application/json"},
        )
        assert r.status_code == 200, r.text
        [answer] = r.json()["messages"]
        return answer
    mail = EmailMessage()
    mail["From"] = sender or f"{NAME} <nurul.{uuid.uuid4().hex[:8]}@contoh.id>"
    mail["To"], mail["Subject"] = f"pengaduan-{uuid.uuid4().hex[:8]}@uji.example.id", subject
    mail["Message-ID"] = f"<{uuid.uuid4().hex}@contoh.id>"
    mail.set_content(text)
    r = client.post(
        "/v1/channels/email",
        content=mail.as_bytes(),
        headers={"X-Webhook-Token": EMAIL_TOKEN, "Content-Type": "message/rfc822"},
    )
    assert r.status_code == 200, r.text
    return r.json()


def complaint(world, answer: dict) -> ComplaintSubmitted:
    """The complaint intake published for a message (its outbox's intake.ComplaintReceived)."""
    assert answer["result"] == "complaint", answer
    return submitted(world["wf"].engine, answer["tracking_code"])


def recorded(world, message: ComplaintSubmitted) -> ComplaintReceived:
    """The complaint recorded by the workflow, as its worker records intake's message; its ComplaintReceived."""
    wf = world["wf"]
    handlers.record_complaint(wf, message)
    published(wf.engine, message.tracking_code)
    first = wf.store.read_stream(f"complaint-{message.complaint_id}")[0].decode()
    assert isinstance(first, ComplaintReceived)
    return first


@pytest.mark.parametrize(
    "channel, text, subject",
    [
        ("sms", f"RAHASIA {ABOUT}\n{DETAILS}", ABOUT),
        ("sms", f"rahasia: {ABOUT}\n{DETAILS}", ABOUT),
        ("whatsapp", f"#Rahasia\n{ABOUT}\n{DETAILS}", ABOUT),
        ("email", f"{ABOUT}\n{DETAILS}", f"RAHASIA {ABOUT}"),  # by the Subject
        ("email", f"RAHASIA:\n{ABOUT}\n{DETAILS}", ABOUT),  # by the body's first word
    ],
)
def test_a_message_beginning_with_rahasia_makes_a_confidential_complaint_without_the_word(
    world, channels, channel, text, subject
):
    message = complaint(world, send(channels, channel, text, subject=subject))
    assert message.complainant.confidential is True and message.channel == channel
    assert message.subject == ABOUT and message.description == f"{ABOUT}\n{DETAILS}"
    assert recorded(world, message).complainant.confidential is True  # the workflow's event carries it on


@pytest.mark.parametrize("channel", ["sms", "whatsapp", "email"])
def test_without_the_word_first_the_complaint_is_not_confidential_and_keeps_its_text(world, channels, channel):
    for text in (
        f"{ABOUT}\n{DETAILS}",
        f"Mohon RAHASIAKAN nama saya. {ABOUT}",  # the word inside a longer one, and not first
        f"{ABOUT}, mohon nama saya dirahasiakan. rahasia",
        f"RAHASIAKAN nama saya. {ABOUT}",  # a longer word first
    ):
        message = complaint(world, send(channels, channel, text, subject=f"Re: {ABOUT} (rahasia)"))
        assert message.complainant.confidential is False, text
        assert message.description == text
        assert recorded(world, message).complainant.confidential is False


def test_a_staf_reading_a_complaint_that_asked_by_whatsapp_does_not_see_who_sent_it(settings, world, channels):
    secret_phone, plain_phone = mobile(), mobile()
    secret = complaint(world, send(channels, "whatsapp", f"RAHASIA {ABOUT}\n{DETAILS}", sender=secret_phone))
    plain = complaint(world, send(channels, "whatsapp", f"{ABOUT}\n{DETAILS}", sender=plain_phone))
    for message in (secret, plain):
        recorded(world, message)
    with TestClient(workflow_app(world["wf"])) as api:

        def read(message: ComplaintSubmitted, role: str) -> dict:
            answer = api.get(f"/v1/complaints/{message.complaint_id}", headers=bearer_header(settings, user(role)))
            assert answer.status_code == 200, answer.text
            return answer.json()

        by_staf = read(secret, "staf")
        assert by_staf["confidential"] is True and by_staf["complainant"]["name"] == CONFIDENTIAL_NAME
        seen = json.dumps(by_staf)
        assert NAME not in seen and "Nurul" not in seen and secret_phone[3:] not in seen, seen
        assert by_staf["description"] == f"{ABOUT}\n{DETAILS}"  # what it is about stays readable
        by_kasi = read(secret, "kasi")  # the officer who verifies identity sees them
        assert by_kasi["complainant"]["name"] == NAME and by_kasi["complainant"]["phone"] == secret_phone
        other = read(plain, "staf")  # one that did not ask: read as before
        assert other["confidential"] is False and other["complainant"]["name"] == NAME


def test_in_a_reply_to_a_documents_request_the_word_does_nothing(settings, world, channels):
    """A reply joins a complaint that already exists: it is not a new complaint, the word is only its text, and the
    complaint stays as its complainant sent it."""
    wf, phone = world["wf"], mobile()
    message = complaint(world, send(channels, "whatsapp", f"{ABOUT}\n{DETAILS}", sender=phone))
    recorded(world, message)
    cid = message.complaint_id
    act(wf, cid, "request-documents", "kasi", {"message": "Mohon kirim foto KTP."})
    catch_up(world)  # intake's tracking projection: the complaint awaits documents
    answer = send(channels, "whatsapp", "RAHASIA Ini foto KTP saya", sender=phone)
    assert answer["result"] == "reply" and answer["tracking_code"] == message.tracking_code
    with wf.engine.connect() as conn:
        payload = conn.execute(
            select(outbox.c.payload).where(
                outbox.c.message_type == ComplainantReplied.type,
                outbox.c.payload["complaint_id"].astext == str(cid),
            )
        ).scalar_one()
    reply = ComplainantReplied.model_validate(payload)
    assert reply.text == "RAHASIA Ini foto KTP saya"
    assert handlers.record_reply(wf, reply)
    with TestClient(workflow_app(wf)) as api:
        shown = api.get(f"/v1/complaints/{cid}", headers=bearer_header(settings, user("staf"))).json()
    assert shown["confidential"] is False and shown["complainant"]["name"] == NAME


def acknowledgment(world, received_event_id) -> dict:
    """The acknowledgment notify plans for the complaint's ComplaintReceived (by SMS here: no WhatsApp)."""
    notify = world["notify"]
    plan_event(notify, received_event_id, send_now=False)
    with notify.engine.connect() as conn:
        rows = (
            conn.execute(
                select(deliveries).where(
                    deliveries.c.source_event_id == received_event_id, deliveries.c.audience == "complainant"
                )
            )
            .mappings()
            .all()
        )
    [row] = rows
    return dict(row)


def test_the_acknowledgment_of_a_complaint_that_asked_is_planned_and_of_one_that_did_not_reads_as_before(
    world, channels
):
    for text, confidential in ((f"RAHASIA {ABOUT}", True), (ABOUT, False)):
        message = complaint(world, send(channels, "whatsapp", text))
        recorded(world, message)
        event_id = world["wf"].store.read_stream(f"complaint-{message.complaint_id}")[0].event_id
        row = acknowledgment(world, event_id)
        assert row["kind"] == "acknowledgment" and row["channel"] == "sms" and row["state"] == "pending"
        assert message.tracking_code in row["body"] and len(row["body"]) <= 160
        if not confidential:
            assert "rahasia" not in row["body"].lower()


def test_the_acknowledgment_tells_the_complainant_their_identity_is_kept_confidential(world, channels):
    message = complaint(world, send(channels, "whatsapp", f"RAHASIA {ABOUT}"))
    recorded(world, message)
    event_id = world["wf"].store.read_stream(f"complaint-{message.complaint_id}")[0].event_id
    assert "identitas dirahasiakan" in acknowledgment(world, event_id)["body"]


def test_the_privacy_notice_and_the_channels_api_say_how_to_ask(settings, channels):
    with web_client(settings) as web:
        page = web.get("/privasi")
    assert page.status_code == 200
    assert (
        "Lewat SMS, WhatsApp, atau e-mail, awali pesan (atau subjek e-mail) dengan kata RAHASIA, misalnya: RAHASIA "
        "Jalan di depan balai desa rusak." in words_of(page.text)
    )
    spec = channels.get("/openapi.json").json()
    for path in ("/v1/channels/sms", "/v1/channels/whatsapp", "/v1/channels/email"):
        assert "`RAHASIA`" in spec["paths"][path]["post"]["description"], path
