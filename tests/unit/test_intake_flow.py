"""Intake's flows, handler by handler, on the in-memory unit of work: what the public API, the staff's entry and the
channels' webhooks do, in milliseconds (the same handlers on PostgreSQL: tests/integration/test_intake_api.py,
test_intake_form.py, test_intake_channels.py, test_intake_retry.py; the fake is held to the real one by
tests/contracts/intake_uow.py). The files' bytes go to a local document store in the test's folder."""

from __future__ import annotations

import itertools
import os
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from services.intake.adapters.memory import IntakeMemory, TrackingRow
from services.intake.config import IntakeSettings
from services.intake.domain import inbound as parse
from services.intake.domain.attachments import screen
from services.intake.domain.commands import SubmitComplaint
from services.intake.handlers import channels, statuses, submissions, tracking
from services.intake.handlers.attachments import find_attachment
from services.intake.handlers.context import Context
from services.intake.handlers.health import outbox_health
from services.intake.handlers.inbound import UNVERIFIED_NOTE
from shared.contracts.intake import Complainant, ComplainantReplied, ComplaintSubmitted
from shared.contracts.routing import DELIVERY_STATUS_TASK
from shared.privacy import provider_id_hashes
from shared.storage import LocalDocumentStore
from shared.tenancy import Kecamatan, UnknownKecamatan
from tests.unit.test_attachments import tiny_png

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 09:00 WIB
NUMBER = "+6281100001111"  # the number Pegantenan's SMS gateway receives on
MAILBOX = "pengaduan@pegantenan.example.id"
MAIL_SERVER = "mx.pegantenan.example.id"
PLACE = Kecamatan(
    "pegantenan",
    "35.28.01",
    "Pegantenan",
    "pamekasan",
    "Kabupaten Pamekasan",
    settings={"channels": {"sms_numbers": [NUMBER], "emails": [MAILBOX]}},
)


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> IntakeSettings:
    return IntakeSettings(
        data_dir=str(tmp_path_factory.mktemp("intake")),
        email_authserv_ids=MAIL_SERVER,
        intake_write_retry_seconds=0,
    )


class Intake:
    """Intake's handlers on one in-memory database: a request or a message, a look at what was kept."""

    def __init__(self, settings: IntakeSettings, documents: LocalDocumentStore) -> None:
        self.memory = IntakeMemory([PLACE], clock=lambda: NOW)
        self.ctx = Context(settings, self.memory.uow, {PLACE.slug: PLACE}, documents, clock=lambda: NOW)

    def command(self, key: str | None = None, **fields) -> SubmitComplaint:
        values = {
            "kecamatan": "pegantenan",
            "channel": "web",
            "complainant": Complainant(name="Siti Aminah", phone="+6281234567890"),
            "subject": "Jalan desa rusak",
            "description": "Jalan di Dusun Bunangka rusak sejak Januari.",
            "idempotency_key": key,
            "correlation_id": uuid.uuid4(),
            **fields,
        }
        return SubmitComplaint(**values)

    def sms(self, text: str, sender: str = "081234567890", gateway_id: str | None = None):
        return channels.receive_sms(
            self.ctx,
            sender=sender,
            to=NUMBER,
            text=text,
            provider_message_id=gateway_id or uuid.uuid4().hex,
            provider_time=None,
        )

    def email(self, text: str, sender: str = "budi@example.id", authenticated: bool = True, files=()):
        msg = EmailMessage()
        if authenticated:  # as the receiving mail server writes it when the sender's domain passed DMARC
            domain = sender.rpartition("@")[2]
            msg["Authentication-Results"] = (
                f"{MAIL_SERVER}; dkim=pass header.d={domain}; dmarc=pass header.from={domain}"
            )
        msg["From"], msg["To"], msg["Subject"] = f"Budi Santoso <{sender}>", MAILBOX, "Pengurusan KTP tertunda"
        msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.id>"
        msg.set_content(text)
        for data, name in files:
            msg.add_attachment(data, maintype="image", subtype="png", filename=name)
        return channels.receive_email(self.ctx, msg.as_bytes())

    def awaits_documents(self, tracking_code: str) -> None:
        """The workflow asked for documents: the tracking projection says so."""
        [s] = [s for s in self.memory.submissions.values() if s.tracking_code == tracking_code]
        self.memory.project(TrackingRow(s.complaint_id, tracking_code, "awaiting_documents", current_step=2))

    def messages(self, kind) -> list:
        return [kind.model_validate(r.payload) for r in self.memory.outbox if r.message_type == kind.type]


@pytest.fixture
def intake(settings, tmp_path) -> Intake:
    return Intake(settings, LocalDocumentStore(tmp_path / "documents"))


# -- submitted complaints --------------------------------------------------------------------------------------


