"""The contract every implementation of intake's unit of work must pass (in memory and PostgreSQL), so the fake
the unit tests run on cannot drift from the real one.

Subclass ``IntakeUnitOfWorkContract`` and provide three fixtures: ``intake``, a ``handlers.context.Context`` on
the implementation; ``place``, a kecamatan of the test's own (``new_place()``) that its directory serves and its
routes know; ``project``, which writes a complaint's tracking row as the tracking projection would
(``project(complaint_id, tracking_code, status)``). Every test uses fresh ids, codes, numbers and addresses, so
it runs beside whatever else a shared database holds.
"""

from __future__ import annotations

import os
import threading
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from services.intake.domain.commands import SubmitComplaint
from services.intake.handlers import submissions
from services.intake.handlers.submissions import IdempotencyKeyReused
from services.intake.unit_of_work import Attachment, ChannelStatus, Inbound, Submission
from shared.contracts import sop
from shared.contracts.intake import Complainant
from shared.contracts.tracking import new_tracking_code
from shared.tenancy import Kecamatan

RECEIVED = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def new_place() -> Kecamatan:
    """A kecamatan of the test's own, claiming an SMS number and an e-mail address no other claims."""
    suffix = uuid.uuid4().hex[:8]
    number = "+62811" + str(int(suffix, 16) % 10**8).zfill(8)
    channels = {"sms_numbers": [number], "emails": [f"pengaduan-{suffix}@uji.example.id"]}
    return Kecamatan(
        f"uji-{suffix}", f"97.{suffix}", "Uji", "pamekasan", "Kabupaten Pamekasan", {}, True, {"channels": channels}
    )


def new_phone() -> str:
    return "+62812" + str(int.from_bytes(os.urandom(4), "big") % 10**8).zfill(8)


def a_submission(place: Kecamatan, *, phone: str | None = None, email: str | None = None, **fields) -> Submission:
    values = {
        "id": uuid.uuid4(),
        "complaint_id": uuid.uuid4(),
        "tracking_code": new_tracking_code(os.urandom(7)),
        "kecamatan": place.slug,
        "channel": "web",
        "received_at": RECEIVED,
        "complainant": Complainant(name="Siti Aminah", phone=phone or new_phone(), email=email),
        "subject": "Jalan desa rusak",
        "description": "Jalan di Dusun Bunangka rusak sejak Januari.",
        **fields,
    }
    return Submission(**values)


def an_inbound(channel: str = "sms", **fields) -> Inbound:
    values = {
        "id": uuid.uuid4(),
        "channel": channel,
        "provider_message_hash": os.urandom(32).hex(),  # the provider's id's keyed hash (shared.privacy)
        "received_at": RECEIVED,
        "result": "ignored",
        **fields,
    }
    return Inbound(**values)


def an_attachment(place: Kecamatan, sha256: str, **links) -> Attachment:
    return Attachment(uuid.uuid4(), sha256, "image/png", 68, "foto.png", "photo", place.slug, **links)


def a_status(provider_message_hash: str, status: str = "delivered") -> ChannelStatus:
    return ChannelStatus(uuid.uuid4(), "whatsapp-cloud", provider_message_hash, status, None, None, RECEIVED, {"x": 1})


def committed(intake, *writes) -> None:
    with intake.uow() as uow:
        for write in writes:
            write(uow)
        uow.commit()


