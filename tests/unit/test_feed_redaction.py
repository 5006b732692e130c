"""The feed's redaction: an allow-list per event type; no personal data in any event the feed shows."""

from __future__ import annotations

import json
import typing
import uuid
from datetime import UTC, datetime
from types import NoneType, UnionType

import pytest
from pydantic import BaseModel

from services.dashboard.domain.redaction import (
    ALLOWED,
    COMMON,
    REDACTED,
    public_actor,
    public_event,
    redact_payload,
)
from shared.contracts import workflow as w
from shared.contracts.intake import Attachment, Complainant
from shared.events import Actor, EventEnvelope, envelope, registry

NAME, NIK, PHONE, EMAIL, ADDRESS = (
    "Siti Aminah",
    "3528071505900001",
    "+6281234567890",
    "siti@example.id",
    "Dusun Bunangka",
)
PERSONAL = (NAME, NIK, PHONE, EMAIL, ADDRESS, "6281234567890", "81234567890")
NOW = datetime(2026, 11, 30, 8, 15, tzinfo=UTC)
NOW_JSON = "2026-11-30T08:15:00Z"  # as pydantic writes it


def _envelope(event, actor: Actor | None = None, position: int = 7) -> EventEnvelope:
    complaint_id = uuid.uuid4()
    e = envelope(
        event,
        event_id=uuid.uuid4(),
        stream_id=f"complaint-{complaint_id}",
        version=1,
        kecamatan="pegantenan",
        occurred_at=NOW,
        actor=actor or Actor.system("intake"),
        correlation_id=uuid.uuid4(),
    )
    return e.model_copy(update={"position": position, "recorded_at": NOW})


def _received() -> w.ComplaintReceived:
    return w.ComplaintReceived(
        complaint_id=uuid.uuid4(),
        submission_id=uuid.uuid4(),
        tracking_code="7KQ2-M9XD-4T",
        kecamatan="pegantenan",
        channel="web",
        complainant=Complainant(name=NAME, nik=NIK, phone=PHONE, email=EMAIL, address=ADDRESS),
        subject=f"Jalan rusak di depan rumah {NAME}",
        description=f"Saya {NAME}, NIK {NIK}, HP {PHONE}, {ADDRESS}.",
        received_at=NOW,
        sop_version="pegantenan-1",
        deadline_at=NOW,
        next_due_at=NOW,
        attachments=[
            Attachment(sha256="a" * 64, content_type="image/jpeg", size=10, filename=f"ktp {NAME}.jpg", kind="ktp")
        ],
        entered_at=NOW,
        entered_by="staf.pegantenan",
    )


def _assert_no_personal(shown: object) -> None:
    text = json.dumps(shown)
    for value in PERSONAL:
        assert value not in text, value


def test_the_complainant_becomes_which_kinds_of_identity_and_contact_were_given():
    shown = public_event(_envelope(_received()))
    payload = shown["payload"]
    assert payload["complainant"] == {"has_nik": True, "has_phone": True, "has_email": True, "has_address": True}
    assert payload["channel"] == "web" and payload["kecamatan"] == "pegantenan"
    assert payload["subject"] == REDACTED and payload["description"] == REDACTED
    assert payload["attachments_count"] == 1 and "attachments" not in payload
    assert "tracking_code" not in payload and "entered_by" not in payload and "sop_overrides" not in payload
    assert shown["step"] == 1 and shown["output"] == "Form Pengaduan" and payload["next_step"] == 2
    assert shown["complaint_id"] == shown["stream"].removeprefix("complaint-")
    _assert_no_personal(shown)