def test_a_submission_is_accepted_once_with_its_message_to_the_workflow(intake):
    accepted = submissions.submit_complaint(intake.ctx, intake.command())
    assert (accepted.received_at, accepted.replayed) == (NOW, False)
    [stored] = intake.memory.submissions.values()
    [message] = intake.messages(ComplaintSubmitted)
    assert (stored.tracking_code, stored.channel, stored.kecamatan) == (accepted.tracking_code, "web", "pegantenan")
    assert (message.submission_id, message.complaint_id) == (stored.id, stored.complaint_id)
    assert (message.tracking_code, message.subject) == (accepted.tracking_code, "Jalan desa rusak")


def test_the_same_idempotency_key_replayed_gets_the_first_answer(intake):
    command = intake.command(key="kunci-1")
    first = submissions.submit_complaint(intake.ctx, command)
    again = submissions.submit_complaint(intake.ctx, command.model_copy(update={"correlation_id": uuid.uuid4()}))
    assert (again.tracking_code, again.received_at, again.replayed) == (first.tracking_code, first.received_at, True)
    assert len(intake.memory.submissions) == len(intake.memory.outbox) == 1


def test_a_key_reused_with_another_body_is_refused_and_nothing_written(intake):
    submissions.submit_complaint(intake.ctx, intake.command(key="kunci-2"))
    with pytest.raises(submissions.IdempotencyKeyReused):
        submissions.submit_complaint(intake.ctx, intake.command(key="kunci-2", subject="Lampu jalan mati"))
    assert len(intake.memory.submissions) == len(intake.memory.outbox) == 1


def test_a_replay_with_files_gets_the_first_answer_and_writes_no_row_again(intake):
    files = screen([(tiny_png(1), "jalan.png")], max_bytes=5 * 2**20, max_count=5).kept
    command = intake.command(key="kunci-3")
    first = submissions.submit_complaint_with_files(intake.ctx, command, files)
    again = submissions.submit_complaint_with_files(intake.ctx, command, files)
    assert (again.tracking_code, again.replayed) == (first.tracking_code, True)
    [row] = intake.memory.attachments
    [message] = intake.messages(ComplaintSubmitted)
    assert [a.sha256 for a in message.attachments] == [row.sha256] == [files[0].sha256]
    assert intake.ctx.documents.get(row.sha256) == files[0].data


def test_a_drawn_tracking_code_already_taken_is_drawn_again(intake):
    draws = itertools.chain([b"\x01" * 7, b"\x01" * 7], iter(lambda: os.urandom(7), None))
    intake.ctx.random_bytes = lambda n: next(draws)
    first = submissions.submit_complaint(intake.ctx, intake.command())
    second = submissions.submit_complaint(intake.ctx, intake.command())
    assert first.tracking_code != second.tracking_code
    assert len(intake.memory.submissions) == 2


def test_a_kecamatan_not_served_is_refused(intake):
    with pytest.raises(UnknownKecamatan):
        submissions.submit_complaint(intake.ctx, intake.command(kecamatan="tidak-ada"))
    assert intake.memory.submissions == {}


# -- messages on a channel -------------------------------------------------------------------------------------


def test_an_sms_becomes_a_complaint_of_the_kecamatan_claiming_the_number(intake):
    outcome = intake.sms("Jalan di desa kami rusak parah, mohon diperbaiki.")
    assert (outcome.result, outcome.kecamatan, outcome.duplicate) == ("complaint", "pegantenan", False)
    [message] = intake.messages(ComplaintSubmitted)
    assert (message.tracking_code, message.channel) == (outcome.tracking_code, "sms")
    assert (message.complainant.phone, message.correlation_id) == ("+6281234567890", outcome.inbound_id)


def test_an_email_becomes_a_complaint_with_its_attachment(intake):
    outcome = intake.email("Mohon bantuan, KTP saya terlampir.", files=[(tiny_png(2), "ktp.png")])
    assert (outcome.result, outcome.kecamatan) == ("complaint", "pegantenan")
    [message] = intake.messages(ComplaintSubmitted)
    [row] = intake.memory.attachments
    assert (message.channel, message.complainant.email, message.subject) == (
        "email",
        "budi@example.id",
        "Pengurusan KTP tertunda",
    )
    assert [a.sha256 for a in message.attachments] == [row.sha256]
    assert row.inbound_message_id == outcome.inbound_id


def test_a_message_to_a_number_no_kecamatan_claims_is_refused(intake):
    with pytest.raises(UnknownKecamatan):
        channels.receive_sms(
            intake.ctx,
            sender="081234567890",
            to="+6281199999999",
            text="Halo",
            provider_message_id="1",
            provider_time=None,
        )
    assert intake.memory.inbound == {}


