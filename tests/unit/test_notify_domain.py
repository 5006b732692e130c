"""Notify's pure parts (channel choice, templates, SMS segments) and step 12 of the complaint aggregate:
the letter is dispatched, and the provider's confirmation closes the complaint."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.notify.domain import plan as p
from services.notify.domain.templates import (
    DEFAULTS,
    VARIABLES,
    Template,
    TemplateInvalid,
    render,
    sample_variables,
    sms_segments,
    to_gsm,
    validate,
)
from services.workflow.domain import commands as c
from services.workflow.domain import model
from shared.calendar import WorkingCalendar
from shared.contracts.intake import Complainant, ComplaintSubmitted
from shared.contracts.letters import LetterDocumentIssued
from shared.contracts.notify import NotificationReport
from shared.contracts.workflow import (
    NotificationFailed,
    NotificationSent,
    ResponseDispatched,
    ResponseSent,
)

CAL = WorkingCalendar()
START = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
ALL = {"email", "sms", "whatsapp"}


# -- which channel ---------------------------------------------------------------------------------------
def test_the_complainant_is_answered_on_their_own_channel():
    assert p.complainant_contacts("sms", "a@b.id", "+6281234567890", ALL) == [p.Contact("sms", "+6281234567890")]
    assert p.complainant_contacts("whatsapp", None, "+6281234567890", ALL) == [p.Contact("whatsapp", "+6281234567890")]
    assert p.complainant_contacts("email", "a@b.id", "+6281234567890", ALL) == [p.Contact("email", "a@b.id")]


def test_a_web_or_paper_complaint_goes_to_the_first_contact_given_email_first():
    assert p.complainant_contacts("web", "a@b.id", "+6281234567890", ALL) == [p.Contact("email", "a@b.id")]
    assert p.complainant_contacts("kotak", None, "+6281234567890", ALL) == [p.Contact("whatsapp", "+6281234567890")]
    assert p.complainant_contacts("telepon", None, "+6281234567890", {"email", "sms"}) == [
        p.Contact("sms", "+6281234567890")
    ]
    assert p.complainant_contacts("kotak", None, None, ALL) == []


def test_whatsapp_carries_only_what_it_may_else_the_same_number_gets_an_sms():
    assert p.complainant_contacts("whatsapp", None, "+6281234567890", ALL, whatsapp=False) == [
        p.Contact("sms", "+6281234567890")
    ]
    assert p.complainant_contacts("kotak", None, "+6281234567890", ALL, whatsapp=False) == [
        p.Contact("sms", "+6281234567890")
    ]


def test_an_unconfigured_channel_passes_to_the_next():
    assert p.complainant_contacts("whatsapp", "a@b.id", "+6281234567890", {"email", "sms"}) == [
        p.Contact("email", "a@b.id")
    ]


def test_the_letter_also_goes_by_email_with_its_pdf_when_an_address_is_known():
    got = p.complainant_contacts("sms", "a@b.id", "+6281234567890", ALL, letter=True)
    assert got == [p.Contact("sms", "+6281234567890"), p.Contact("email", "a@b.id")]
    assert p.complainant_contacts("email", "a@b.id", None, ALL, letter=True) == [p.Contact("email", "a@b.id")]


def test_the_idempotency_key_is_stable_and_distinct_per_channel_and_recipient():
    event = uuid.uuid4()
    a = p.delivery_id(event, "acknowledgment", "sms", "+6281234567890")
    assert a == p.delivery_id(event, "acknowledgment", "sms", "+6281234567890")
    assert a != p.delivery_id(event, "acknowledgment", "email", "+6281234567890")
    assert a != p.delivery_id(event, "acknowledgment", "sms", "+6281234567891")
    assert a != p.delivery_id(uuid.uuid4(), "acknowledgment", "sms", "+6281234567890")
    assert p.delivery_id(event, "x", "email", "Siti@Example.ID") == p.delivery_id(
        event, "x", "email", "siti@example.id"
    )


# -- templates -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind,channel", sorted(DEFAULTS))
def test_every_default_template_renders_and_every_sms_fits_one_segment(kind, channel):
    assert validate(kind, channel, DEFAULTS[(kind, channel)]) == []
    subject, body = render(DEFAULTS[(kind, channel)], sample_variables(kind))
    assert "ABCD-EFGH-JK" in body or (kind in ("new_work", "overdue") and "ABCD-EFGH-JK" in (subject or body))
    if channel == "email":
        assert subject


def test_a_template_with_an_unknown_variable_or_bad_syntax_is_refused():
    with pytest.raises(TemplateInvalid):
        validate("acknowledgment", "sms", Template(body="Kode {{ kode }} untuk {{ tidak_ada }}"))
    with pytest.raises(TemplateInvalid):
        validate("acknowledgment", "sms", Template(body="Kode {{ kode "))
    with pytest.raises(TemplateInvalid):
        validate("acknowledgment", "email", Template(body="tanpa subjek {{ kode }}"))


def test_an_edited_template_cannot_reach_python_objects():
    with pytest.raises(TemplateInvalid):
        validate("acknowledgment", "sms", Template(body="{{ kode.__class__.__mro__[1].__subclasses__() }}"))


def test_a_long_sms_template_is_stored_with_a_warning():
    warnings = validate("acknowledgment", "sms", Template(body="{{ kode }} " + "panjang " * 30))
    assert warnings and "segments" in warnings[0]


def test_sms_text_is_reduced_to_the_gsm_alphabet_and_segments_are_counted():
    assert to_gsm("“Kode” – *ABCD*…") == '"Kode" - ABCD...'
    assert sms_segments("a" * 160) == 1 and sms_segments("a" * 161) == 2 and sms_segments("a" * 306) == 2
    assert sms_segments("€" * 80) == 1 and sms_segments("€" * 81) == 2  # two septets each
    assert sms_segments("ꦲ" * 70) == 1 and sms_segments("ꦲ" * 71) == 2  # Javanese script: UCS-2


def test_a_planned_sms_is_in_the_gsm_alphabet():
    m = p.plan_message(
        uuid.uuid4(),
        "withdrawn",
        "complainant",
        p.Contact("sms", "+6281234567890"),
        Template(body="Pengaduan {{ kode }} dicabut — terima kasih"),
        {"kode": "ABCD", "kecamatan": "X"},
    )
    assert m.body == "Pengaduan ABCD dicabut - terima kasih" and m.subject is None


# -- step 12 ---------------------------------------------------------------------------------------------
def at_step_12(complainant: Complainant) -> model.Complaint:
    s = ComplaintSubmitted(
        submission_id=uuid.uuid4(),
        complaint_id=uuid.uuid4(),
        tracking_code="7KQ2-M9XD-4T",
        kecamatan="pegantenan",
        channel="sms",
        complainant=complainant,
        subject="Jalan rusak",
        description="Jalan desa rusak.",
        received_at=START,
        correlation_id=uuid.uuid4(),
    )
    state = model.replay(model.decide(model.Complaint(), c.RecordComplaint(submission=s), CAL))
    walk = [
        ("kasi", c.VerifyIdentity, {}),
        ("staf", c.Register, {"register_number": 1, "register_year": 2026}),
        ("camat", c.Dispose, {"unit": "pemerintahan", "instructions": "x"}),
        ("kasi", c.Clarify, {"explanation": "x"}),
        ("kasi", c.RequestLetter, {}),
        ("staf", c.DraftLetter, {"perihal": "Tanggapan", "body": "isi"}),
        ("sekcam", c.ReviewLetter, {"approved": True}),
        ("staf", c.DuplicateLetter, {}),
        (
            "camat",
            c.SignLetter,
            {"letter_number": "001/PENGADUAN/35.28.07/2026", "letter_sequence": 1, "letter_year": 2026},
        ),
    ]
    for role, cls, fields in walk:
        for e in model.decide(
            state, cls(actor=c.Actor(user_id=role, role=role, unit="pemerintahan"), at=START, **fields), CAL
        ):
            state = model.evolve(state, e, START, role)
    document = uuid.uuid4()
    issued = LetterDocumentIssued(
        message_id=document,
        complaint_id=state.complaint_id,
        kecamatan="pegantenan",
        document_id=document,
        letter_version=1,
        letter_number=state.letter_number,
        sha256="0" * 64,
        size=1,
        verify_url="http://x/v",
    )
    for e in model.decide(state, c.RecordLetterIssued(issued=issued), CAL) + model.decide(
        model.evolve(state, model.decide(state, c.RecordLetterIssued(issued=issued), CAL)[0]),
        c.ArchiveLetter(actor=c.Actor(user_id="staf", role="staf"), at=START),
        CAL,
    ):
        state = model.evolve(state, e, START, "staf")
    assert state.current_step == 12
    return state


def report(state: model.Complaint, state_name: str, kind: str = "response_letter") -> NotificationReport:
    return NotificationReport(
        message_id=uuid.uuid4(),
        delivery_id=uuid.uuid4(),
        complaint_id=state.complaint_id,
        kecamatan="pegantenan",
        source_event_id=uuid.uuid4(),
        kind=kind,
        channel="sms",
        recipient="+62812****890",
        state=state_name,
        provider="http-sms",
        provider_message_id="abc",
        provider_message_hash="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        error="nomor tidak valid" if state_name == "failed" else None,
        at=START,
    )


def send(state, **fields):
    return model.decide(state, c.SendResponse(actor=c.Actor(user_id="staf", role="staf"), at=START, **fields), CAL)


def test_sending_the_response_electronically_dispatches_it_and_the_providers_confirmation_closes_it():
    state = at_step_12(Complainant(name="Siti", phone="+6281234567890"))
    (dispatched,) = send(state)
    assert isinstance(dispatched, ResponseDispatched) and dispatched.letter_number == state.letter_number
    state = model.evolve(state, dispatched, START, "staf")
    assert state.status == "in_progress" and state.response_dispatched
    with pytest.raises(model.AlreadyDispatched):
        send(state)
    events = model.decide(state, c.RecordNotification(report=report(state, "sent")), CAL)
    assert [type(e) for e in events] == [NotificationSent, ResponseSent]
    # the receipt names the provider's message by its hash's start, never by the id (a WhatsApp id holds the number)
    assert events[1].receipt == "sms +62812****890, http-sms ref 9f86d081884c7d65" and events[1].channel == "sms"
    assert (events[0].provider_message_id, events[0].provider_message_hash) == (
        "abc",
        report(state, "sent").provider_message_hash,
    )
    for e in events:
        state = model.evolve(state, e, START, "notify")
    assert state.status == "closed" and state.outcome == "resolved"
    # a later report (the e-mail copy, a delivery receipt) only goes on the history
    later = model.decide(state, c.RecordNotification(report=report(state, "delivered")), CAL)
    assert len(later) == 1


def test_on_whatsapp_only_the_delivery_receipt_closes_step_12():
    state = at_step_12(Complainant(name="Siti", phone="+6281234567890"))
    state = model.evolve(state, send(state)[0], START, "staf")
    accepted = report(state, "sent").model_copy(update={"channel": "whatsapp", "provider": "whatsapp-cloud"})
    assert [type(e) for e in model.decide(state, c.RecordNotification(report=accepted), CAL)] == [NotificationSent]
    delivered = accepted.model_copy(update={"state": "delivered", "message_id": uuid.uuid4()})
    assert ResponseSent in [type(e) for e in model.decide(state, c.RecordNotification(report=delivered), CAL)]


def test_a_failed_send_is_on_the_history_and_staff_can_still_send_by_post():
    state = at_step_12(Complainant(name="Siti", phone="+6281234567890"))
    state = model.evolve(state, send(state)[0], START, "staf")
    (failed,) = model.decide(state, c.RecordNotification(report=report(state, "failed")), CAL)
    assert isinstance(failed, NotificationFailed) and failed.error == "nomor tidak valid"
    state = model.evolve(state, failed, START, "notify")
    assert state.status == "in_progress"
    (sent,) = send(state, channel="pos", receipt="Diterima oleh pengadu")
    assert isinstance(sent, ResponseSent) and sent.channel == "pos"


def test_a_complainant_without_any_contact_gets_the_letter_by_post_or_by_hand():
    state = at_step_12(Complainant(name="Siti"))
    with pytest.raises(model.NoContact):
        send(state)
    assert isinstance(send(state, channel="langsung")[0], ResponseSent)


# -- the texts citizens read: one formal-polite Indonesian (issue 16, item 6) ---------------------------------
CITIZEN_KINDS = [k for k in VARIABLES if "nama" in VARIABLES[k]]


@pytest.mark.parametrize("kind", CITIZEN_KINDS)
def test_citizens_are_addressed_yth_bapak_ibu_and_thanked_in_e_mails(kind):
    for channel in ("email", "whatsapp"):
        subject, body = render(DEFAULTS[(kind, channel)], sample_variables(kind))
        words = f"{subject or ''}\n{body}"
        assert body.startswith("Yth. Bapak/Ibu Siti Aminah"), (channel, body)
        assert "Anda" not in words and "Yth. Siti" not in words, (channel, words)
        # one term for the response (surat tanggapan; an office's answer is its tanggapan), the SOP's own words
        assert "jawab" not in words.lower() and "gratis" not in words.lower(), (channel, words)
    _, mail = render(DEFAULTS[(kind, "email")], sample_variables(kind))
    assert mail.endswith(
        "Atas perhatian Saudara, kami sampaikan terima kasih.\n\n"
        "Kecamatan Pegantenan\nLayanan pengaduan ini tidak dipungut biaya."
    )


def test_the_acknowledgment_promises_the_surat_tanggapan_free_of_charge():
    _, whatsapp = render(DEFAULTS[("acknowledgment", "whatsapp")], sample_variables("acknowledgment"))
    assert "Surat tanggapan kami kirimkan paling lambat 12 hari kerja. Layanan ini tidak dipungut biaya." in whatsapp
    _, mail = render(DEFAULTS[("acknowledgment", "email")], sample_variables("acknowledgment"))
    assert "Surat tanggapan kami kirimkan paling lambat 12 hari kerja sejak pengaduan diterima." in mail
    _, sms = render(DEFAULTS[("response_letter", "sms")], sample_variables("response_letter"))
    assert sms.startswith("Surat tanggapan atas pengaduan ABCD-EFGH-JK sudah terbit: https://")


def test_a_documents_request_names_what_and_by_when_and_that_the_complaint_closes_without_it():
    values = {**sample_variables("documents_requested"), "pesan": "Salinan KK yang terbaca", "batas": "4 Desember 2026"}
    for channel in ("email", "whatsapp"):
        _, body = render(DEFAULTS[("documents_requested", channel)], values)
        assert "kami memerlukan:\nSalinan KK yang terbaca" in body
        assert "Apabila dokumen tidak kami terima sampai 4 Desember 2026, pengaduan akan kami tutup." in body
    _, sms = render(DEFAULTS[("documents_requested", "sms")], values)
    assert sms == (
        "Pengaduan ABCD-EFGH-JK: mohon kirim Salinan KK yang terbaca. Bila tidak diterima s.d. 4 Desember 2026, "
        "pengaduan ditutup. -Kec. Pegantenan"
    )


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"pesan": "foto KTP yang jelas dan salinan Kartu Keluarga terbaru " * 3, "batas": "30 September 2026"},
        {"pesan": "X" * 200, "kecamatan": "Kangayan Timur Raya", "batas": "30 September 2026"},
    ],
)
def test_a_documents_request_by_sms_fits_one_segment(values):
    _, body = render(DEFAULTS[("documents_requested", "sms")], {**sample_variables("documents_requested"), **values})
    text = to_gsm(body)
    assert sms_segments(text) == 1 and len(text) <= 160, text
    assert "pengaduan ditutup" in text


def test_every_event_the_complainant_is_told_of_reaches_notify():
    """Each event with a message for the complainant (``COMPLAINANT_KIND``) is handed to ``notify.plan`` by the
    relay: ``workflow.MarkedDuplicate`` was planned in the tests (which call the handler) and never in a deployment,
    since the routing table did not name it."""
    from shared.contracts.routing import SUBSCRIPTIONS

    plan = next(s for s in SUBSCRIPTIONS if s.task == "notify.plan")
    assert sorted(kind.type for kind in p.COMPLAINANT_KIND if not plan.wants(kind.type)) == []


def test_every_step_that_hands_work_on_is_news_of_new_work_and_none_of_it_is_a_task_per_event():
    """The round plans the news of every event that gives a role new work (``NEW_WORK_EVENTS``): each completed step
    but the last (which hands nothing on) and the events that start a step again; the relay hands none of them to
    ``notify.plan`` for that (the complainant's events are, for their own messages)."""
    from services.notify.handlers.planning import NEW_WORK_EVENTS
    from shared.contracts.routing import SUBSCRIPTIONS
    from shared.contracts.workflow import (
        ComplaintReceived,
        ComplaintReopened,
        DispositionRedirected,
        DocumentsReceived,
        ResponseSent,
        StepCompleted,
    )
    from shared.events import registry

    steps = {kind for kind in registry._types.values() if issubclass(kind, StepCompleted)} - {ResponseSent}
    assert set(NEW_WORK_EVENTS) == steps | {
        ComplaintReceived,
        DocumentsReceived,
        DispositionRedirected,
        ComplaintReopened,
    }
    plan = next(s for s in SUBSCRIPTIONS if s.task == "notify.plan")
    handed = {kind for kind in NEW_WORK_EVENTS if plan.wants(kind.type)}
    assert handed == {ComplaintReceived, ComplaintReopened}  # the acknowledgment; the complainant told of a reopening