def test_replies_notifications_and_letters_lose_senders_recipients_and_texts():
    samples = [
        w.ComplainantReplied(
            channel="whatsapp",
            sender=PHONE,
            text=f"Ini KTP saya, {NAME} {NIK}",
            received_at=NOW,
            attachments=[w.ReplyAttachment(sha256="b" * 64, content_type="image/jpeg", size=3)],
        ),
        w.NotificationSent(
            delivery_id=uuid.uuid4(),
            kind="acknowledgment",
            channel="email",
            recipient=EMAIL,
            provider="smtp",
            provider_message_id=f"<abc.{EMAIL}>",
        ),
        w.NotificationFailed(
            delivery_id=uuid.uuid4(),
            kind="response_letter",
            channel="email",
            recipient=EMAIL,
            error=f"550 mailbox {EMAIL} unknown",
        ),
        w.LetterDrafted(
            step=7, output="Draft", letter_version=1, perihal=f"Tanggapan untuk {NAME}", body=f"Yth. {NAME}, {ADDRESS}"
        ),
        w.ResponseSent(step=12, output="Tanda terima", channel="email", receipt=f"email {EMAIL} id 1"),
        w.DocumentsRequested(message=f"Bapak/Ibu {NAME}, kirim foto KTP", close_after=NOW),
        w.MarkedDuplicate(duplicate_of="7KQ2-M9XD-4T", reason=f"sama dengan pengaduan {NAME}"),
        w.LetterDuplicated(step=9, output="Salinan", copies=[NAME, "arsip"]),
    ]
    for event in samples:
        shown = public_event(_envelope(event))
        _assert_no_personal(shown)
    replied = public_event(_envelope(samples[0]))["payload"]
    assert replied == {"channel": "whatsapp", "text": REDACTED, "attachments_count": 1, "received_at": NOW_JSON}
    sent = public_event(_envelope(samples[1]))["payload"]
    assert sent["kind"] == "acknowledgment" and sent["channel"] == "email" and sent["provider"] == "smtp"
    assert "recipient" not in sent and "provider_message_id" not in sent
    assert public_event(_envelope(samples[2]))["payload"]["error"] == REDACTED
    duplicate = public_event(_envelope(samples[6]))["payload"]
    assert "duplicate_of" not in duplicate  # a tracking code opens the receipt, which names the complainant
    assert public_event(_envelope(samples[7]))["payload"]["copies_count"] == 2


def test_numbers_steps_and_the_sop_words_pass_through_unchanged():
    registered = w.ComplaintRegistered(
        step=3, output="Buku Rekap Pengaduan", next_step=4, next_due_at=NOW, register_number=12, register_year=2026
    )
    assert redact_payload(registered.type, registered.model_dump(mode="json")) == {
        "step": 3,
        "output": "Buku Rekap Pengaduan",
        "next_step": 4,
        "next_due_at": NOW_JSON,
        "register_number": 12,
        "register_year": 2026,
    }
    referred = w.ComplaintReferred(agency="Dinas PUPR Kabupaten Pamekasan", agency_kind="opd", reason=f"kata {NAME}")
    shown = redact_payload(referred.type, referred.model_dump(mode="json"))
    assert shown["agency"] == "Dinas PUPR Kabupaten Pamekasan" and shown["agency_kind"] == "opd"
    assert shown["reason"] == REDACTED


def test_an_unknown_event_type_shows_only_the_common_step_fields():
    payload = {
        "step": 5,
        "output": "Penjelasan",
        "name": NAME,
        "nik": NIK,
        "anything": "else",
        "nested": {"phone": PHONE},
    }
    assert redact_payload("workflow.SomethingNew", payload) == {"step": 5, "output": "Penjelasan"}


def test_a_field_in_an_unexpected_form_is_dropped_not_shown():
    # a future writer putting a text where a number or a timestamp was
    payload = {
        "step": NAME,
        "next_due_at": f"besok, {NAME}",
        "register_number": "12 a.n. " + NAME,
        "output": "x" * 500,
        "agency": EMAIL,
    }
    assert redact_payload(w.ComplaintRegistered.type, payload) == {}
    assert redact_payload(w.ComplaintReferred.type, {"agency": f"Kepala Desa <{EMAIL}>"}) == {}


def test_fields_added_to_a_known_type_are_dropped_until_allowed():
    payload = {**_received().model_dump(mode="json"), "complainant_mother_name": "Aminah", "ktp_photo_url": "http://x"}
    shown = redact_payload(w.ComplaintReceived.type, payload)
    assert "complainant_mother_name" not in shown and "ktp_photo_url" not in shown


def test_staff_usernames_are_left_out_system_processes_are_named():
    assert public_actor({"kind": "user", "user_id": "budi.santoso", "role": "kasi"}) == {"kind": "user", "role": "kasi"}
    assert public_actor({"kind": "system", "user_id": "scheduler"}) == {
        "kind": "system",
        "role": None,
        "user_id": "scheduler",
    }
    assert public_actor({"kind": "complainant", "user_id": PHONE}) == {"kind": "complainant", "role": None}
    shown = public_event(_envelope(_received(), actor=Actor(kind="user", user_id="siti.staf", role="staf")))
    assert shown["actor"] == {"kind": "user", "role": "staf"}