def test_a_reply_from_a_complainant_awaiting_documents_joins_their_complaint(intake):
    first = intake.sms("Jalan di desa kami rusak parah.")
    intake.awaits_documents(first.tracking_code)
    reply = intake.sms("Ini foto KTP saya.")
    assert (reply.result, reply.complaint_id, reply.tracking_code) == ("reply", first.complaint_id, first.tracking_code)
    [replied] = intake.messages(ComplainantReplied)
    assert (replied.message_id, replied.complaint_id, replied.sender) == (
        reply.inbound_id,
        first.complaint_id,
        "+6281234567890",
    )
    assert len(intake.messages(ComplaintSubmitted)) == 1
    assert intake.sms("Pengaduan lain.", sender="081298765432").result == "complaint"  # another sender


def test_an_unauthenticated_email_does_not_join_the_complaint_of_its_from_address(intake):
    first = intake.email("Jalan rusak.")
    intake.awaits_documents(first.tracking_code)
    forged = intake.email("Ini dokumen saya.", authenticated=False)
    assert forged.result == "complaint"
    assert forged.tracking_code != first.tracking_code
    assert UNVERIFIED_NOTE in intake.messages(ComplaintSubmitted)[-1].description
    assert intake.messages(ComplainantReplied) == []


def test_a_duplicate_provider_message_id_is_answered_as_the_first_time(intake):
    first = intake.sms("Lampu jalan mati.", gateway_id="gw-7")
    again = intake.sms("Lampu jalan mati.", gateway_id="gw-7")
    assert (again.result, again.tracking_code, again.inbound_id, again.duplicate) == (
        "complaint",
        first.tracking_code,
        first.inbound_id,
        True,
    )
    assert len(intake.memory.inbound) == len(intake.memory.submissions) == len(intake.memory.outbox) == 1


def test_an_empty_message_is_recorded_as_ignored_and_recognised_again(intake):
    first = intake.sms("   ", gateway_id="gw-8")
    again = intake.sms("   ", gateway_id="gw-8")
    assert (first.result, first.note, again.duplicate) == ("ignored", "empty message", True)
    assert intake.memory.submissions == {} and intake.memory.outbox == []


def test_a_whatsapp_status_is_handed_to_notify_once(intake):
    status = parse.WhatsAppStatus(
        id="wamid.uji-1",
        status="delivered",
        timestamp=NOW,
        recipient_id="6281234567890",
        biz_opaque_callback_data="ref-1",
        error=None,
        raw={"id": "wamid.uji-1", "recipient_id": "6281234567890", "status": "delivered"},
    )
    assert statuses.record_statuses(intake.ctx, [status]) == 1
    assert statuses.record_statuses(intake.ctx, [status]) == 0
    [row] = intake.memory.outbox
    digest = provider_id_hashes(intake.ctx.settings).hash("wamid.uji-1")
    assert (row.task, row.payload["provider_message_hashes"], row.payload["status"], row.payload["reference"]) == (
        DELIVERY_STATUS_TASK,
        [digest],
        "delivered",
        "ref-1",
    )
    # neither the message's id (a WhatsApp id holds the recipient's number) nor the number is kept or handed on
    assert "provider_message_id" not in row.payload and "6281234567890" not in str(row.payload)
    [kept] = intake.memory.statuses.values()
    assert (kept.provider_message_hash, kept.recipient_id, kept.raw) == (digest, None, {"status": "delivered"})


# -- reads -----------------------------------------------------------------------------------------------------


def test_a_tracking_code_shows_received_then_the_projected_step(intake):
    accepted = submissions.submit_complaint(intake.ctx, intake.command())
    received = tracking.track(intake.ctx, accepted.tracking_code)
    assert (received["status"], received["current_step"], received["letter_available"]) == ("received", None, False)
    intake.awaits_documents(accepted.tracking_code)
    waiting = tracking.track(intake.ctx, accepted.tracking_code)
    assert (waiting["status"], waiting["current_step"]["number"]) == ("awaiting_documents", 2)
    assert waiting["status_label"] == "Menunggu kelengkapan dokumen dari Anda"
    assert tracking.track(intake.ctx, "AAAA-AAAA-AA") is None


def test_staff_find_an_attachment_only_of_a_kecamatan_they_may_read(intake):
    outcome = intake.email("KTP terlampir.", files=[(tiny_png(3), "ktp.png")])
    [row] = intake.memory.attachments
    found = find_attachment(intake.ctx, row.sha256, outcome.complaint_id, lambda k: k == "pegantenan")
    assert (found.sha256, found.content_type, found.kecamatan) == (row.sha256, "image/png", "pegantenan")
    assert find_attachment(intake.ctx, row.sha256, None, lambda k: False) is None


def test_the_outbox_health_counts_what_waits(intake):
    assert outbox_health(intake.ctx) == {"ok": True, "waiting": 0, "oldest_seconds": 0.0}
    submissions.submit_complaint(intake.ctx, intake.command())
    assert outbox_health(intake.ctx) == {"ok": True, "waiting": 1, "oldest_seconds": 0.0}
