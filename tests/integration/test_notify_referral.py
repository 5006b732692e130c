"""Issue #15 item 5, "a referral's two notifications", over real parts: the workflow's handlers append the
complaint's events to the event store on PostgreSQL (received, verified, registered, referred with a follow-up
time, then the receiving office's answer recorded by staff, or the scheduler's lapse when the time passes),
notify plans each event and sends it to the local protocol servers (devtools/sinks/: SMTP, the HTTP SMS
gateway, the WhatsApp Cloud API), and the complainant gets two messages, the referral and then its end.
The notify worker's reports come back to the workflow, which puts them on the complaint's history.

The texts themselves, every channel and the dates' time zone: tests/unit/test_notify_referral_texts.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.notify.bootstrap import bootstrap as notify_bootstrap
from services.notify.config import NotifySettings
from services.notify.handlers.planning import plan_event
from services.workflow import handlers
from services.workflow.domain.events import stream_id
from services.workflow.scheduler import LapsedReferrals
from shared.tanggal import format_tanggal
from tests.integration.test_notify import (  # noqa: F401 (the fixtures)
    PHONE,
    channel_env,
    clean_sinks,
    events_of,
    new_complaint,
    notify,
    rows_of,
    sinks,
    wf,
)
from tests.support.processes import wait_until

AGENCY = "Dinas PUPR Kabupaten Pamekasan"
ADDRESS = "Jl. Kabupaten No. 1, Pamekasan"
ANSWER = "Perbaikan jalan tersebut sudah masuk jadwal pemeliharaan Dinas PUPR pada Januari 2027."
WIB = ZoneInfo("Asia/Jakarta")
BASE = "https://pengaduan.example.id"  # channel_env's PENGADUAN_PUBLIC_BASE_URL


def act(wf, cid, action: str, role: str, version: int, **fields) -> int:
    """``role``.pegantenan performs ``action``; the complaint's new version."""
    state = handlers.act(
        wf,
        cid,
        action,
        fields,
        expected_version=version,
        user_id=f"{role}.pegantenan",
        role=role,
        unit="pemerintahan" if role == "kasi" else None,
        kecamatan="pegantenan",
        at=datetime.now(UTC),
        correlation_id=uuid.uuid4(),
    )
    return state.revision


def referred(wf, cid, **fields) -> int:
    """Verified, registered and referred by the Camat to the Dinas PUPR; the version after the referral."""
    version = act(wf, cid, "verify-identity", "kasi", 1)
    version = act(wf, cid, "register", "staf", version)
    return act(
        wf,
        cid,
        "refer",
        "camat",
        version,
        agency=AGENCY,
        agency_kind="opd",
        agency_address=ADDRESS,
        reason="Jalan kabupaten adalah kewenangan Dinas PUPR.",
        **fields,
    )


def last_event(wf, cid, type_: str):
    """The envelope of the complaint's last event, which must be of ``type_``."""
    last = wf.store.read_stream(stream_id(cid))[-1]
    assert last.type == type_
    return last


def follow_up_date(envelope) -> str:
    """The referral's follow-up date as the complainant should read it: in WIB, Pamekasan's time zone."""
    return format_tanggal(envelope.decode().follow_up_by.astimezone(WIB).date())


def test_a_referral_answered_by_the_office_makes_two_emails_and_both_are_on_the_complaints_history(
    wf, notify, clean_sinks, spawn
):
    spawn("worker", "workflow", "--concurrency", "1")  # it records notify's reports on the complaint's history
    email = f"siti.{uuid.uuid4().hex[:8]}@example.id"
    cid, code = new_complaint(wf, "web", email=email)
    version = referred(wf, cid, follow_up_working_days=5)
    referral = last_event(wf, cid, "workflow.ComplaintReferred")
    assert plan_event(notify, referral.event_id) >= 1  # planned and sent at once (staff may get one too)

    today = datetime.now(WIB).date()
    act(
        wf,
        cid,
        "record-referral-answer",
        "staf",
        version,
        answer=ANSWER,
        answered_on=today.isoformat(),
        reference="Surat 600/123/432.305/2026",
    )
    answer = last_event(wf, cid, "workflow.ReferralAnswered")
    plan_event(notify, answer.event_id)
    plan_event(notify, answer.event_id)  # the relay's task again: nothing sent twice

    mails = list(reversed(clean_sinks.messages("email", to=email)))  # oldest first
    # (.strip(): Python's parser keeps the space of a subject folded whole onto the next line, as a subject of
    # 70-78 characters is; mail programs drop it)
    assert [m["subject"].strip() for m in mails] == [
        f"Pengaduan {code} dilimpahkan kepada {AGENCY}",
        f"Tanggapan {AGENCY} atas pengaduan {code}",
    ]
    told, answered = (m["text"] for m in mails)
    assert f"Kami memantau pelimpahan ini sampai {follow_up_date(referral)}." in told
    assert "Tanggapan Dinas PUPR Kabupaten Pamekasan akan kami sampaikan kepada Bapak/Ibu." in told
    assert f"sudah memberikan tanggapan pada {format_tanggal(today)} (Surat 600/123/432.305/2026):" in answered
    assert ANSWER in answered and "pengaduan Bapak/Ibu kami tutup" in answered
    assert all(f"{BASE}/lacak/{code}" in text for text in (told, answered))
    rows = sorted(rows_of(notify, cid), key=lambda r: r["created_at"])
    assert [(r["kind"], r["channel"], r["state"]) for r in rows] == [
        ("referred", "email", "sent"),
        ("referral_answered", "email", "sent"),
    ]

    # the workflow puts both sends on the complaint's history (audience: the complainant)
    def reported():
        sent = [e for e in events_of(wf, cid) if e.type == "workflow.NotificationSent"]
        return len(sent) == 2 and sent

    sent = wait_until(reported, timeout=60, message="both reports on the complaint's history")
    assert sorted((e.kind, e.channel) for e in sent) == [("referral_answered", "email"), ("referred", "email")]
    assert all(e.recipient != email for e in sent)  # masked


