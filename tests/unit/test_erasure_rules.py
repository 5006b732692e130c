"""A complainant's personal data erased (issue #17, docs/adr/0017), in milliseconds: notify's copies on the in-memory
unit of work (the same handler on PostgreSQL, with intake's and the dashboard's scrubs and a rebuild:
tests/integration/test_erasure_scrubs.py), and the dashboard's row rule."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.dashboard.domain.complaints import apply, erased
from services.notify.domain.erasure import ERASED_BODY, ERASED_RECIPIENT, NOT_SENT
from services.notify.handlers.deliveries_admin import list_deliveries, resend
from services.notify.handlers.erasure import Erased, erase_personal_data
from services.notify.handlers.planning import plan_event
from services.notify.handlers.statuses import record_status
from shared.calendar import WorkingCalendar
from shared.contracts import sop
from shared.contracts.workflow import ERASED_NAME, DocumentsRequested, PersonalDataErased
from shared.events import Actor, envelope
from shared.privacy import provider_id_hashes
from tests.unit.test_notify_flow import Notify, new_phone, person, plan_news


def erasure() -> PersonalDataErased:
    return PersonalDataErased(reason="permintaan pengadu", requested_by="admin", request_id=uuid.uuid4())


def test_notify_erases_its_copies_keeps_the_audit_and_sends_nothing_more():
    notify = Notify()
    phone, staff_phone = new_phone(), new_phone()
    notify.memory.staff.append(person("kasi.pem", "kasi", "pemerintahan", staff_phone) | {"notify_new_work": True})
    received = notify.complaint(phone)
    plan_event(notify.ctx, received)  # the acknowledgment (sent)
    plan_news(notify, received)  # and the kasi's new work (sent), planned in a round
    stream = notify.events.read_event(received).stream_id
    asked = notify.append(
        stream,
        DocumentsRequested(message="Mohon kirim KTP", close_after=datetime(2026, 3, 20, tzinfo=UTC)),
    )
    plan_event(notify.ctx, asked, send_now=False)  # left pending
    sent = next(r for r in notify.rows() if r["kind"] == "acknowledgment")
    pending = next(r for r in notify.rows() if r["kind"] == "documents_requested")
    letter_id = uuid.uuid4()
    notify.memory.dead_letters[letter_id] = {
        "id": letter_id,
        "task": "notify.record_outcome",
        "queue": "notify",
        "payload": {"delivery_id": str(sent["id"]), "state": "failed", "error": f"550 {phone} tidak dikenal"},
        "error": f"ValueError: nomor {phone} untuk Siti Aminah",
        "failed_at": datetime.now(UTC),
        "replayed_at": None,
    }
    assert any(h.payload["recipient"] != "-" for h in notify.memory.handoffs.values())

    done = erase_personal_data(notify.ctx, notify.append(stream, erasure()))

    assert done == Erased(deliveries=3, dead_letters=1, handoffs=1)
    kept = repr((notify.memory.deliveries, notify.memory.dead_letters, notify.memory.handoffs))
    for value in (phone, phone.removeprefix("+"), "Siti Aminah", "Aminah", "Mohon kirim KTP", "Jalan desa rusak"):
        assert value not in kept
    rows = {r["kind"]: r for r in notify.rows()}
    assert {k: (r["state"], r["body"], r["variables"], r["subject"]) for k, r in rows.items()} == {
        "acknowledgment": ("sent", ERASED_BODY, None, None),
        "new_work": ("sent", ERASED_BODY, None, None),
        "documents_requested": ("failed", ERASED_BODY, None, None),
    }
    assert rows["acknowledgment"]["recipient"] == ERASED_RECIPIENT
    # the provider's id goes (a WhatsApp id holds the number); its keyed hash stays: late receipts still match
    assert rows["acknowledgment"]["provider_message_id"] is None and sent["provider_message_id"]
    assert rows["acknowledgment"]["provider_message_hash"] == sent["provider_message_hash"] is not None
    assert rows["new_work"]["recipient"] == staff_phone  # the staff member's own contact, not the complainant's
    assert (rows["documents_requested"]["last_error"], rows["documents_requested"]["reported_state"]) == (
        NOT_SENT,
        "failed",
    )
    (letter,) = notify.memory.dead_letters.values()
    assert letter["payload"]["delivery_id"] == str(sent["id"]) and "[disembunyikan]" in letter["error"]
    assert {h.payload["recipient"] for h in notify.memory.handoffs.values()} == {"-"}
    sends_before = len(notify.sms.sent)
    assert not resend(notify.ctx, pending["id"])  # no one to send it to
    assert len(notify.sms.sent) == sends_before
    listed = list_deliveries(notify.ctx, complaint_id=sent["complaint_id"])
    assert {r["recipient"] for r in listed if r["kind"] != "new_work"} == {ERASED_RECIPIENT}

    again = erase_personal_data(notify.ctx, notify.append(stream, erasure()))  # or the same task redelivered
    assert again == Erased(deliveries=0, dead_letters=0, handoffs=0)
    assert notify.row(sent["id"])["updated_at"] == rows["acknowledgment"]["updated_at"]

    # a delivery receipt arriving after the erasure, naming the message by its id's hashes only (as intake hands
    # it on), finds the erased row and moves it on; its report names no id
    hashes = provider_id_hashes(notify.ctx.settings).candidates(sent["provider_message_id"])
    late = {"provider": sent["provider"], "provider_message_hashes": hashes, "status": "delivered"}
    assert record_status(notify.ctx, late)
    assert (notify.row(sent["id"])["state"], notify.row(sent["id"])["provider_message_id"]) == ("delivered", None)
    reports = [h.payload for h in notify.memory.handoffs.values() if h.payload["state"] == "delivered"]
    assert [(r["provider_message_id"], r["provider_message_hash"], r["recipient"]) for r in reports] == [
        (None, sent["provider_message_hash"], "-")
    ]


def test_the_dashboard_row_loses_the_person_and_keeps_the_complaint():
    row = {
        "complaint_id": uuid.uuid4(),
        "position": 10,
        "complainant_name": "Siti Aminah",
        "complainant_nik": "3528071505900001",
        "complainant_phone": "+6281234567890",
        "complainant_email": "siti@example.id",
        "complainant_address": "Dusun Bunangka",
        "receipt": "sms +62812****890, http-sms ref 3f2a9c0d1e4b5a67",
        "sent_channel": "sms",
        "disposition_instructions": "Hubungi pengadu di 0812-3456-7890",
        "follow_up": "Sudah dicek; pengadu (siti@example.id) setuju.",
        "referral_reason": None,
        "referral_answer": "NIK 3528071505900001 sudah kami proses.",
        "subject": "Jalan desa rusak",
        "register_number": 17,
        "status": "closed",
        "sop_version": sop.DEFAULT.version,
        "sop_overrides": None,
    }
    event = envelope(
        erasure(),
        event_id=uuid.uuid4(),
        stream_id=f"complaint-{row['complaint_id']}",
        version=9,
        kecamatan="pegantenan",
        occurred_at=datetime.now(UTC),
        actor=Actor(kind="user", user_id="admin", role="admin"),
        correlation_id=uuid.uuid4(),
    ).model_copy(update={"position": 11})
    new, steps = apply(row, event, WorkingCalendar())
    assert steps == [] and new is not None and new["position"] == 11
    assert new == {**row, **erased(row), "position": 11}
    assert (new["complainant_name"], new["complainant_nik"], new["complainant_phone"]) == (ERASED_NAME, None, None)
    assert (new["complainant_email"], new["complainant_address"]) == (None, None)
    assert new["receipt"] == "sms -, http-sms ref 3f2a9c0d1e4b5a67"  # the reference names no one
    assert new["disposition_instructions"] == "Hubungi pengadu di [disembunyikan]"
    assert new["follow_up"] == "Sudah dicek; pengadu ([disembunyikan]) setuju."
    assert new["referral_answer"] == "NIK [disembunyikan] sudah kami proses."
    assert (new["subject"], new["register_number"], new["status"]) == ("Jalan desa rusak", 17, "closed")
    assert apply(new, event, WorkingCalendar()) == (new, [])  # applied already
    hand_written = {**row, "receipt": "Diterima langsung oleh pengadu, HP 0812-3456-7890"}
    assert erased(hand_written)["receipt"] == "Diterima langsung oleh pengadu, HP [disembunyikan]"
