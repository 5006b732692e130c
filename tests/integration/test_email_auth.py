"""An e-mail joins a complaint awaiting its sender's documents only when the receiving mail server vouched for
its ``From:`` (issue #12, item 10): an ``Authentication-Results`` header of a configured authserv-id with
DMARC pass (or aligned DKIM pass). Otherwise it becomes a new complaint, noted for staff, and the awaiting
complaint gets nothing. Over the intake API (``POST /v1/channels/email``) and the IMAP poller, on a real
database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from services.intake.adapters.tables import inbound_messages, outbox, submissions, tracking
from services.intake.bootstrap import bootstrap
from services.intake.config import IntakeSettings
from services.intake.entrypoints.api import create_app
from services.intake.entrypoints.imap_poller import poll_once
from shared.contracts import sop
from shared.tenancy import Kecamatan, configure_kecamatan, upsert_kecamatan
from tests.unit.test_attachments import tiny_png

TOKEN = "rahasia-email-keaslian"
OURS = "mx.kecamatan.example.id"


@pytest.fixture(scope="module")
def mailbox(engine) -> str:
    suffix = uuid.uuid4().hex[:6]
    slug = f"surel-{suffix}"
    upsert_kecamatan(engine, [Kecamatan(slug, f"97.{suffix}", "Surel", "pamekasan", "Kabupaten Pamekasan", {})])
    address = f"pengaduan-{suffix}@kecamatan.example.id"
    configure_kecamatan(engine, slug, {"channels": {"emails": [address]}})
    return address


@pytest.fixture(scope="module")
def intake(settings, engine, tmp_path_factory):
    container = bootstrap(
        IntakeSettings(**settings.model_dump()).model_copy(
            update={
                "data_dir": str(tmp_path_factory.mktemp("email-auth")),
                "email_webhook_token": SecretStr(TOKEN),
                "email_authserv_ids": f"{OURS}, mx2.kecamatan.example.id",
            }
        )
    )
    yield container
    container.engine.dispose()


@pytest.fixture(scope="module")
def client(intake):
    with TestClient(create_app(intake)) as c:
        yield c


def mail(to: str, sender: str, *results: str, text: str = "KK saya terlampir.") -> bytes:
    msg = EmailMessage()
    for r in results:  # top of the message first, as servers prepend them
        msg["Authentication-Results"] = r
    msg["From"], msg["To"], msg["Subject"] = sender, to, "Re: kelengkapan dokumen"
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@warga.example.id>"
    msg.set_content(text)
    msg.add_attachment(tiny_png(uuid.uuid4().int % 60000), maintype="image", subtype="png", filename="kk.png")
    return msg.as_bytes()


def post(client, raw: bytes) -> dict:
    r = client.post(
        "/v1/channels/email", content=raw, headers={"X-Webhook-Token": TOKEN, "Content-Type": "message/rfc822"}
    )
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def awaiting(client, engine, mailbox) -> dict:
    """A citizen's e-mailed complaint, now waiting for their documents (step 2 paused)."""
    address = f"siti.{uuid.uuid4().hex[:8]}@warga.example.id"
    first = post(client, mail(mailbox, f"Siti <{address}>", text="Akta kelahiran anak saya belum jadi."))
    with engine.begin() as conn:
        complaint_id = conn.execute(
            select(submissions.c.complaint_id).where(submissions.c.tracking_code == first["tracking_code"])
        ).scalar_one()
        conn.execute(
            tracking.insert().values(
                complaint_id=complaint_id,
                tracking_code=first["tracking_code"],
                status="awaiting_documents",
                current_step=2,
                sop_version=sop.DEFAULT.version,
                steps=[],
                updated_at=datetime.now(UTC),
                position=0,
            )
        )
    return {"address": address, "tracking_code": first["tracking_code"], "complaint_id": complaint_id}


def replies_to(engine, complaint_id) -> int:
    with engine.connect() as conn:
        return len(
            conn.execute(
                select(outbox.c.id).where(
                    outbox.c.message_type == "intake.ComplainantReplied",
                    outbox.c.payload["complaint_id"].astext == str(complaint_id),
                )
            ).all()
        )


def description_of(engine, tracking_code: str) -> str:
    with engine.connect() as conn:
        return conn.execute(
            select(submissions.c.description).where(submissions.c.tracking_code == tracking_code)
        ).scalar_one()