def test_a_referral_the_office_did_not_answer_in_time_makes_two_sms(wf, notify, clean_sinks):
    cid, code = new_complaint(wf, "sms", email=None)
    referred(wf, cid, follow_up_working_days=1)
    referral = last_event(wf, cid, "workflow.ComplaintReferred")
    plan_event(notify, referral.event_id)

    follow_up_by = referral.decode().follow_up_by
    LapsedReferrals(wf, clock=lambda: follow_up_by - timedelta(minutes=1)).round()
    last_event(wf, cid, "workflow.ComplaintReferred")  # not yet
    LapsedReferrals(wf, clock=lambda: follow_up_by + timedelta(minutes=1)).round()  # the scheduler's round
    lapsed = last_event(wf, cid, "workflow.ReferralLapsed")
    plan_event(notify, lapsed.event_id)

    texts = [m["text"] for m in reversed(clean_sinks.messages("sms")) if code in m["text"]]  # oldest first
    assert texts == [
        f"Pengaduan {code} dilimpahkan ke {AGENCY}, dipantau s.d. {follow_up_date(referral)}. {BASE}/lacak/{code}",
        (
            f"Pengaduan {code} ditutup: Dinas PUPR Kabupaten... belum menanggapi. Silakan hubungi langsung. "
            f"{BASE}/lacak/{code}"
        ),
    ]
    assert all(len(text) <= 160 for text in texts)
    rows = sorted(rows_of(notify, cid), key=lambda r: r["created_at"])
    assert [(r["kind"], r["recipient"], r["state"]) for r in rows] == [
        ("referred", PHONE, "sent"),
        ("referral_lapsed", PHONE, "sent"),
    ]
    assert rows[1]["variables"]["alamat_instansi"] == ADDRESS  # in the e-mail and WhatsApp texts
    assert rows[1]["variables"]["surat_pelimpahan"] == referral.decode().letter_number


@pytest.fixture
def notify_with_templates(settings, channel_env):
    """Notify where Meta approved WhatsApp templates for the referral's kinds."""
    env = {k.removeprefix("PENGADUAN_").lower(): v for k, v in channel_env.items()}
    templates = {"referred": "pelimpahan", "referral_lapsed": "pelimpahan_berakhir"}
    container = notify_bootstrap(NotifySettings(**{**settings.model_dump(), **env, "whatsapp_templates": templates}))
    yield container
    container.engine.dispose()


def test_on_whatsapp_the_two_messages_are_the_approved_templates(wf, notify_with_templates, clean_sinks):
    cid, code = new_complaint(wf, "whatsapp", email=None)
    referred(wf, cid, follow_up_working_days=1)
    referral = last_event(wf, cid, "workflow.ComplaintReferred")
    plan_event(notify_with_templates, referral.event_id)
    follow_up_by = referral.decode().follow_up_by
    LapsedReferrals(wf, clock=lambda: follow_up_by + timedelta(minutes=1)).round()
    plan_event(notify_with_templates, last_event(wf, cid, "workflow.ReferralLapsed").event_id)

    sent = [m for m in reversed(clean_sinks.messages("whatsapp")) if code in m["text"]]
    assert [m["subject"] for m in sent] == ["template pelimpahan (id)", "template pelimpahan_berakhir (id)"]
    # the parameters, one a line as the sink keeps them: the kind's variables in order
    assert sent[0]["text"].split("\n") == [
        "Siti Aminah",
        code,
        "Pegantenan",
        AGENCY,
        "Jalan kabupaten adalah kewenangan Dinas PUPR.",
        f"{BASE}/lacak/{code}",
    ]
    assert sent[1]["text"].split("\n") == [
        "Siti Aminah",
        code,
        "Pegantenan",
        AGENCY,
        ADDRESS,
        referral.decode().letter_number,
        follow_up_date(referral),
        f"{BASE}/lacak/{code}",
    ]