def test_an_old_schema_version_is_upcast_before_the_allow_list_applies():
    event = _envelope(w.IdentityVerified(step=2, output="Identitas terverifikasi", next_step=3, notes=NAME))
    stored = event.model_copy(update={"schema_version": 0, "payload": {"step": 2, "output": "lama", "notes": NAME}})
    original = registry._upcasters.get((w.IdentityVerified.type, 0))
    registry._upcasters[(w.IdentityVerified.type, 0)] = lambda p: {**p, "output": "Identitas terverifikasi"}
    try:
        shown = public_event(stored)
    finally:
        if original is None:
            del registry._upcasters[(w.IdentityVerified.type, 0)]
    assert shown["schema_version"] == 1 and shown["output"] == "Identitas terverifikasi"
    assert shown["payload"]["notes"] == REDACTED


def test_an_undecodable_payload_is_still_filtered_by_its_allow_list():
    event = _envelope(w.IdentityVerified(step=2, output="ok", notes="x"))
    broken = event.model_copy(update={"payload": {"step": 2, "output": "ok", "notes": NAME, "nik": NIK}})
    broken = broken.model_copy(update={"payload": {**broken.payload, "step": "dua"}})  # the model refuses it
    shown = public_event(broken)
    assert shown["payload"] == {"output": "ok", "notes": REDACTED} and shown["step"] is None
    _assert_no_personal(shown)


# --- every registered type, every field --------------------------------------------------------------

MARK = "RAHASIA-"
# Texts a rule lets through as they are; every other string field of every event must not show its value.
# Each is either an SOP word, a machine code, or a name of an office/unit: none is written by or names a person.
PASSED_TEXTS = {
    "output",  # the SOP's "Output" column
    "kecamatan",
    "channel",
    "kind",
    "provider",
    "sop_version",
    "letter_number",  # machine codes
    "unit",
    "previous_unit",  # a unit code, as "unit"
    "agency",  # a unit of the kecamatan, an agency the complaint was referred to
    "agency_address",  # that office's address
    "category",  # a code of the kabupaten's category list (workflow.CategorySet, ComplaintReceived)
    "previous",  # the category code it had
}


def _sample(annotation, name: str):
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, UnionType):
        args = [a for a in typing.get_args(annotation) if a is not NoneType]
        return _sample(args[0], name)
    if origin is typing.Literal:
        return typing.get_args(annotation)[0]
    if origin is list:
        return [_sample(typing.get_args(annotation)[0], name), _sample(typing.get_args(annotation)[0], name)]
    if origin is dict:
        return {"x": MARK + name}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {f: _sample(info.annotation, f) for f, info in annotation.model_fields.items()}
    if annotation is int:
        return 4
    if annotation is bool:
        return True
    if annotation is datetime:
        return NOW.isoformat()
    if annotation is uuid.UUID:
        return str(uuid.uuid4())
    if annotation is str:
        return MARK + name
    return MARK + name  # EmailStr and other string types


@pytest.mark.parametrize("type_name", sorted(registry._types))
def test_every_registered_event_type_has_an_explicit_allow_list(type_name):
    assert type_name in ALLOWED, (
        f"{type_name}: decide what the feed may show of it in services/dashboard/domain/redaction.py"
    )
    fields = registry._types[type_name].model_fields
    for name in {**COMMON, **ALLOWED[type_name]}:
        assert name in fields or name in COMMON, f"{type_name}.{name} is allowed but the event has no such field"


@pytest.mark.parametrize("type_name", sorted(registry._types))
def test_no_string_field_of_any_event_reaches_the_feed_unless_listed_as_safe(type_name):
    cls = registry._types[type_name]
    payload = {name: _sample(info.annotation, name) for name, info in cls.model_fields.items()}
    shown = json.dumps(redact_payload(type_name, payload))
    leaked = {part.split('"')[0] for part in shown.split(MARK)[1:]}
    assert leaked <= PASSED_TEXTS, f"{type_name} shows {sorted(leaked - PASSED_TEXTS)}"