def assert_not_joined(engine, awaiting, answer) -> None:
    assert answer["result"] == "complaint" and answer["tracking_code"] != awaiting["tracking_code"]
    assert replies_to(engine, awaiting["complaint_id"]) == 0  # nothing added to Siti's complaint
    assert "keaslian alamat pengirim tidak terbukti" in description_of(engine, answer["tracking_code"])


def test_a_forged_from_without_authentication_does_not_join(client, engine, mailbox, awaiting):
    answer = post(client, mail(mailbox, awaiting["address"]))
    assert_not_joined(engine, awaiting, answer)


def test_a_pass_from_a_configured_mail_server_joins(client, engine, mailbox, awaiting):
    results = f"{OURS}; spf=pass smtp.mailfrom={awaiting['address']}; dkim=pass header.d=warga.example.id; dmarc=pass header.from=warga.example.id"
    answer = post(client, mail(mailbox, awaiting["address"], results))
    assert answer["result"] == "reply" and answer["tracking_code"] == awaiting["tracking_code"]
    assert replies_to(engine, awaiting["complaint_id"]) == 1


def test_an_aligned_dkim_pass_joins_without_a_dmarc_result(client, engine, mailbox, awaiting):
    answer = post(
        client, mail(mailbox, awaiting["address"], "mx2.kecamatan.example.id; dkim=pass header.i=@warga.example.id")
    )
    assert answer["result"] == "reply"


@pytest.mark.parametrize(
    "results",
    [
        ("mx.penipu.example.com; dmarc=pass header.from=warga.example.id",),  # another server's (anyone's) word
        (
            f"{OURS}; dmarc=fail header.from=warga.example.id",
            f"{OURS}; dmarc=pass header.from=warga.example.id",
        ),  # forged below ours
        (f"{OURS}; dkim=pass header.d=penipu.example.com",),  # signed by a domain that is not From's
    ],
    ids=["other-authserv-id", "forged-below-ours", "unaligned-dkim"],
)
def test_a_pass_that_is_not_our_servers_word_for_this_from_does_not_join(client, engine, mailbox, awaiting, results):
    answer = post(client, mail(mailbox, awaiting["address"], *results))
    assert_not_joined(engine, awaiting, answer)


@pytest.mark.parametrize(
    "result",
    [f"{OURS}; dmarc=pass", f"{OURS}; dmarc=pass header.from=penipu.example.com"],
    ids=["no-header.from", "judged-penipu"],
)
def test_a_from_the_mail_server_read_as_another_address_does_not_join(client, engine, mailbox, awaiting, result):
    """``From: siti@warga <penyerang@penipu>``: the mail server's DMARC judged penipu (which passes: it is the
    attacker's own domain), Python reads Siti's address. It must not join Siti's complaint."""
    placeholder = "placeholder@penipu.example.com"
    raw = mail(mailbox, placeholder, result).replace(
        f"From: {placeholder}".encode(), f"From: {awaiting['address']} <penyerang@penipu.example.com>".encode()
    )
    assert_not_joined(engine, awaiting, post(client, raw))


class Box:
    def __init__(self, messages: dict[str, bytes]) -> None:
        self.messages, self.seen = messages, set()

    def unseen(self) -> list[str]:
        return [uid for uid in self.messages if uid not in self.seen]

    def raw(self, uid: str) -> bytes | None:
        return self.messages.get(uid)

    def mark_seen(self, uid: str) -> None:
        self.seen.add(uid)


def test_the_imap_poller_applies_the_same_rule(intake, engine, mailbox, awaiting):
    forged = mail(mailbox, awaiting["address"])
    genuine = mail(mailbox, awaiting["address"], f"{OURS}; dmarc=pass header.from=warga.example.id")
    assert poll_once(intake, Box({"1": forged, "2": genuine})) == 2
    with engine.connect() as conn:
        results = (
            conn.execute(
                select(inbound_messages.c.result)
                .where(inbound_messages.c.sender == awaiting["address"])
                .order_by(inbound_messages.c.received_at)
            )
            .scalars()
            .all()
        )
    assert results == ["complaint", "complaint", "reply"]  # the first complaint, the forged one, the genuine reply
    assert replies_to(engine, awaiting["complaint_id"]) == 1