class IntakeUnitOfWorkContract:
    # -- submissions -----------------------------------------------------------------------------------------
    def test_a_submission_is_read_back_in_the_unit_and_kept_by_commit(self, intake, place):
        s = a_submission(place, idempotency_key=f"key-{uuid.uuid4()}", request_hash="abc")
        with intake.uow() as uow:
            assert uow.submissions.add(s) is True
            assert uow.submissions.get(s.id) == s
            uow.commit()
        with intake.uow() as uow:
            assert uow.submissions.get(s.id) == s
            assert uow.submissions.with_idempotency_key(s.idempotency_key) == s
            assert uow.submissions.tracking_code(s.complaint_id) == s.tracking_code
            assert uow.submissions.of_complaint(s.complaint_id) == s
            assert uow.submissions.of_complaint(uuid.uuid4()) is None

    def test_nothing_is_kept_without_commit(self, intake, place):
        s = a_submission(place)
        inbound = an_inbound()
        with intake.uow() as uow:
            assert uow.submissions.add(s)
            assert uow.inbound.add(inbound)
            uow.outbox.put(id=s.id, message_type="uji", task="uji.task", queue="uji", payload={})
        with intake.uow() as uow:
            assert uow.submissions.get(s.id) is None
            assert uow.inbound.outcome("sms", [inbound.provider_message_hash]) is None
            assert uow.submissions.add(s)  # its keys are free again (nor was the outbox row kept: same id)
            uow.outbox.put(id=s.id, message_type="uji", task="uji.task", queue="uji", payload={})
            uow.rollback()

    @pytest.mark.parametrize("taken", ["id", "complaint_id", "tracking_code", "idempotency_key"])
    def test_a_submission_whose_id_code_or_key_is_taken_is_not_written(self, intake, place, taken):
        first = a_submission(place, idempotency_key=f"key-{uuid.uuid4()}")
        committed(intake, lambda uow: uow.submissions.add(first))
        second = a_submission(place, idempotency_key=f"key-{uuid.uuid4()}", subject="Lain")
        second = Submission(**{**second.__dict__, taken: getattr(first, taken)})
        with intake.uow() as uow:
            assert uow.submissions.add(second) is False
            uow.commit()
        with intake.uow() as uow:
            assert uow.submissions.get(second.id) in (None, first)
            assert uow.submissions.tracking_code(first.complaint_id) == first.tracking_code

    def test_a_second_writer_of_the_same_key_waits_for_the_first_then_sees_it(self, intake, place):
        key = f"key-{uuid.uuid4()}"
        first, second = a_submission(place, idempotency_key=key), a_submission(place, idempotency_key=key)
        answers: list[bool] = []
        with intake.uow() as uow:
            assert uow.submissions.add(first)
            other = threading.Thread(
                target=lambda: committed(intake, lambda u: answers.append(u.submissions.add(second)))
            )
            other.start()
            other.join(0.3)
            assert answers == []  # still waiting for this unit
            uow.commit()
        other.join(10)
        assert answers == [False]

    # -- inbound messages ----------------------------------------------------------------------------------------
    def test_an_inbound_message_is_recorded_once_per_channel_and_provider_id(self, intake, place):
        s = a_submission(place)
        message = an_inbound(result="complaint", kecamatan=place.slug, submission_id=s.id, complaint_id=s.complaint_id)
        committed(intake, lambda uow: uow.submissions.add(s), lambda uow: uow.inbound.add(message))
        again = an_inbound(provider_message_hash=message.provider_message_hash)
        elsewhere = an_inbound(channel="email", provider_message_hash=message.provider_message_hash)
        with intake.uow() as uow:
            assert uow.inbound.add(again) is False
            assert uow.inbound.add(elsewhere) is True
            # found by any of the id's hashes (one per configured key: hashed before a key rotation, still found)
            record = uow.inbound.outcome("sms", [os.urandom(32).hex(), message.provider_message_hash])
            assert uow.inbound.outcome("sms", [os.urandom(32).hex()]) is None
            assert uow.inbound.outcome("sms", []) is None
        assert (record.id, record.result, record.kecamatan) == (message.id, "complaint", place.slug)
        assert (record.complaint_id, record.tracking_code, record.note) == (s.complaint_id, s.tracking_code, None)

    def test_an_ignored_message_has_no_tracking_code(self, intake):
        message = an_inbound(note="empty message")
        committed(intake, lambda uow: uow.inbound.add(message))
        with intake.uow() as uow:
            record = uow.inbound.outcome("sms", [message.provider_message_hash])
        assert (record.result, record.tracking_code, record.note) == ("ignored", None, "empty message")

    # -- attachments ---------------------------------------------------------------------------------------------
    def test_attachments_are_found_through_their_complaint(self, intake, place):
        sha = os.urandom(32).hex()
        s = a_submission(place)
        reply_to = a_submission(place)
        reply = an_inbound(result="reply", kecamatan=place.slug, complaint_id=reply_to.complaint_id)
        ignored = an_inbound()
        committed(
            intake,
            lambda uow: uow.submissions.add(s),
            lambda uow: uow.submissions.add(reply_to),
            lambda uow: uow.inbound.add(reply),
            lambda uow: uow.inbound.add(ignored),
            lambda uow: uow.attachments.add(
                [
                    an_attachment(place, sha, submission_id=s.id),
                    an_attachment(place, sha, inbound_message_id=reply.id),
                    an_attachment(place, sha, inbound_message_id=ignored.id),  # belongs to no complaint
                ]
            ),
        )
        with intake.uow() as uow:
            assert {a.complaint_id for a in uow.attachments.linked(sha, None, limit=50)} == {
                s.complaint_id,
                reply_to.complaint_id,
            }
            [of_reply] = uow.attachments.linked(sha, reply_to.complaint_id, limit=50)
            assert (of_reply.sha256, of_reply.content_type, of_reply.kecamatan) == (sha, "image/png", place.slug)
            assert of_reply.complaint_id == reply_to.complaint_id  # the complaint it belongs to (the access log)
            [of_submission] = uow.attachments.linked(sha, s.complaint_id, limit=50)
            assert of_submission.complaint_id == s.complaint_id
            assert uow.attachments.linked(sha, uuid.uuid4(), limit=50) == []
            assert uow.attachments.linked(os.urandom(32).hex(), None, limit=50) == []

    # -- delivery statuses ---------------------------------------------------------------------------------------
    def test_a_status_is_recorded_once_per_message_and_status(self, intake):
        wamid = os.urandom(32).hex()  # the message id's keyed hash
        first = a_status(wamid)
        committed(intake, lambda uow: uow.statuses.add(first))
        with intake.uow() as uow:
            assert uow.statuses.add(a_status(wamid)) is False
            assert uow.statuses.add(a_status(wamid, "read")) is True
            assert uow.statuses.id_of(wamid, "delivered") == first.id
            assert uow.statuses.id_of(wamid, "failed") is None

    # -- the outbox ----------------------------------------------------------------------------------------------
    def test_the_outbox_counts_what_waits_to_be_published(self, intake):
        with intake.uow() as uow:
            uow.outbox.put(id=uuid.uuid4(), message_type="uji", task="uji.task", queue="uji", payload={"a": 1})
            waiting, oldest = uow.outbox.backlog()
        assert waiting >= 1
        assert oldest >= 0

    # -- tracking ------------------------------------------------------------------------------------------------
    def test_a_code_is_tracked_from_its_submission_then_its_projected_status(self, intake, place, project):
        s = a_submission(place)
        committed(intake, lambda uow: uow.submissions.add(s))
        with intake.uow() as uow:
            before = uow.tracking.by_code(s.tracking_code)
            assert uow.tracking.by_code(new_tracking_code(os.urandom(7))) is None
        assert (before.tracking_code, before.kecamatan, before.received_at) == (s.tracking_code, place.slug, RECEIVED)
        assert (before.status, before.current_step, before.outcome) == (None, None, None)
        project(s.complaint_id, s.tracking_code, "in_progress", current_step=2)
        with intake.uow() as uow:
            after = uow.tracking.by_code(s.tracking_code)
        assert (after.status, after.current_step, after.sop_version, after.steps) == (
            "in_progress",
            2,
            sop.DEFAULT.version,
            [],
        )

    def test_a_referrals_follow_up_and_answer_are_tracked_with_the_complainant_to_mask_it_of(
        self, intake, place, project
    ):
        s = a_submission(place, email="siti@example.id")
        committed(intake, lambda uow: uow.submissions.add(s))
        follow_up = RECEIVED + timedelta(days=20)
        project(
            s.complaint_id,
            s.tracking_code,
            "closed",
            outcome="referred",
            referred_to="Dinas PUPR",
            referral_state="answered",
            follow_up_by=follow_up,
            referral_answer="Kepada Ibu Siti Aminah: diperbaiki Maret.",
            referral_answered_on=date(2026, 2, 20),
        )
        with intake.uow() as uow:
            t = uow.tracking.by_code(s.tracking_code)
        assert (t.status, t.outcome, t.referred_to, t.referral_state, t.follow_up_by) == (
            "closed",
            "referred",
            "Dinas PUPR",
            "answered",
            follow_up,
        )
        assert (t.referral_answer, t.referral_answered_on) == (
            "Kepada Ibu Siti Aminah: diperbaiki Maret.",
            date(2026, 2, 20),
        )
        assert t.complainant == s.complainant.model_dump(mode="json")  # what the answer is masked of

    def test_the_complainants_answer_to_a_closing_is_taken_once_and_only_after_a_response(self, intake, place, project):
        """docs/adr/0020: the conditional update that makes an answer once per closing."""
        s, other = a_submission(place), a_submission(place)
        committed(intake, lambda uow: uow.submissions.add(s), lambda uow: uow.submissions.add(other))
        project(s.complaint_id, s.tracking_code, "closed", outcome="resolved", closings=2, feedback_closing=1)
        project(other.complaint_id, other.tracking_code, "closed", outcome="withdrawn")
        with intake.uow() as uow:
            found = uow.tracking.by_code(s.tracking_code)
            assert (found.complaint_id, found.closings, found.feedback_closing) == (s.complaint_id, 2, 1)
            assert uow.tracking.claim_feedback(s.complaint_id, 1) is False  # answered already
            assert uow.tracking.claim_feedback(s.complaint_id, 3) is False  # not that closing (yet)
            assert uow.tracking.claim_feedback(other.complaint_id, 0) is False  # closed without a response
            assert uow.tracking.claim_feedback(s.complaint_id, 2) is True
            assert uow.tracking.claim_feedback(s.complaint_id, 2) is False  # once, also within the unit
            uow.rollback()
        with intake.uow() as uow:  # not kept without commit
            assert uow.tracking.claim_feedback(s.complaint_id, 2) is True
            uow.commit()
        with intake.uow() as uow:
            assert uow.tracking.by_code(s.tracking_code).feedback_closing == 2
            assert uow.tracking.claim_feedback(s.complaint_id, 2) is False

    def test_the_senders_latest_complaint_awaiting_documents_is_found(self, intake, place, project):
        phone, email = new_phone(), f"Warga-{uuid.uuid4().hex[:8]}@Contoh.example.id"
        older = a_submission(place, phone=phone)
        newer = a_submission(place, phone=phone, received_at=RECEIVED + timedelta(hours=1))
        in_progress = a_submission(place, phone=phone, received_at=RECEIVED + timedelta(hours=2))
        by_mail = a_submission(place, phone=None, email=email.lower())
        committed(intake, *[lambda uow, s=s: uow.submissions.add(s) for s in (older, newer, in_progress, by_mail)])
        for s, status in ((older, "awaiting_documents"), (newer, "awaiting_documents"), (in_progress, "in_progress")):
            project(s.complaint_id, s.tracking_code, status)
        with intake.uow() as uow:
            assert uow.tracking.awaiting_documents(place.slug, "email", email) is None  # not projected yet
        project(by_mail.complaint_id, by_mail.tracking_code, "awaiting_documents")
        with intake.uow() as uow:
            assert uow.tracking.awaiting_documents(place.slug, "sms", phone) == newer.complaint_id
            assert uow.tracking.awaiting_documents(place.slug, "whatsapp", phone) == newer.complaint_id
            assert uow.tracking.awaiting_documents(place.slug, "email", email.upper()) == by_mail.complaint_id
            assert uow.tracking.awaiting_documents("uji-elsewhere", "sms", phone) is None
            assert uow.tracking.awaiting_documents(place.slug, "sms", new_phone()) is None

    # -- routes --------------------------------------------------------------------------------------------------
    def test_the_kecamatan_claiming_a_number_or_address_is_found(self, intake, place):
        channels = place.settings["channels"]
        with intake.uow() as uow:
            assert uow.routes.claiming("sms_numbers", channels["sms_numbers"][0]) == [place.slug]
            assert uow.routes.claiming("emails", channels["emails"][0]) == [place.slug]
            assert uow.routes.claiming("sms_numbers", new_phone()) == []
            assert uow.routes.claiming("emails", channels["sms_numbers"][0]) == []

    # -- a handler on the implementation ------------------------------------------------------------------------
    def test_a_submission_is_accepted_once_and_its_key_replayed(self, intake, place):
        command = SubmitComplaint(
            kecamatan=place.slug,
            channel="web",
            complainant=Complainant(name="Siti Aminah", phone=new_phone()),
            subject="Jalan desa rusak",
            description="Jalan di Dusun Bunangka rusak sejak Januari.",
            idempotency_key=f"key-{uuid.uuid4()}",
            correlation_id=uuid.uuid4(),
        )
        first = submissions.submit_complaint(intake, command)
        again = submissions.submit_complaint(intake, command)
        assert (again.tracking_code, again.received_at, first.replayed, again.replayed) == (
            first.tracking_code,
            first.received_at,
            False,
            True,
        )
        with pytest.raises(IdempotencyKeyReused):
            submissions.submit_complaint(intake, command.model_copy(update={"subject": "Lain"}))
